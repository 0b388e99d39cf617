package session

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// amendManager is a Manager with its cookies on st, as the handler builds
// it; edit, when set, changes the options first.
func amendManager(st store.Store, clk *testclock.Clock, edit func(*Options)) *Manager {
	return newManager(st, clk, func(o *Options) {
		o.Cookies = cookie.Jar{Name: "sgid_session"}
		o.Lifetime = 2 * time.Hour
		o.Prepare = func(s Session) any { return s.Data["job"] }
		if edit != nil {
			edit(o)
		}
	})
}

// loggedIn logs a browser in through m's operations as sub with data and
// returns the answer that set its session cookie.
func loggedIn(t *testing.T, m *Manager, sub string, data map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return loggedInFrom(t, m, "", sub, data)
}

// loggedInFrom is loggedIn from a browser that sends userAgent.
func loggedInFrom(t *testing.T, m *Manager, userAgent, sub string, data map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	ctx := t.Context()
	start := httptest.NewRecorder()
	st, err := m.StartLogin(ctx, start, browserRequest("/a"), LoginRequest{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(st.State), start))
	if err != nil {
		t.Fatal(err)
	}
	finish := httptest.NewRecorder()
	cb := browserRequest("/cb", start)
	if userAgent != "" {
		cb.Header.Set("User-Agent", userAgent)
	}
	if _, err := m.Finish(ctx, finish, cb, l, Session{Sub: sub, Data: data}); err != nil {
		t.Fatal(err)
	}
	return finish
}

