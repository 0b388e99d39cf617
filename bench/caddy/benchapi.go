package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/bench/scale"
	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/store"
)

func init() {
	caddy.RegisterModule(benchAPI{})
}

// benchAPI is the admin.api.sgid_bench module: routes under /sgid-bench/
// on Caddy's admin endpoint that the scale pair calls to fill a site's
// session store with sessions, revoke a user and time the expiry of
// sessions. It opens the site's store the way the handler does, from the
// same store configuration and scope (the memory store's table, the
// storage folder and the Redis keys are the site's own), and writes
// through a session.Manager: the calls a login makes (Create: the sealed
// record, its claim, the user's index entry) and the call the admin API's
// revocation makes (Revoke of a user's sessions).
type benchAPI struct{}

// CaddyModule returns the Caddy module information.
func (benchAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.sgid_bench",
		New: func() caddy.Module { return new(benchAPI) },
	}
}

// Routes returns the benchmark's routes.
func (benchAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{
		{Pattern: scale.FillPath, Handler: post(serveFill)},
		{Pattern: scale.RevokePath, Handler: post(serveRevoke)},
		{Pattern: scale.ExpirePath, Handler: post(serveExpire)},
	}
}

// Durations of the sites the benchmark configures (the handler's
// defaults).
const (
	loginTimeout = 10 * time.Minute
	keyRotation  = 24 * time.Hour
)

// open opens the target's scope as the handler opens it, and returns a
// function that releases what it opened.
func open(t scale.Target) (store.Store, func(), error) {
	var name struct{ Module string }
	if err := json.Unmarshal(t.Store, &name); err != nil || name.Module == "" {
		return nil, nil, fmt.Errorf("store: want {\"module\": ...}, got %.100q", t.Store)
	}
	info, err := caddy.GetModule(store.Namespace + "." + name.Module)
	if err != nil {
		return nil, nil, err
	}
	mod := info.New()
	if err := json.Unmarshal(t.Store, mod); err != nil {
		return nil, nil, err
	}
	if p, ok := mod.(caddy.Provisioner); ok {
		// The storage store takes the running config's storage, the
		// site's own.
		if err := p.Provision(caddy.ActiveContext()); err != nil {
			return nil, nil, err
		}
	}
	backend, ok := mod.(store.Backend)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a session store", info.ID)
	}
	st, err := backend.Open(t.Scope)
	if err != nil {
		return nil, nil, err
	}
	return st, func() {
		_ = st.Close()
		if c, ok := mod.(caddy.CleanerUpper); ok {
			_ = c.Cleanup()
		}
	}, nil
}

// cookieName is the session cookie of the fills' Managers.
const cookieName = "sgid_session"

// manager is a session manager on st with the sites' settings.
func manager(st store.Store) *session.Manager {
	return session.New(session.Options{Store: st, LoginTimeout: loginTimeout, KeyRotation: keyRotation, Cookies: cookie.Jar{Name: cookieName}})
}

// fill creates the sessions of f through m, Concurrency at a time, and
// fails on the first error or on a session that existed already. Each
// session's login time is taken when it is made, so that its lifetime
// counts from then however long the fill takes (a fill of sessions that
// expire a second after their login can take longer than a second).
func fill(ctx context.Context, m *session.Manager, f *scale.Fill) (int, error) {
	var next atomic.Int64
	next.Store(int64(f.From))
	var created atomic.Int64
	var once sync.Once
	var first error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range f.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= f.To {
					return
				}
				login := time.Now().Add(-scale.Age(i, f.Spread))
				// Through the Manager's whole operation, as a login
				// finishes: record, index entry and keys.
				_, err := m.Finish(ctx, discard{}, bareRequest, session.Login{SessionID: scale.ID(f.Seed, i)}, session.Session{
					Sub:     scale.Sub(f.Seed, i/f.PerUser),
					Data:    f.Data,
					Login:   login,
					Expires: login.Add(f.Lifetime),
				})
				if errors.Is(err, session.ErrLoginFinished) {
					err = fmt.Errorf("session %d of fill %q exists already", i, f.Seed)
				}
				if err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				created.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(created.Load()), first
}

func serveFill(w http.ResponseWriter, r *http.Request) error {
	var f scale.Fill
	if err := decode(r, &f); err != nil {
		return err
	}
	if err := f.Check(); err != nil {
		return badRequest(err)
	}
	st, release, err := open(f.Target)
	if err != nil {
		return badRequest(err)
	}
	defer release()
	t0 := time.Now()
	n, err := fill(r.Context(), manager(st), &f)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("created %d: %w", n, err)}
	}
	return writeJSON(w, scale.FillAnswer{Created: n, Seconds: time.Since(t0).Seconds()})
}

