package caddysgid

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/sessiontest"
	"github.com/caddy-sgid/caddy-sgid/internal/upgrade"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// Helpers shared by the tests and benchmarks of this package.

// --- Keys and clocks ---------------------------------------------------------

// testKey makes an RSA key, for a client or a provider, and its PEM text.
func testKey(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// memoryScope opens a fresh scope of a memory store, closed with the test.
func memoryScope(tb testing.TB) store.Store {
	tb.Helper()
	st, err := (&store.Memory{MaxEntries: store.DefaultMaxEntries}).Open(storetest.RandomKey(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// unitHandler sets h up as Provision would, without Caddy and without a
// client: defaults, cookies, guard, and sessions on st (a fresh memory
// scope when nil) dated by now (time.Now when nil).
func unitHandler(tb testing.TB, h *Handler, st store.Store, now func() time.Time) *Handler {
	tb.Helper()
	if h.logger == nil {
		h.logger = zap.NewNop()
	}
	applyDefaults(h)
	h.cookies = cookie.NewJar(h.CookieName, h.CookieSecure)
	h.nestingReported = new(atomic.Bool)
	h.gate = cmp.Or(h.Guard, new(Guard))
	if err := h.gate.setup(caddy.Context{}, h.ErrorPath, h.AuthURLPath); err != nil {
		tb.Fatal(err)
	}
	if err := h.gate.validate(nil); err != nil {
		tb.Fatal(err)
	}
	var err error
	if h.identity, err = identityRules(h); err != nil {
		tb.Fatal(err)
	}
	if st == nil {
		st = memoryScope(tb)
	}
	h.st = st
	h.upgrades = upgrade.New(time.Duration(*h.CacheTTL), h.sessionAlive, h.logger)
	o := sessionOptions(h, st, st)
	o.Now = now
	h.sessions = session.New(o)
	tb.Cleanup(h.sessions.Close)
	h.gate.profilesURL = h.ProfilesPath
	h.spa = h.spaRoutes()
	return h
}

// testPut stores s as a new session of h, as a finished login would, and
// returns its id.
func testPut(h *Handler, s session.Session) (string, error) {
	return sessiontest.Put(context.Background(), h.sessions, s)
}

// lookupID is the live session of id, as the handler finds it for a
// request carrying it in its session cookie.
func lookupID(tb testing.TB, h *Handler, id string) (*session.Opened, error) {
	return sessiontest.Lookup(tb.Context(), h.sessions, h.CookieName, id)
}

// putTestSession is testPut for a test that stops when it fails.
func putTestSession(tb testing.TB, h *Handler, s session.Session) string {
	tb.Helper()
	id, err := testPut(h, s)
	if err != nil {
		tb.Fatalf("creating a session: %v", err)
	}
	return id
}

// countingStore counts the calls the handler makes to its session store,
// and apart the Puts of keys starting with prefix, as a store that charges
// per write would. With gate set, each Get of such a key waits at the gate,
// so that concurrent requests all read before any writes.
type countingStore struct {
	store.Store
	get, put, del, putIfAbsent atomic.Int64
	prefix                     string
	prefixPuts                 atomic.Int64
	gate                       *sync.WaitGroup
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.get.Add(1)
	v, err := s.Store.Get(ctx, key)
	if g := s.gate; g != nil && strings.HasPrefix(key, s.prefix) {
		g.Done()
		g.Wait()
	}
	return v, err
}

func (s *countingStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.put.Add(1)
	if s.prefix != "" && strings.HasPrefix(key, s.prefix) {
		s.prefixPuts.Add(1)
	}
	return s.Store.Put(ctx, key, value, ttl)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.del.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *countingStore) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	s.putIfAbsent.Add(1)
	return s.Store.PutIfAbsent(ctx, key, value, ttl)
}

// --- In-process handlers, without Caddy --------------------------------------

// benchHandler is a handler with defaults and an in-memory store holding
// one session for a typical user, and the cookie naming it.
func benchHandler(b testing.TB) (*Handler, *http.Cookie) {
	h := unitHandler(b, &Handler{}, nil, nil)
	persona := sgidtest.DefaultPersonas()[0]
	data := map[string]string{"myinfo.name": persona.Data["myinfo.name"], "myinfo.email": persona.Data["myinfo.email"], "iceCream": "Vanilla"}
	id := putTestSession(b, h, session.Session{Sub: persona.Sub, Data: data, Expires: time.Now().Add(time.Hour)})
	return h, &http.Cookie{Name: h.CookieName, Value: id}
}

// testGuardHandler is a handler with defaults, an in-memory store and the
// given guard, provisioned as Caddy would.
func testGuardHandler(t testing.TB, g *Guard) *Handler {
	t.Helper()
	return unitHandler(t, &Handler{Guard: g}, nil, nil)
}

// serve runs one request through the handler as Caddy would, with a
// replacer in the context.
func serve(b testing.TB, h *Handler, req *http.Request, next caddyhttp.Handler) int {
	req = req.WithContext(contextWithReplacer(req))
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, req, next); err != nil {
		b.Fatal(err)
	}
	return w.Code
}

func contextWithReplacer(req *http.Request) context.Context {
	return context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
}

func withReplacer(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

var okNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
})

var guardNext = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
})

// --- Caddy with the sgid handler in front of a fake sgID ---------------------

// --- A browser talking to that Caddy -----------------------------------------

// protectsPath reports whether g protects r's path, read as the guard
// reads it once per request.
func protectsPath(g *Guard, r *http.Request) bool {
	p := pathview.Read(r.URL)
	return pathview.Covered(g.Protect, g.exempt, r, &p)
}

// browser is what a browser sends about where a request comes from.
type browser struct {
	site, mode, dest, origin string
}

func (b browser) set(r *http.Request) {
	for k, v := range map[string]string{"Sec-Fetch-Site": b.site, "Sec-Fetch-Mode": b.mode, "Sec-Fetch-Dest": b.dest, "Origin": b.origin} {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
}

var (
	sameOriginFetch = browser{site: "same-origin", mode: "cors", dest: "empty", origin: "http://app.example"}
	siblingFetch    = browser{site: "same-site", mode: "cors", dest: "empty", origin: "https://evil.app.example"}
	siblingForm     = browser{site: "same-site", mode: "navigate", dest: "document", origin: "https://evil.example"}
	siblingImage    = browser{site: "same-site", mode: "no-cors", dest: "image"}
	crossSiteFrame  = browser{site: "cross-site", mode: "navigate", dest: "iframe"}
	typedAddress    = browser{site: "none", mode: "navigate", dest: "document"}
	oldBrowserPost  = browser{origin: "https://evil.app.example"}
	oldBrowserSame  = browser{origin: "http://app.example"}
	curl            = browser{}
)

// passOn runs req through h in front of a next handler that answers 204,
// and returns the answer and the value of header the next handler got
// ("" when h answered itself).
func passOn(t *testing.T, h *Handler, req *http.Request, header string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	var got string
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		got = r.Header.Get(header)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, req, next); err != nil {
		t.Fatal(err)
	}
	return w, got
}
