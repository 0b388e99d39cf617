// Package sessiontest makes and finds sessions through a session Manager's
// whole operations, for tests of the packages above it that need a
// logged-in user without going through sgID.
package sessiontest

import (
	"context"
	"net/http"
	"net/http/httptest"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// Put stores s through m as a finished login would (its Expires, when
// zero, is the session lifetime from now) and returns its id.
func Put(ctx context.Context, m *session.Manager, s session.Session) (string, error) {
	id := session.NewID()
	_, err := m.Finish(ctx, httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), session.Login{SessionID: id}, s)
	return id, err
}

// Lookup is the live session m finds for a request whose session cookie,
// named name, holds id.
func Lookup(ctx context.Context, m *session.Manager, name, id string) (*session.Opened, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: name, Value: id})
	return m.Lookup(ctx, r)
}