func serveRevoke(w http.ResponseWriter, r *http.Request) error {
	var rv scale.Revoke
	if err := decode(r, &rv); err != nil {
		return err
	}
	if rv.Sub == "" {
		return badRequest(errors.New("sub is empty"))
	}
	st, release, err := open(rv.Target)
	if err != nil {
		return badRequest(err)
	}
	defer release()
	cs := &countingStore{Store: st}
	m := manager(cs)
	// The admin API's manager has its index key at hand; so does this
	// one before the call that is counted.
	if _, err := m.Revoke(r.Context(), session.UserSessions("sgid-bench-nobody")); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	cs.reset()
	t0 := time.Now()
	n, err := m.Revoke(r.Context(), session.UserSessions(rv.Sub))
	took := time.Since(t0)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	return writeJSON(w, scale.RevokeAnswer{Ended: n, Calls: cs.counts(), Seconds: took.Seconds()})
}

// counter is the memory store's exact count of sessions.
type counter interface{ MemberCount() int }

func serveExpire(w http.ResponseWriter, r *http.Request) error {
	var e scale.Expire
	if err := decode(r, &e); err != nil {
		return err
	}
	if e.Seed == "" || e.Count < 1 || e.TTL < 100*time.Millisecond || e.TTL > time.Minute {
		return badRequest(errors.New("want a seed, a count of at least 1 and a ttl of 100ms to 1m"))
	}
	st, release, err := open(e.Target)
	if err != nil {
		return badRequest(err)
	}
	defer release()
	c, ok := st.(counter)
	if !ok {
		return badRequest(errors.New("only the memory store counts, and sweeps, on demand"))
	}
	m := manager(st)
	before := c.MemberCount()
	// Lifetime - Spread = TTL: every session expires TTL after it was
	// made, the last one TTL after the fill returns.
	if _, err := fill(r.Context(), m, &scale.Fill{Seed: e.Seed, From: 0, To: e.Count, PerUser: 1, Data: e.Data, Lifetime: e.TTL, Concurrency: 4}); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	time.Sleep(e.TTL + 50*time.Millisecond)
	t0 := time.Now()
	if err := st.Put(r.Context(), "sgid-bench-expire-write", []byte{1}, time.Minute); err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	t1 := time.Now()
	after := c.MemberCount()
	t2 := time.Now()
	return writeJSON(w, scale.ExpireAnswer{Before: before, After: after, PutSeconds: t1.Sub(t0).Seconds(), SweepSeconds: t2.Sub(t1).Seconds()})
}

func post(f func(http.ResponseWriter, *http.Request) error) caddy.AdminHandler {
	return caddy.AdminHandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method != http.MethodPost {
			return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed: %s", r.Method)}
		}
		return f(w, r)
	})
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(fmt.Errorf("decoding the request: %w", err))
	}
	return nil
}

func badRequest(err error) error {
	return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// countingStore counts the calls made to the store it wraps, by method.
type countingStore struct {
	store.Store
	mu sync.Mutex
	n  map[string]int64
}

func (c *countingStore) count(op string) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[op]++
	c.mu.Unlock()
}

func (c *countingStore) reset() {
	c.mu.Lock()
	c.n = nil
	c.mu.Unlock()
}

func (c *countingStore) counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.count("Get")
	return c.Store.Get(ctx, key)
}

func (c *countingStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	c.count("Put")
	return c.Store.Put(ctx, key, value, ttl)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.count("Delete")
	return c.Store.Delete(ctx, key)
}

func (c *countingStore) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	c.count("PutIfAbsent")
	return c.Store.PutIfAbsent(ctx, key, value, ttl)
}

func (c *countingStore) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	c.count("Create")
	return c.Store.Create(ctx, key, value, ttl)
}

func (c *countingStore) AddMember(ctx context.Context, set, member string, ttl time.Duration) error {
	c.count("AddMember")
	return c.Store.AddMember(ctx, set, member, ttl)
}

func (c *countingStore) RemoveMember(ctx context.Context, set, member string) error {
	c.count("RemoveMember")
	return c.Store.RemoveMember(ctx, set, member)
}

func (c *countingStore) Members(ctx context.Context, set string) ([]string, error) {
	c.count("Members")
	return c.Store.Members(ctx, set)
}

func (c *countingStore) DeleteSet(ctx context.Context, set string) error {
	c.count("DeleteSet")
	return c.Store.DeleteSet(ctx, set)
}

func (c *countingStore) Sets(ctx context.Context) ([]string, error) {
	c.count("Sets")
	return c.Store.Sets(ctx)
}

// Interface guards
var (
	_ caddy.AdminRouter = benchAPI{}
	_ store.Store       = (*countingStore)(nil)
)

// discard is a ResponseWriter for the session cookie a fill's Finish
// sets: the fill has no browser to give it to.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// bareRequest is the request a fill's logins finish on: no cookies, so
// no earlier session to end.
var bareRequest = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}, Header: http.Header{}}
