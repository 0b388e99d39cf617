package caddysgid

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/session"

	"github.com/caddy-sgid/caddy-sgid/internal/testcaddy"
)

func TestStripSessionCookies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []string // nil: no Cookie header left
	}{
		{nil, nil},
		{[]string{"theme=dark"}, []string{"theme=dark"}},
		{[]string{"sgid_session=abc"}, nil},
		{[]string{"sgid_session=abc; sgid_session_login_AAAAAAAAAAAA=def"}, nil},
		{[]string{"theme=dark; sgid_session=abc; lang=en"}, []string{"theme=dark; lang=en"}},
		{[]string{"sgid_session_login_AAAAAAAAAAAA=x;theme=dark; sgid_session_login_-_-_-_-_-_-_=y"}, []string{"theme=dark"}},
		// Names that only start with ours, and values that contain them, stay.
		{[]string{"sgid_session2=a; x=sgid_session; sgid_session_login_x=b; sgid_session_loginAAAAAAAAAAAAA=c"}, []string{"sgid_session2=a; x=sgid_session; sgid_session_login_x=b; sgid_session_loginAAAAAAAAAAAAA=c"}},
		// HTTP/2 may split cookies over several header lines.
		{[]string{"a=1", "sgid_session=abc", "b=2; sgid_session=dup"}, []string{"a=1", "b=2"}},
		{[]string{" sgid_session = abc ; a=1"}, []string{"a=1"}},
		// Our names are found behind any space; other cookies keep theirs,
		// so a part that was no cookie does not become one.
		{[]string{"\u00a0sgid_session=abc; \u00a0foo=bar; a=1"}, []string{"\u00a0foo=bar; a=1"}},
		// The __Host- names of HTTPS are ours too; other prefixes are not.
		{[]string{"__Host-sgid_session=abc; __Host-sgid_session_login_AAAAAAAAAAAA=def; a=1"}, []string{"a=1"}},
		{[]string{"__Secure-sgid_session=abc; __Host-sgid_session2=b"}, []string{"__Secure-sgid_session=abc; __Host-sgid_session2=b"}},
	} {
		h := http.Header{}
		if tc.in != nil {
			h["Cookie"] = append([]string(nil), tc.in...)
		}
		stripSessionCookies(h, DefaultCookieName)
		got, ok := h["Cookie"]
		if tc.want == nil {
			if ok {
				t.Errorf("%q: Cookie %q left, want none", tc.in, got)
			}
			continue
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: Cookie %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWireCookieName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base   string
		secure bool
		want   string
	}{
		{"sgid_session", false, "sgid_session"},
		{"sgid_session", true, "__Host-sgid_session"},
		{"sgid_session_login", true, "__Host-sgid_session_login"},
		{"app_sid_login_abc", true, "__Host-app_sid_login_abc"},
	} {
		if got := wireCookieName(tc.base, tc.secure); got != tc.want {
			t.Errorf("wireCookieName(%q, %v) = %q, want %q", tc.base, tc.secure, got, tc.want)
		}
	}
}

// Walking the request's cookies, a name counts as ours only in the form
// this request's scheme uses, the way cookie reads one.
func TestCookieBase(t *testing.T) {
	t.Parallel()
	h := &Handler{cookies: cookieJar{name: DefaultCookieName}}
	plain := httptest.NewRequest(http.MethodGet, "http://app.example/", nil)
	secure := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	secure.TLS = &tls.ConnectionState{}
	for _, tc := range []struct {
		r    *http.Request
		wire string
		base string
		ok   bool
	}{
		{secure, "__Host-sgid_session_login_AAAAAAAAAAAA", "sgid_session_login_AAAAAAAAAAAA", true},
		{secure, "sgid_session_login_AAAAAAAAAAAA", "sgid_session_login_AAAAAAAAAAAA", false},
		{plain, "sgid_session_login_AAAAAAAAAAAA", "sgid_session_login_AAAAAAAAAAAA", true},
		{plain, "__Host-sgid_session_login_AAAAAAAAAAAA", "__Host-sgid_session_login_AAAAAAAAAAAA", false},
	} {
		base, ok := h.cookies.loginBase(tc.r, &http.Cookie{Name: tc.wire})
		if base != tc.base || ok != tc.ok {
			t.Errorf("cookieBase(TLS %v, %q) = %q, %v; want %q, %v", tc.r.TLS != nil, tc.wire, base, ok, tc.base, tc.ok)
		}
		// What it accepts is what wireCookieName sets.
		if ok && wireCookieName(base, tc.r.TLS != nil) != tc.wire {
			t.Errorf("wireCookieName(%q) is not %q", base, tc.wire)
		}
	}
}

