package session

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// seenEvery is how often a session's last use is written to the store: at
// most once per this interval per session on each instance, so that the
// idle timeout costs no store write on most requests. A session therefore
// ends between the idle timeout and the idle timeout + seenEvery after its
// last use, never before.
const seenEvery = time.Minute

// seenKey is the store key of the last use of the session filed under
// key (itself a one-way hash of the session id).
//
// The last use is kept apart from the session record on purpose: a write
// of it that races a logout or a revocation on another instance then
// leaves a stray timestamp behind, whereas rewriting the record itself
// would bring the ended session back.
func seenKey(key string) string { return "seen-" + key }

// checkIdle applies the idle timeout to the session s filed under key: it
// reports false (and ends the session) when it has gone unused too long.
// With use Used it records this use when the last recorded one is
// seenEvery old, with Extend it records it now, with Peek never; now is
// the caller's clock reading. It returns the last recorded use, this one
// if it recorded it.
func (m *Manager) checkIdle(ctx context.Context, key string, s Session, use Use, now time.Time) (time.Time, bool, error) {
	seen, err := m.lastSeen(ctx, m.st, key, s)
	if err != nil {
		m.storeFailed(ctx, "get", err)
		return seen, false, err
	}
	if !seen.IsZero() && m.idleExpired(seen, now) {
		// The copy read may be up to cache_ttl old; another instance may
		// have recorded a later use since. Decide on the store's own copy.
		if seen, err = m.lastSeen(ctx, m.raw, key, s); err != nil {
			m.storeFailed(ctx, "get", err)
			return seen, false, err
		}
		if !seen.IsZero() && m.idleExpired(seen, now) {
			// end tells StoreFailed of its own failures; the session
			// is not handed out either way.
			_ = m.end(ctx, m.st, key, s, true)
			if f := m.hooks.IdleExpired; f != nil {
				f(ctx)
			}
			return seen, false, nil
		}
	}
	record := use == Extend || (use == Used && now.Sub(seen) >= seenEvery && m.seen.claim(key, now))
	if record {
		if use == Extend {
			m.seen.claimNow(key, now)
		}
		if err := m.st.Put(ctx, seenKey(key), []byte(strconv.FormatInt(now.UnixMilli(), 10)), s.Expires.Sub(now)); err != nil {
			// The session is still good; the next request tries again.
			m.seen.release(key)
			m.storeFailed(ctx, "put", err)
			return seen, true, nil
		}
		seen = now
	}
	return seen, true, nil
}

// idleExpired reports whether a session last used at seen has been idle
// too long at now. The recorded use may be up to seenEvery older than the
// real one, so the timeout is counted from seen + seenEvery: a session is
// never ended early.
func (m *Manager) idleExpired(seen, now time.Time) bool {
	return !now.Before(seen.Add(seenEvery + m.idle))
}

// lastSeen is the session's last recorded use: its seen key, or else its
// login. It is zero for a record made before the idle timeout existed,
// which is not ended for an idleness nobody recorded; its use is recorded
// from now on.
func (m *Manager) lastSeen(ctx context.Context, st store.Store, key string, s Session) (time.Time, error) {
	v, err := st.Get(ctx, seenKey(key))
	if err == nil {
		if ms, perr := strconv.ParseInt(string(v), 10, 64); perr == nil {
			return time.UnixMilli(ms), nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return time.Time{}, err
	}
	return s.Login, nil
}

// seenWrites remembers when this instance last wrote each session's last
// use, so that concurrent requests of one session, which all read the same
// old value, write it once.
type seenWrites struct {
	mu     sync.Mutex
	at     map[string]time.Time
	pruned time.Time
}

func newSeenWrites() *seenWrites { return &seenWrites{at: make(map[string]time.Time)} }

// claim reports whether the caller is to write key's last use now: no
// write of it happened within seenEvery.
func (w *seenWrites) claim(key string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if last, ok := w.at[key]; ok && now.Sub(last) < seenEvery {
		return false
	}
	// Entries older than seenEvery decide nothing any more; dropping them
	// once per interval keeps the map to the sessions active in the last
	// minute.
	if now.Sub(w.pruned) >= seenEvery {
		for k, t := range w.at {
			if now.Sub(t) >= seenEvery {
				delete(w.at, k)
			}
		}
		w.pruned = now
	}
	w.at[key] = now
	return true
}

// claimNow notes a write of key's last use made now, whatever the last.
func (w *seenWrites) claimNow(key string, now time.Time) {
	w.mu.Lock()
	w.at[key] = now
	w.mu.Unlock()
}

// release forgets a claim whose write failed, so the next request retries.
func (w *seenWrites) release(key string) {
	w.mu.Lock()
	delete(w.at, key)
	w.mu.Unlock()
}
