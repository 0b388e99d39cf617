package caddysgid

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// An odd Host header gets 400 with a JSON error at auth-url, and at the
// mock's pages, which derive the callback from it too; never a 500.
func TestOddHostAnswers400(t *testing.T) {
	t.Parallel()
	h := mockHandler(t, nil)
	for _, host := range []string{"localhost:abc", "localhost:-1", "[localhost]:6001", "localhost:0x10", "localhost:+1", "localhost:%36", ""} {
		for _, path := range []string{"/api/auth-url", mockPrefix + "/v2/oauth/authorize?client_id=" + mockClientID + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3Aabc%2Fapi%2Fredirect"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = host
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
				t.Errorf("Host %q %s: returned %v", host, path, err)
				continue
			}
			if body := checkJSONError(t, w, http.StatusBadRequest); body.Error != "invalid_host" {
				t.Errorf("Host %q %s: error %q", host, path, body.Error)
			}
		}
	}
	// A configured redirect_uri does not depend on the Host header.
	h = mockHandler(t, map[string]any{"redirect_uri": "https://app.example/api/redirect"})
	req := httptest.NewRequest(http.MethodGet, "/api/auth-url", nil)
	req.Host = "localhost:abc"
	if code := serve(t, h, req, okNext); code != http.StatusOK {
		t.Errorf("with redirect_uri, odd Host: %d, want 200", code)
	}
}

// withTrustedProxy marks the request as coming from one of the server's
// trusted_proxies, as Caddy's server does before any handler runs.
func withTrustedProxy(r *http.Request, trusted bool) *http.Request {
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: trusted})
	return r.WithContext(ctx)
}

// Secure cookies and an https redirect URI behind a load balancer that ends
// TLS, as Caddy decides for its own cookies: X-Forwarded-Proto counts only
// from a trusted proxy; cookie_secure overrides the request.
func TestSecureFollowsTrustedProxies(t *testing.T) {
	t.Parallel()
	on, off := true, false
	tests := []struct {
		name     string
		tls      bool
		trusted  bool
		xfp      []string
		override *bool
		secure   bool
		scheme   string
	}{
		{"plain http", false, false, nil, nil, false, "http"},
		{"tls", true, false, nil, nil, true, "https"},
		{"trusted proxy, https", false, true, []string{"https"}, nil, true, "https"},
		{"trusted proxy, last value counts", false, true, []string{"http", "https"}, nil, true, "https"},
		{"trusted proxy, http", false, true, []string{"https", "http"}, nil, false, "http"},
		{"untrusted client says https", false, false, []string{"https"}, nil, false, "http"},
		{"cookie_secure on", false, false, nil, &on, true, "https"},
		{"cookie_secure off over tls", true, false, nil, &off, false, "https"},
		{"cookie_secure off behind a trusted proxy", false, true, []string{"https"}, &off, false, "https"},
	}
	for _, tc := range tests {
		h := &Handler{CookieSecure: tc.override}
		applyDefaults(h)
		h.cookies = cookie.Jar{Name: h.CookieName, Secure: h.CookieSecure}
		req := httptest.NewRequest(http.MethodGet, "http://app.example/api/auth-url", nil)
		if tc.tls {
			req.TLS = &tls.ConnectionState{}
		}
		req.Header["X-Forwarded-Proto"] = tc.xfp
		req = withTrustedProxy(req, tc.trusted)
		if got := h.cookies.IsSecure(req); got != tc.secure {
			t.Errorf("%s: secure = %v, want %v", tc.name, got, tc.secure)
		}
		if got, err := cookie.RedirectURI(req, h.RedirectURI, h.CallbackPath, h.CookieSecure); err != nil || got != tc.scheme+"://app.example/api/redirect" {
			t.Errorf("%s: redirect URI %q %v, want scheme %s", tc.name, got, err, tc.scheme)
		}
		w := httptest.NewRecorder()
		h.cookies.Set(w, req, DefaultCookieName, "v", 0)
		if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].Secure != tc.secure {
			t.Errorf("%s: cookies %+v, want one with Secure = %v", tc.name, cs, tc.secure)
		}
	}
}