// A login's cookie is named after its state: two states, two names, each
// a stable cookie-name token recognised as a login cookie.
func TestLoginCookieName(t *testing.T) {
	t.Parallel()
	a, b := loginCookieName(DefaultCookieName, "state-1"), loginCookieName(DefaultCookieName, "state-2")
	if a == b || !isLoginCookieName(a, DefaultCookieName) || !isLoginCookieName(b, DefaultCookieName) {
		t.Fatalf("names %q and %q: want two different login cookie names", a, b)
	}
	if a != loginCookieName(DefaultCookieName, "state-1") {
		t.Fatal("the name of a state's login cookie is not stable")
	}
	if !cookieNameRE.MatchString(a) {
		t.Fatalf("%q is not a cookie-name token", a)
	}
}

// On HTTPS a login's cookie goes by its __Host- name: the callback finds
// and opens it (the login goes on to the code exchange, which fails here
// for want of a provider), and a bare-named copy, which a sibling
// subdomain could plant, is not a login of this browser.
func TestLoginCookieOnHTTPS(t *testing.T) {
	t.Parallel()
	h, _ := benchHandler(t)
	h.client = mustTestClient(t)
	serveTLS := func(target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://app.example"+target, nil)
		req.TLS = &tls.ConnectionState{}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := serveTLS("/api/auth-url")
	var start struct{ URL string }
	json.Unmarshal(w.Body.Bytes(), &start)
	state := testcaddy.QueryValue(t, start.URL, "state")
	login := testcaddy.ResponseCookie(w.Result(), "__Host-"+loginCookieName(DefaultCookieName, state))
	if login == nil {
		t.Fatalf("no __Host- login cookie: %v", w.Result().Cookies())
	}
	callback := "/api/redirect?code=c&state=" + url.QueryEscape(state)
	bare := &http.Cookie{Name: strings.TrimPrefix(login.Name, "__Host-"), Value: login.Value}
	if loc := serveTLS(callback, bare).Header().Get("Location"); loc != "/error?reason=no_session" {
		t.Errorf("bare-named login cookie on HTTPS: redirected to %q, want no_session", loc)
	}
	if loc := serveTLS(callback, &http.Cookie{Name: login.Name, Value: login.Value}).Header().Get("Location"); loc != "/error?reason=provider_error" {
		t.Errorf("__Host- login cookie: redirected to %q, want the exchange to be tried (provider_error)", loc)
	}
}

// The Set-Cookie header the jar writes itself is byte for byte the one
// net/http writes for the same cookie, on HTTP and HTTPS, for setting,
// session-long and deleting cookies; a value net/http would have to
// quote or drop goes through net/http.
func TestSetCookieAsNetHTTP(t *testing.T) {
	t.Parallel()
	j := cookieJar{name: DefaultCookieName}
	for _, tc := range []struct {
		name, value string
		maxAge      time.Duration
		tls         bool
	}{
		{"sgid_session", session.NewID(), time.Hour, false},
		{"sgid_session", session.NewID(), 12 * time.Hour, true},
		{"sgid_session_login_AAAAAAAAAAAA", "AQ-_xyz", 10 * time.Minute, true},
		{"sgid_session", "", -1, false},
		{"sgid_session", "", -1, true},
		{"sgid_session", "v", 0, false},
		{"sgid_session", "v", 500 * time.Millisecond, false},
		{"sgid_session", "a b", time.Minute, false},
		{"sgid_session", "a;b", time.Minute, false},
	} {
		t.Run(fmt.Sprintf("%s=%q %s tls=%v", tc.name, tc.value, tc.maxAge, tc.tls), func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			ours, theirs := httptest.NewRecorder(), httptest.NewRecorder()
			j.set(ours, r, tc.name, tc.value, tc.maxAge)
			http.SetCookie(theirs, j.make(r, tc.name, tc.value, tc.maxAge))
			if got, want := ours.Header()["Set-Cookie"], theirs.Header()["Set-Cookie"]; !slices.Equal(got, want) {
				t.Errorf("Set-Cookie %q, net/http writes %q", got, want)
			}
		})
	}
}
