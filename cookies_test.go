package caddysgid

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// Walking the request's cookies, a name counts as ours only in the form
// this request's scheme uses, the way cookie reads one.
func TestCookieBase(t *testing.T) {
	t.Parallel()
	h := &Handler{cookies: cookie.Jar{Name: DefaultCookieName}}
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
		base, ok := h.cookies.LoginBase(tc.r, &http.Cookie{Name: tc.wire})
		if base != tc.base || ok != tc.ok {
			t.Errorf("cookieBase(TLS %v, %q) = %q, %v; want %q, %v", tc.r.TLS != nil, tc.wire, base, ok, tc.base, tc.ok)
		}
		// What it accepts is what cookie.Wire sets.
		if ok && cookie.Wire(base, tc.r.TLS != nil) != tc.wire {
			t.Errorf("cookie.Wire(%q) is not %q", base, tc.wire)
		}
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
	login := testcaddy.ResponseCookie(w.Result(), "__Host-"+cookie.LoginName(DefaultCookieName, state))
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
