package sites

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/sessiontest"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// memoryScope opens a fresh scope of a memory store, closed with the test.
func memoryScope(t *testing.T) store.Store {
	t.Helper()
	st, err := (&store.Memory{}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newManager is a session manager reading through st (a fresh memory
// scope when nil) and deciding on raw (st when nil).
func newManager(t *testing.T, st, raw store.Store) *session.Manager {
	return newScopedManager(t, st, raw, "")
}

// newScopedManager is newManager with the peers of scope (see
// session.Options.Scope), closed with the test.
func newScopedManager(t *testing.T, st, raw store.Store, scope string) *session.Manager {
	t.Helper()
	if st == nil {
		st = memoryScope(t)
	}
	m := session.New(session.Options{Store: st, Raw: raw, LoginTimeout: 10 * time.Minute, KeyRotation: time.Hour, Cookies: cookie.Jar{Name: cookieName}, Scope: scope})
	t.Cleanup(m.Close)
	return m
}

// putSession stores a session of sub through m and returns its id.
func putSession(t *testing.T, m *session.Manager, sub string) string {
	t.Helper()
	id, err := sessiontest.Put(t.Context(), m, session.Session{Sub: sub, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatalf("creating a session of %s: %v", sub, err)
	}
	return id
}

// cookieName is the session cookie of the tests' Managers.
const cookieName = "sgid_session"

// live reports whether m opens the session of id.
func live(t *testing.T, m *session.Manager, id string) bool {
	t.Helper()
	o, err := sessiontest.Lookup(t.Context(), m, cookieName, id)
	if err != nil {
		t.Fatal(err)
	}
	return o != nil
}

// recorder collects what a Registry's hooks are told.
type recorder struct {
	mu      sync.Mutex
	revoked map[string]int
	held    map[string]int
	ready   map[string]bool
}

func newRecorder() *recorder {
	return &recorder{revoked: map[string]int{}, held: map[string]int{}, ready: map[string]bool{}}
}

func (r *recorder) hooks() Hooks {
	return Hooks{
		Revoked: func(server string, n int) { r.mu.Lock(); r.revoked[server] += n; r.mu.Unlock() },
		Held:    func(server string, n int) { r.mu.Lock(); r.held[server] = n; r.mu.Unlock() },
		Ready:   func(server string, ok bool) { r.mu.Lock(); r.ready[server] = ok; r.mu.Unlock() },
	}
}

// call serves one admin request through reg and returns the status Caddy's
// admin endpoint would answer, the body written and the error's text.
func call(t *testing.T, reg *Registry, method, target string) (int, *httptest.ResponseRecorder, string) {
	t.Helper()
	w := httptest.NewRecorder()
	err := reg.ServeAdmin(w, httptest.NewRequest(method, target, nil))
	if err == nil {
		return w.Code, w, ""
	}
	var apiErr caddy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("%s %s: %v is not an APIError", method, target, err)
	}
	return apiErr.HTTPStatus, w, apiErr.Err.Error()
}

var errUnreachable = errors.New("store unreachable")

// failingStore fails every call, as a store that cannot be reached would.
type failingStore struct{}

func (failingStore) Get(context.Context, string) ([]byte, error) { return nil, errUnreachable }
func (failingStore) Put(context.Context, string, []byte, time.Duration) error {
	return errUnreachable
}
func (failingStore) Delete(context.Context, string) error { return errUnreachable }
func (failingStore) PutIfAbsent(context.Context, string, []byte, time.Duration) ([]byte, error) {
	return nil, errUnreachable
}
func (failingStore) Create(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errUnreachable
}
func (failingStore) AddMember(context.Context, string, string, time.Duration) error {
	return errUnreachable
}
func (failingStore) RemoveMember(context.Context, string, string) error { return errUnreachable }
func (failingStore) Members(context.Context, string) ([]string, error) {
	return nil, errUnreachable
}
func (failingStore) DeleteSet(context.Context, string) error { return errUnreachable }
func (failingStore) Sets(context.Context) ([]string, error)  { return nil, errUnreachable }
func (failingStore) Close() error                            { return nil }

// hangingStore answers nothing until the test ends, as a store behind a
// dropped network path would.
type hangingStore struct {
	failingStore
	release <-chan struct{}
}

func (s hangingStore) Put(context.Context, string, []byte, time.Duration) error {
	<-s.release
	return errUnreachable
}

func (s hangingStore) PutIfAbsent(context.Context, string, []byte, time.Duration) ([]byte, error) {
	<-s.release
	return nil, errUnreachable
}

func (s hangingStore) Get(context.Context, string) ([]byte, error) {
	<-s.release
	return nil, errUnreachable
}

// uncounted hides the memory store's exact count, as the storage and
// redis stores have none.
type uncounted struct{ store.Store }
