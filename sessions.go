package caddysgid

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// minSealingKey is the shortest sealing_key accepted, in bytes.
const minSealingKey = 32

// provisionStore loads the configured session store (Caddy's storage when
// none is configured), opens this site's scope in it, and sets up the
// keyring that seals login cookies with keys kept in the same store.
func (h *Handler) provisionStore(ctx caddy.Context) error {
	if h.StoreRaw != nil {
		mod, err := ctx.LoadModule(h, "StoreRaw")
		if err != nil {
			return fmt.Errorf("sgid: store: %v", err)
		}
		h.backend = mod.(store.Backend)
	} else {
		def := new(store.Storage)
		if err := def.Provision(ctx); err != nil {
			return fmt.Errorf("sgid: store: %v", err)
		}
		h.ownStore, h.backend = def, def
	}
	st, err := h.backend.Open(h.scope())
	if err != nil {
		return fmt.Errorf("sgid: store: %v", err)
	}
	h.rawStore = st
	// A shared store is read through a short-lived in-process cache, so a
	// logged-in request costs no round trip; the memory store is local
	// already.
	if _, local := h.backend.(*store.Memory); !local {
		st = store.Cached(st, time.Duration(*h.CacheTTL), 0)
	}
	h.store = st
	var secret []byte
	if h.SealingKey != "" {
		secret = []byte(h.SealingKey)
	}
	h.keys = newKeyring(st, secret, time.Duration(h.KeyRotation), time.Duration(h.LoginTimeout))
	h.index = newSessionIndex(st, secret)
	h.seen = newSeenWrites()
	h.watchEvictions()
	if err := h.provisionClock(); err != nil {
		return err
	}
	h.keys.now = h.now
	return nil
}

// scope names this site's records in the store: sessions are valid for the
// same sgID client at the same provider under the same cookie, whichever
// instance or config made them, and for nothing else.
func (h *Handler) scope() string {
	return hashJSON(h.client.Issuer(), h.ClientID, h.CookieName)
}

// watchEvictions counts the sessions a bounded store (memory) drops to
// stay within its bound, under this handler's site.
func (h *Handler) watchEvictions() {
	if mem, ok := h.rawStore.(evictionReporter); ok {
		m, site := h.metrics, h.site
		mem.OnEvict(func() { m.evicted(site) })
	}
}

func (h *Handler) closeStore() {
	if h.clockKey != "" {
		_, _ = clocks.Delete(h.clockKey)
	}
	if h.store != nil {
		_ = h.store.Close()
	}
	if h.ownStore != nil {
		_ = h.ownStore.Cleanup()
	}
}

// lookupSession returns the logged-in session named by the request's
// session cookie (nil when there is none), and that cookie's id (also when
// no session is found, so the callback can drop a stale one). The error is
// set only when the store could not answer: the caller must then not say
// "logged out". The record is read from the store on every call; only its
// opening is skipped when the memo holds the same record (see
// openedSessions).
func (h *Handler) lookupSession(r *http.Request) (*openedSession, string, error) {
	c, err := h.cookie(r, h.CookieName)
	if err != nil || !validID(c.Value) {
		return nil, "", nil
	}
	id := c.Value
	key := sessionKey(id)
	sealed, err := h.store.Get(r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		h.opened.drop(key)
		return nil, id, nil
	}
	if err != nil {
		h.storeFailed(r, "get", err)
		return nil, id, err
	}
	now := h.now()
	o := h.opened.get(key, sealed, now)
	if o == nil {
		s, err := openSession(id, sealed)
		if err != nil {
			return nil, id, nil
		}
		o = newOpenedSession(sealed, s, h.guard)
		if now.Before(s.Expires) {
			h.opened.put(key, o, now)
		}
	}
	if !now.Before(o.s.Expires) {
		return nil, id, nil
	}
	if h.SessionIdleTimeout > 0 {
		ok, err := h.checkIdle(r, id, o.s)
		if err != nil {
			return nil, id, err
		}
		if !ok {
			h.opened.drop(key)
			return nil, id, nil
		}
	}
	return o, id, nil
}

