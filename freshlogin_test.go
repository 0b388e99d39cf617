package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// freshHandler is a handler protecting /api/* and /app/*, with a login
// page, that asks for a login at most a minute old on /api/admin/* and
// /app/pay, dated by clock; it returns the cookie of a session that logged
// in at clock's time.
func freshHandler(t *testing.T, clock *testclock.Clock, identity map[string]string) (*Handler, *http.Cookie) {
	t.Helper()
	g := &Guard{
		Protect:         caddyhttp.MatchPath{"/api/*", "/app/*"},
		LoginPage:       "/login",
		IdentityHeaders: identity,
		FreshLogin:      &FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: caddyhttp.MatchPath{"/api/admin/*", "/app/pay"}},
	}
	h := unitHandler(t, &Handler{Guard: g}, nil, clock.Now)
	h.gate.rules.Now = clock.Now
	id := putTestSession(t, h, session.Session{Sub: "s1", Login: clock.Now(), Expires: clock.Now().Add(time.Hour)})
	return h, &http.Cookie{Name: DefaultCookieName, Value: id}
}

// freshRequest runs a request with the session cookie through h, and
// returns the recorder and the request as the next handler saw it (nil
// when the handler answered itself).
func freshRequest(t *testing.T, h *Handler, c *http.Cookie, path string, hdr http.Header) (*httptest.ResponseRecorder, *http.Request) {
	t.Helper()
	req := withReplacer(httptest.NewRequest(http.MethodGet, path, nil))
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.AddCookie(c)
	var seen *http.Request
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		seen = r
		w.WriteHeader(http.StatusOK)
		return nil
	})
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, req, next); err != nil {
		t.Fatal(err)
	}
	return w, seen
}

func TestFreshLoginAPI(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Unix(1_700_000_000, 0))
	h, c := freshHandler(t, clock, nil)

	if w, _ := freshRequest(t, h, c, "/api/admin/x", testcaddy.FetchHeaders); w.Code != http.StatusOK {
		t.Fatalf("right after the login: %d %q", w.Code, w.Body)
	}
	clock.Advance(65 * time.Second)
	tests := []struct {
		path string
		want int
	}{
		{"/api/admin/x", http.StatusUnauthorized},
		{"/API/Admin/x", http.StatusUnauthorized}, // matched as the path matcher does
		{"/app/pay", http.StatusUnauthorized},
		{"/api/other", http.StatusOK},
		{"/app/orders", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			w, _ := freshRequest(t, h, c, tc.path, testcaddy.FetchHeaders)
			if w.Code != tc.want {
				t.Fatalf("65 s after the login: %d %q, want %d", w.Code, w.Body, tc.want)
			}
			if tc.want == http.StatusUnauthorized {
				if got := w.Body.String(); got != `{"error":"login_too_old","login_url":"/api/auth-url?return_to=`+url.QueryEscape(tc.path)+`"}` {
					t.Errorf("body %q", got)
				}
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control %q", got)
				}
			}
		})
	}
}

func TestFreshLoginNavigation(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Unix(1_700_000_000, 0))
	h, c := freshHandler(t, clock, nil)
	clock.Advance(2 * time.Minute)

	w, _ := freshRequest(t, h, c, "/app/pay?amount=5", testcaddy.NavigateHeaders)
	want := "/login?return_to=" + url.QueryEscape("/app/pay?amount=5")
	if w.Code != http.StatusFound || w.Header().Get("Location") != want {
		t.Errorf("navigation: %d to %q, want 302 to %q", w.Code, w.Header().Get("Location"), want)
	}

	// Without a login page, the guard's 401 text answer, naming the cause.
	h.gate.LoginPage = ""
	w, _ = freshRequest(t, h, c, "/app/pay", testcaddy.NavigateHeaders)
	if w.Code != http.StatusUnauthorized || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") || !strings.Contains(w.Body.String(), "log in again") {
		t.Errorf("navigation without a login page: %d %q", w.Code, w.Body)
	}
}

