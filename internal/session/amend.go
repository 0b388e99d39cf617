package session

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// Amend replaces the live session o, which Lookup returned for the browser
// of r, by one that holds data: the same user, login time and expiry,
// under a new id. The new session is filed in its user's index, counts as
// used now for the idle timeout, and is what the session cookie set on w
// names; o ends as a logout ends it (its upgraded connections close). It
// returns the new session, opened.
//
// The session moves to a new id, rather than its record being rewritten
// in place, because
//
//   - the store has no compare-and-swap: a rewrite racing a logout or a
//     revocation on another instance could bring the ended record back,
//     outside the index that revocation reads (the reason the last use is
//     kept apart from the record, see seenKey);
//   - other instances serve the old record from their read cache for up
//     to cache_ttl, whereas a new key is read from the store at its first
//     use there, so every instance sees the change at once;
//   - what was opened under the old data, such as an upgraded connection
//     carrying the old identity upstream, ends with it.
//
// A request of the same browser sent with the old cookie while this runs
// finds no session. Amend returns ErrSessionGone when the store, read
// without its cache, no longer holds the record o was opened from (a
// logout, a revocation or another Amend came first), so that a change
// never brings back a session ended on another instance.
func (m *Manager) Amend(ctx context.Context, w http.ResponseWriter, r *http.Request, o *Opened, data map[string]string) (*Opened, error) {
	same, err := store.Same(ctx, m.raw, o.Key, o.sealed)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrSessionGone
	case err != nil:
		m.storeFailed(ctx, "get", err)
		return nil, err
	case !same:
		return nil, ErrSessionGone
	}
	now := m.now()
	s := o.Session
	if !now.Before(s.Expires) {
		return nil, ErrSessionGone
	}
	s.Data = data
	id := NewID()
	key := Key(id)
	ttl := s.Expires.Sub(now)
	if m.idle > 0 {
		// Without a last use of its own, the new session's idle time
		// would count from the login.
		if err := m.st.Put(ctx, seenKey(key), []byte(strconv.FormatInt(now.UnixMilli(), 10)), ttl); err != nil {
			m.storeFailed(ctx, "put", err)
			return nil, err
		}
		m.seen.claimNow(key, now)
	}
	sealed, created, err := m.createRecord(ctx, id, s, m.deviceOf(ctx, o.Key, s.Sub, o.sealed))
	if err != nil {
		return nil, err
	}
	if !created {
		// 256 random bits are never drawn twice; nothing is stored.
		return nil, ErrSessionGone
	}
	if err := m.endRecord(ctx, m.st, o.Key, s.Login, true); err != nil {
		// o lives on, unchanged, in the browser: the new one goes.
		_ = m.end(ctx, m.st, key, s, true)
		return nil, err
	}
	// o has ended; an index entry left behind costs a revocation one
	// write of an ended mark, and unindex tells StoreFailed.
	_ = m.unindex(ctx, m.st, o.Key, s.Sub)
	m.cookies.Set(w, r, m.cookies.Name, id, ttl)
	next := &Opened{ID: id, Key: key, Session: s, View: m.prepare(s), sealed: sealed}
	m.memo.put(next, now)
	return next, nil
}
