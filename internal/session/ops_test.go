package session

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// opsManager is a Manager with its cookies, as the handler builds it.
func opsManager(t *testing.T) (*Manager, *testclock.Clock) {
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, func(o *Options) {
		o.Cookies = cookie.Jar{Name: "sgid_session"}
		o.Lifetime = 2 * time.Hour
	})
	return m, clk
}

// browserRequest is a request to path carrying the cookies w set, as a
// browser would send them back.
func browserRequest(path string, from ...*httptest.ResponseRecorder) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, w := range from {
		for _, c := range w.Result().Cookies() {
			if c.MaxAge >= 0 {
				r.AddCookie(c)
			}
		}
	}
	return r
}

// A login's whole life through the Manager's operations: started (its
// cookie set), pending (found by its state), finished (the session
// cookie set, the session live), replayed by the same browser, refused
// to another, and logged out (every cookie expired, the session gone).
func TestLoginOperations(t *testing.T) {
	t.Parallel()
	m, _ := opsManager(t)
	ctx := t.Context()
	start := httptest.NewRecorder()
	started, err := m.StartLogin(ctx, start, browserRequest("/api/auth-url"), LoginRequest{RedirectURI: "https://app.example/api/redirect", ReturnTo: "/back"})
	if err != nil {
		t.Fatal(err)
	}
	if started.State == "" || started.Nonce == "" || started.CodeChallenge == "" || len(start.Result().Cookies()) != 1 {
		t.Fatalf("started %+v, cookies %v", started, start.Result().Cookies())
	}
	if _, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(started.State))); !errors.Is(err, ErrNoLogin) {
		t.Errorf("no cookie: %v", err)
	}
	if _, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(NewID()), start)); !errors.Is(err, ErrLoginInvalid) {
		t.Errorf("another state: %v", err)
	}
	l, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(started.State), start))
	if err != nil || l.ReturnTo != "/back" || l.SessionID == "" {
		t.Fatalf("pending: %+v, %v", l, err)
	}
	finish := httptest.NewRecorder()
	s, err := m.Finish(ctx, finish, browserRequest("/cb", start), l, Session{Sub: "alice", Data: map[string]string{"myinfo.name": "A"}})
	if err != nil || s.Expires.IsZero() || s.Login.IsZero() {
		t.Fatalf("finish: %+v, %v", s, err)
	}
	loggedIn := browserRequest("/api/userinfo", finish)
	o, err := m.Lookup(ctx, loggedIn)
	if err != nil || o == nil || o.Session.Sub != "alice" || o.ID != l.SessionID {
		t.Fatalf("lookup: %+v, %v", o, err)
	}
	// The same browser's callback again lands where it did.
	if again, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(started.State), start, finish)); !errors.Is(err, ErrLoginReplayed) || again.ReturnTo != "/back" {
		t.Errorf("replay: %+v, %v", again, err)
	}
	// A copy of the login cookie in another browser finishes nothing.
	if _, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(started.State), start)); !errors.Is(err, ErrLoginFinished) {
		t.Errorf("copy: %v", err)
	}
	if _, err := m.Finish(ctx, httptest.NewRecorder(), browserRequest("/cb", start), l, Session{Sub: "mallory"}); !errors.Is(err, ErrLoginFinished) {
		t.Errorf("second finish: %v", err)
	}
	out := httptest.NewRecorder()
	if err := m.Logout(ctx, out, loggedIn, o); err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Result().Cookies() {
		if c.MaxAge >= 0 {
			t.Errorf("logout left cookie %s", c.Name)
		}
	}
	if o, err := m.Lookup(ctx, loggedIn); err != nil || o != nil {
		t.Errorf("after logout: %+v, %v", o, err)
	}
}