// lookupFrom is the session the cookies w set name, or nil.
func lookupFrom(t *testing.T, m *Manager, w *httptest.ResponseRecorder) *Opened {
	t.Helper()
	o, err := m.Lookup(t.Context(), browserRequest("/", w))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Amend moves the session to a new id with the new data: the same user,
// login time and expiry; the cookie names the new one, the old id finds
// nothing, the index holds the new one (a revocation ends it), and the old
// session's end is told to the Ended hook (upgraded connections close).
func TestAmend(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	var ended []string
	m := amendManager(memoryScope(t, 100), clk, func(o *Options) { o.Hooks.Ended = func(key string) { ended = append(ended, key) } })
	ctx := t.Context()
	first := loggedIn(t, m, "alice", map[string]string{"myinfo.name": "A"})
	o := lookupFrom(t, m, first)
	clk.Advance(time.Minute)

	w := httptest.NewRecorder()
	next, err := m.Amend(ctx, w, browserRequest("/api/profiles/x", first), o, map[string]string{"myinfo.name": "A", "job": "two"})
	if err != nil {
		t.Fatal(err)
	}
	if next.ID == o.ID || next.Key != Key(next.ID) || next.View != "two" {
		t.Errorf("amended: %+v", next)
	}
	if s := next.Session; s.Sub != "alice" || !s.Login.Equal(o.Session.Login) || !s.Expires.Equal(o.Session.Expires) {
		t.Errorf("amended session %+v, want the user, login and expiry of %+v", s, o.Session)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "sgid_session" || cs[0].Value != next.ID || time.Duration(cs[0].MaxAge)*time.Second != o.Session.Expires.Sub(clk.Now()) {
		t.Fatalf("cookies %v, want the new id until the session's end", cs)
	}
	if got := lookupFrom(t, m, w); got == nil || got.Session.Data["job"] != "two" || got.View != "two" {
		t.Errorf("the new cookie finds %+v", got)
	}
	if got := lookupFrom(t, m, first); got != nil {
		t.Errorf("the old cookie still finds %+v", got)
	}
	if len(ended) != 1 || ended[0] != o.Key {
		t.Errorf("Ended told of %v, want the old key", ended)
	}
	if n := count(t, m); n != 1 {
		t.Errorf("%d sessions indexed, want 1", n)
	}
	if n, err := m.Revoke(ctx, UserSessions("alice")); err != nil || n != 1 || lookupFrom(t, m, w) != nil {
		t.Errorf("revoke after amend: %d, %v", n, err)
	}
}

// A session that ended, or was amended, since it was looked up is not
// amended: no new session, no cookie.
func TestAmendRefusesAGoneSession(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := amendManager(memoryScope(t, 100), clk, nil)
	ctx := t.Context()

	first := loggedIn(t, m, "bob", nil)
	o := lookupFrom(t, m, first)
	if _, err := m.Amend(ctx, httptest.NewRecorder(), browserRequest("/", first), o, map[string]string{"job": "one"}); err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if _, err := m.Amend(ctx, w, browserRequest("/", first), o, map[string]string{"job": "two"}); !errors.Is(err, ErrSessionGone) || len(w.Result().Cookies()) != 0 {
		t.Errorf("amending an amended session: %v, cookies %v", err, w.Result().Cookies())
	}

	second := loggedIn(t, m, "carol", nil)
	o = lookupFrom(t, m, second)
	if err := m.Logout(ctx, httptest.NewRecorder(), browserRequest("/", second), o); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Amend(ctx, w, browserRequest("/", second), o, nil); !errors.Is(err, ErrSessionGone) {
		t.Errorf("amending a logged-out session: %v", err)
	}

	third := loggedIn(t, m, "dave", nil)
	o = lookupFrom(t, m, third)
	clk.Advance(3 * time.Hour)
	if _, err := m.Amend(ctx, w, browserRequest("/", third), o, nil); !errors.Is(err, ErrSessionGone) {
		t.Errorf("amending an expired session: %v", err)
	}
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("a refused amend set cookies %v", w.Result().Cookies())
	}
}

// Another instance, reading the shared store through its cache, sees the
// amended session at once; and a copy of the old one still in its cache
// cannot be amended, so no change brings back a session ended elsewhere.
func TestAmendAcrossInstances(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	raw := memoryScope(t, 100)
	a := amendManager(raw, clk, nil)
	b := amendManager(store.Cached(raw, time.Minute, 0), clk, func(o *Options) { o.Raw = raw })
	ctx := t.Context()
	first := loggedIn(t, a, "erin", map[string]string{"job": "none"})
	old := lookupFrom(t, b, first) // b now holds the record in its cache
	if old == nil {
		t.Fatal("b does not find the session")
	}
	w := httptest.NewRecorder()
	if _, err := a.Amend(ctx, w, browserRequest("/", first), lookupFrom(t, a, first), map[string]string{"job": "one"}); err != nil {
		t.Fatal(err)
	}
	if got := lookupFrom(t, b, w); got == nil || got.Session.Data["job"] != "one" {
		t.Errorf("b finds %+v for the new cookie, want job one at once", got)
	}
	stale := lookupFrom(t, b, first) // within cache_ttl, b's cache may still answer
	if stale == nil {
		stale = old
	}
	if _, err := b.Amend(ctx, httptest.NewRecorder(), browserRequest("/", first), stale, map[string]string{"job": "two"}); !errors.Is(err, ErrSessionGone) {
		t.Errorf("b amended its stale copy: %v", err)
	}
}

// The amended session keeps its idle clock from the change, not from the
// login: a user who has been active for longer than the idle timeout is
// not logged out by choosing.
func TestAmendKeepsTheIdleClock(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := amendManager(memoryScope(t, 100), clk, func(o *Options) { o.IdleTimeout = 30 * time.Minute })
	first := loggedIn(t, m, "frank", nil)
	clk.Advance(25 * time.Minute)
	o := lookupFrom(t, m, first) // a use, 25 minutes after the login
	w := httptest.NewRecorder()
	if _, err := m.Amend(t.Context(), w, browserRequest("/", first), o, map[string]string{"job": "one"}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(25 * time.Minute) // 50 minutes after the login, 25 after the change
	if got := lookupFrom(t, m, w); got == nil {
		t.Error("the amended session ended for an idleness counted from the login")
	}
}

// failingPut fails every Put of one key.
type failingPut struct {
	store.Store
	key string
}

func (f *failingPut) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if key == f.key {
		return errors.New("put failed")
	}
	return f.Store.Put(ctx, key, value, ttl)
}

// When the old session cannot be ended, the browser keeps it as it was:
// the new one is ended, and no cookie is set.
func TestAmendThatCannotEndTheOldOne(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	fail := &failingPut{Store: memoryScope(t, 100)}
	m := amendManager(fail, clk, nil)
	first := loggedIn(t, m, "grace", map[string]string{"job": "none"})
	o := lookupFrom(t, m, first)
	fail.key = o.Key
	w := httptest.NewRecorder()
	if _, err := m.Amend(t.Context(), w, browserRequest("/", first), o, map[string]string{"job": "one"}); err == nil {
		t.Fatal("amended without ending the old session")
	}
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("cookies %v", w.Result().Cookies())
	}
	if got := lookupFrom(t, m, first); got == nil || got.Session.Data["job"] != "none" {
		t.Errorf("the old session is %+v, want it unchanged", got)
	}
	if n := count(t, m); n != 1 {
		t.Errorf("%d sessions indexed, want the old one only", n)
	}
}

// An amended session keeps what the user's list shows of it: its login
// time and the browser it was started from.
func TestAmendKeepsItsListing(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := amendManager(memoryScope(t, 100), clk, func(*Options) {})
	ctx := t.Context()
	first := loggedInFrom(t, m, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "alice", nil)
	o := lookupFrom(t, m, first)
	before, _, err := m.List(ctx, o)
	if err != nil || len(before) != 1 || before[0].Device == "" {
		t.Fatalf("listed %+v, %v", before, err)
	}
	clk.Advance(time.Minute)
	next, err := m.Amend(ctx, httptest.NewRecorder(), browserRequest("/api/profiles/x", first), o, map[string]string{"job": "two"})
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := m.List(ctx, next)
	if err != nil || len(after) != 1 {
		t.Fatalf("listed %+v, %v", after, err)
	}
	if got, want := after[0], before[0]; got.Device != want.Device || !got.Created.Equal(want.Created) || !got.Current {
		t.Errorf("after the amend the list shows %+v, want the device and login of %+v", got, want)
	}
}
