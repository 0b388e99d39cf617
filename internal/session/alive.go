package session

import (
	"context"
	"errors"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// Alive reports whether the session of id still lives, for a caller that
// holds something open on its behalf (an upgraded connection) rather than
// serving a request of its user. It differs from Lookup in two ways: it
// reads the store without its cache, so that a logout or revocation on
// another instance is seen at once, and it records no use, so that holding
// a connection open does not keep the session from its idle timeout. A
// session found idle too long is ended, as Lookup would. The error is set
// only when the store could not answer.
func (m *Manager) Alive(ctx context.Context, id string) (bool, error) {
	if !ValidID(id) {
		return false, nil
	}
	now := m.now()
	o, gone, err := m.remembered(ctx, m.raw, id, now)
	if gone || err != nil {
		return false, err
	}
	var s Session
	key := Key(id)
	if o != nil {
		s = o.Session
	} else {
		sealed, err := m.raw.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			m.storeFailed(ctx, "get", err)
			return false, err
		}
		if s, err = open(id, sealed); err != nil {
			return false, nil
		}
	}
	if !now.Before(s.Expires) {
		return false, nil
	}
	if m.idle > 0 {
		_, ok, err := m.checkIdle(ctx, key, s, Peek, now)
		return ok, err
	}
	return true, nil
}