// A new login replaces the old session, and with it the login time: the
// new session passes where the old one was refused.
func TestFreshLoginNewSessionPasses(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Unix(1_700_000_000, 0))
	h, old := freshHandler(t, clock, nil)
	clock.Advance(2 * time.Minute)
	id := putTestSession(t, h, session.Session{Sub: "s1", Expires: clock.Now().Add(time.Hour)})
	if w, _ := freshRequest(t, h, old, "/api/admin/x", testcaddy.FetchHeaders); w.Code != http.StatusUnauthorized {
		t.Errorf("old session: %d", w.Code)
	}
	if w, _ := freshRequest(t, h, &http.Cookie{Name: DefaultCookieName, Value: id}, "/api/admin/x", testcaddy.FetchHeaders); w.Code != http.StatusOK {
		t.Errorf("new session: %d %q", w.Code, w.Body)
	}
}

func TestFreshLoginAuthTime(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Unix(1_700_000_000, 0))
	h, c := freshHandler(t, clock, map[string]string{"X-Auth-Time": "auth_time"})
	_, seen := freshRequest(t, h, c, "/api/other", testcaddy.FetchHeaders)
	if seen == nil {
		t.Fatal("not passed on")
	}
	want := strconv.FormatInt(clock.Now().Unix(), 10)
	if got := seen.Header.Get("X-Auth-Time"); got != want {
		t.Errorf("identity header auth_time %q, want %q", got, want)
	}
	repl := seen.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if got, _ := repl.GetString("http.auth.user.auth_time"); got != want {
		t.Errorf("placeholder {http.auth.user.auth_time} %q, want %q", got, want)
	}
}

func TestValidateFreshLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		protect []string
		fresh   FreshLogin
		want    string // "" = valid
	}{
		{"inside a prefix", []string{"/api/*"}, FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: []string{"/api/admin/*", "/API/pay"}}, ""},
		{"same as protect", []string{"/app/pay"}, FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: []string{"/app/pay"}}, ""},
		{"zero age", []string{"/api/*"}, FreshLogin{Paths: []string{"/api/admin/*"}}, "max_age"},
		{"negative age", []string{"/api/*"}, FreshLogin{MaxAge: caddy.Duration(-time.Minute), Paths: []string{"/api/admin/*"}}, "max_age"},
		{"no paths", []string{"/api/*"}, FreshLogin{MaxAge: caddy.Duration(time.Minute)}, "at least one path"},
		{"relative", []string{"/*"}, FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: []string{"api/*"}}, "must start with /"},
		{"outside protect", []string{"/api/*"}, FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: []string{"/admin/*"}}, "not inside any protect"},
		{"wider than protect", []string{"/api/admin/*"}, FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: []string{"/api/*"}}, "not inside any protect"},
		{"without protect", nil, FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: []string{"/api/*"}}, "not inside any protect"},
		{"placeholder", []string{"/api/*"}, FreshLogin{MaxAge: caddy.Duration(time.Minute), Paths: []string{"/api/{vars.x}"}}, "not inside any protect"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fresh := tc.fresh
			g := &Guard{Protect: tc.protect, FreshLogin: &fresh}
			if err := g.setup(caddy.Context{}, "/error", DefaultAuthURLPath); err != nil {
				t.Fatal(err)
			}
			err := g.validate(nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// An app value may not take the name of the login time's placeholder.
func TestAppParamCannotBeAuthTime(t *testing.T) {
	t.Parallel()
	h := &Handler{AppParams: map[string]string{"at": "auth_time"}}
	applyDefaults(h)
	h.gate = new(Guard)
	if err := h.Validate(); err == nil || !strings.Contains(err.Error(), "auth_time") {
		t.Errorf("Validate: %v, want an error naming auth_time", err)
	}
}