// readSession reads and opens the live session of id from st; found is
// false when there is none (unknown, expired, or a record that does not
// open).
func (h *Handler) readSession(ctx context.Context, st store.Store, id string) (session, bool, error) {
	sealed, err := st.Get(ctx, sessionKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return session{}, false, nil
	}
	if err != nil {
		return session{}, false, err
	}
	s, err := openSession(id, sealed)
	if err != nil || !h.now().Before(s.Expires) {
		return session{}, false, nil
	}
	return s, true, nil
}

// putSession stores a new session, dated now, and files it in its user's
// index; it returns the session's id, the value of the session cookie.
func (h *Handler) putSession(ctx context.Context, s session) (string, error) {
	id := newID()
	if s.Login.IsZero() {
		s.Login = h.now()
	}
	sealed, err := sealSession(id, s)
	if err != nil {
		return "", err
	}
	ttl := s.Expires.Sub(h.now())
	if err := h.store.Put(ctx, sessionKey(id), sealed, ttl); err != nil {
		return "", err
	}
	// A session missing from the index could not be revoked, so it is not
	// handed out.
	if err := h.indexSession(ctx, s.Sub, sessionKey(id), ttl); err != nil {
		_ = h.store.Delete(ctx, sessionKey(id))
		return "", err
	}
	return id, nil
}

// deleteSession ends the session of id: its record, its seen key and its
// entry in its user's index (found by opening the record).
func (h *Handler) deleteSession(ctx context.Context, id string) error {
	s, found, err := h.readSession(ctx, h.store, id)
	if err != nil {
		return err
	}
	return h.endSession(ctx, h.store, sessionKey(id), s.Sub, found)
}

// endSession deletes the record filed under key and its seen key, and,
// when sub is known, takes key out of the user's index.
func (h *Handler) endSession(ctx context.Context, st store.Store, key, sub string, known bool) error {
	h.opened.drop(key)
	if err := st.Delete(ctx, key); err != nil {
		return err
	}
	if err := st.Delete(ctx, seenKey(key)); err != nil {
		return err
	}
	if !known {
		return nil
	}
	set, err := h.index.set(ctx, sub)
	if err != nil {
		return err
	}
	return st.RemoveMember(ctx, set, key)
}

// claimLogin marks the login of state as finished in the store, so that
// its callback is taken once across every instance sharing the store, also
// by someone who copied the login cookie. It reports false when the login
// was claimed before.
func (h *Handler) claimLogin(ctx context.Context, state string, until time.Time) (bool, error) {
	mark := make([]byte, 16)
	if _, err := rand.Read(mark); err != nil {
		return false, err
	}
	key := "used-" + pendingCookieSuffix(state)
	got, err := h.store.PutIfAbsent(ctx, key, mark, until.Sub(h.now())+time.Minute)
	if err != nil {
		return false, err
	}
	return string(got) == string(mark), nil
}

// storeFailed logs an unreachable or failing store at WARN with its cause
// (never a key or value) and counts it.
func (h *Handler) storeFailed(r *http.Request, op string, err error) {
	h.metrics.storeError(siteOf(r), op)
	if ce := h.logger.Check(zap.WarnLevel, "sgid session store failed"); ce != nil {
		ce.Write(zap.String("operation", op), zap.Error(err), zap.String("request_id", requestID(r)))
	}
}

// writeUnavailable answers a request that needs the session store while it
// cannot be reached: 503, not 401, so nobody is told "logged out" when
// they are not.
func writeUnavailable(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "5")
	return writeError(w, http.StatusServiceUnavailable, "store_unavailable", "The session store cannot be reached; try again shortly.")
}

// clocks keeps one clock per scope across reloads. The handler dates
// logins and sessions with it; tests move a running site's clock.
var clocks = caddy.NewUsagePool()

type siteClock struct {
	f atomic.Pointer[func() time.Time]
}

func (c *siteClock) now() time.Time { return (*c.f.Load())() }

func (c *siteClock) set(f func() time.Time) { c.f.Store(&f) }

func (*siteClock) Destruct() error { return nil }

// provisionClock takes the scope's clock, so that h.now reads it.
func (h *Handler) provisionClock() error {
	v, _, err := clocks.LoadOrNew(h.scope(), func() (caddy.Destructor, error) {
		c := new(siteClock)
		c.set(time.Now)
		return c, nil
	})
	if err != nil {
		return err
	}
	h.clockKey = h.scope()
	h.now = v.(*siteClock).now
	return nil
}