// A new login's session replaces the browser's earlier one; a login
// timed out is refused; one that does not fit a cookie is not started;
// an abandoned one has its cookie expired.
func TestLoginOperationEdges(t *testing.T) {
	t.Parallel()
	m, clk := opsManager(t)
	ctx := t.Context()
	login := func(from ...*httptest.ResponseRecorder) (*httptest.ResponseRecorder, *httptest.ResponseRecorder, Started) {
		start := httptest.NewRecorder()
		st, err := m.StartLogin(ctx, start, browserRequest("/a", from...), LoginRequest{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(st.State), append(from, start)...))
		if err != nil {
			t.Fatal(err)
		}
		finish := httptest.NewRecorder()
		if _, err := m.Finish(ctx, finish, browserRequest("/cb", append(from, start)...), l, Session{Sub: "bob"}); err != nil {
			t.Fatal(err)
		}
		return start, finish, st
	}
	_, first, _ := login()
	_, second, _ := login(first)
	if o, _ := m.Lookup(ctx, browserRequest("/", first)); o != nil {
		t.Error("the earlier session outlived the new login")
	}
	if o, _ := m.Lookup(ctx, browserRequest("/", second)); o == nil {
		t.Error("the new session is not live")
	}

	start := httptest.NewRecorder()
	st, _ := m.StartLogin(ctx, start, browserRequest("/a"), LoginRequest{})
	clk.Advance(testLoginTimeout + time.Second)
	if _, err := m.PendingLogin(ctx, httptest.NewRecorder(), browserRequest(callback(st.State), start)); !errors.Is(err, ErrLoginExpired) {
		t.Errorf("timed out: %v", err)
	}

	big := httptest.NewRecorder()
	if _, err := m.StartLogin(ctx, big, browserRequest("/a"), LoginRequest{ReturnTo: "/" + strings.Repeat("x", 4000)}); !errors.Is(err, ErrLoginTooLarge) || len(big.Result().Cookies()) != 0 {
		t.Errorf("too large: %v, cookies %v", err, big.Result().Cookies())
	}

	// sgID's error ends a login that could finish: its cookie is expired,
	// and the login comes back with ErrLoginAbandoned.
	fresh := httptest.NewRecorder()
	st, _ = m.StartLogin(ctx, fresh, browserRequest("/a"), LoginRequest{ReturnTo: "/x"})
	drop := httptest.NewRecorder()
	l, err := m.PendingLogin(ctx, drop, browserRequest(callback(st.State)+"&error=access_denied", fresh))
	if !errors.Is(err, ErrLoginAbandoned) || l.ReturnTo != "/x" {
		t.Errorf("abandon: %+v, %v", l, err)
	}
	if cs := drop.Result().Cookies(); len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Name != cookie.LoginName("sgid_session", st.State) {
		t.Errorf("abandon: %v", cs)
	}
	// Without the error, PendingLogin expires nothing.
	keep := httptest.NewRecorder()
	if _, err := m.PendingLogin(ctx, keep, browserRequest(callback(st.State), fresh)); err != nil || len(keep.Result().Cookies()) != 0 {
		t.Errorf("pending: %v, cookies %v", err, keep.Result().Cookies())
	}
}

// callback is the path of sgID's callback for state.
func callback(state string) string { return "/cb?code=c&state=" + state }

// A browser keeps at most LoginsPerBrowser logins in flight: starting one
// more expires the oldest.
func TestStartLoginDropsSurplus(t *testing.T) {
	t.Parallel()
	m, clk := opsManager(t)
	var held []*httptest.ResponseRecorder
	for range LoginsPerBrowser {
		w := httptest.NewRecorder()
		if _, err := m.StartLogin(t.Context(), w, browserRequest("/a"), LoginRequest{}); err != nil {
			t.Fatal(err)
		}
		held = append(held, w)
		clk.Advance(time.Second)
	}
	w := httptest.NewRecorder()
	if _, err := m.StartLogin(t.Context(), w, browserRequest("/a", held...), LoginRequest{}); err != nil {
		t.Fatal(err)
	}
	oldest := held[0].Result().Cookies()[0].Name
	var expired []string
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			expired = append(expired, c.Name)
		}
	}
	if len(expired) != 1 || expired[0] != oldest {
		t.Errorf("expired %v, want the oldest %s", expired, oldest)
	}
}
