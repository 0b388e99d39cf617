package caddysgid

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestMethodsAndCrossSiteLogout(t *testing.T) {
	t.Parallel()
	h, cookie := benchHandler(t)
	tests := []struct {
		method, path string
		header       [2]string
		want         int
	}{
		{http.MethodPost, "/api/auth-url", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodHead, "/api/auth-url", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodHead, "/api/redirect", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodDelete, "/api/userinfo", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodPut, "/api/logout", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/logout", [2]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{http.MethodPost, "/api/logout", [2]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.AddCookie(cookie)
		if tc.header[0] != "" {
			req.Header.Set(tc.header[0], tc.header[1])
		}
		err := h.ServeHTTP(httptest.NewRecorder(), req.WithContext(contextWithReplacer(req)), okNext)
		var he caddyhttp.HandlerError
		if !errors.As(err, &he) || he.StatusCode != tc.want {
			t.Errorf("%s %s %v: err %v, want HTTP %d", tc.method, tc.path, tc.header, err, tc.want)
		}
	}
	// The refused cross-site logout left the session alone.
	req := httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	req.AddCookie(cookie)
	if code := serve(t, h, req, okNext); code != http.StatusOK {
		t.Errorf("session gone after a refused cross-site logout: %d", code)
	}
	// A same-origin POST logout works.
	req = httptest.NewRequest(http.MethodPost, "/api/logout", nil)
	req.AddCookie(cookie)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if code := serve(t, h, req, okNext); code != http.StatusOK {
		t.Errorf("POST logout: %d", code)
	}
	req = httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	req.AddCookie(cookie)
	if code := serve(t, h, req, okNext); code != http.StatusUnauthorized {
		t.Errorf("userinfo after POST logout: %d", code)
	}
}

func TestSecureCookieAndRedirectURIOnHTTPS(t *testing.T) {
	t.Parallel()
	h := &Handler{}
	h.applyDefaults()
	req := httptest.NewRequest(http.MethodGet, "https://app.example/api/auth-url", nil)
	req.TLS = &tls.ConnectionState{}
	if c := newCookie(req, "n", "v", 0); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie on HTTPS: %+v", c)
	}
	if got := h.redirectURI(req); got != "https://app.example/api/redirect" {
		t.Errorf("redirect URI = %q", got)
	}
	h.RedirectURI = "https://fixed.example/api/redirect"
	if got := h.redirectURI(req); got != h.RedirectURI {
		t.Errorf("configured redirect URI ignored: %q", got)
	}
}
