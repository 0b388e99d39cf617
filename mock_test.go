package caddysgid

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// mockHandler provisions a handler with mock in-process, with the extra
// JSON settings given; no server is started.
func mockHandler(t *testing.T, settings map[string]any) *Handler {
	t.Helper()
	// The memory store: a bare context has no storage.
	cfg := map[string]any{"mock": true, "store": map[string]any{"module": "memory"}}
	for k, v := range settings {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	var h Handler
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return &h
}

// serveMockRequest runs one request for target (an absolute URL, whose
// host becomes the Host header) through h as Caddy would.
func serveMockRequest(t *testing.T, h *Handler, method, target string, form url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	req = req.WithContext(context.WithValue(req.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
	w := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	})
	if err := h.ServeHTTP(w, req, next); err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	return w
}

// mockAuthURL asks h's auth-url endpoint on origin for a login and returns
// the mock's authorization URL (a same-origin path) with the login cookie.
func mockAuthURL(t *testing.T, h *Handler, origin string) (string, []*http.Cookie) {
	t.Helper()
	w := serveMockRequest(t, h, http.MethodGet, origin+"/api/auth-url", nil)
	var out struct{ URL string }
	if err := json.Unmarshal(w.Body.Bytes(), &out); w.Code != http.StatusOK || err != nil {
		t.Fatalf("auth-url: %d %s", w.Code, w.Body)
	}
	return out.URL, w.Result().Cookies()
}

// withParam returns rawURL with the query parameter key set to value.
func withParam(t *testing.T, rawURL, key, value string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestMockRedirectsOnlyToOwnCallback: the built-in mock sends the browser
// nowhere but the handler's own callback, on the authorize request and on
// the persona pick alike; everything else is a 400 page.
func TestMockRedirectsOnlyToOwnCallback(t *testing.T) {
	const origin, otherOrigin = "http://localhost:9080", "http://127.0.0.1:9080"
	h := mockHandler(t, nil)
	authURL, _ := mockAuthURL(t, h, origin)
	refused := func(name string, w *httptest.ResponseRecorder) {
		t.Helper()
		if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
			t.Errorf("%s: status %d Location %q, want 400 without a redirect", name, w.Code, w.Header().Get("Location"))
		}
	}
	for _, tc := range []struct {
		name   string
		target string
	}{
		// The request from the report, verbatim.
		{"evil redirect, implicit flow", origin + "/sgid-mock/v2/oauth/authorize?client_id=sgid-mock-client&redirect_uri=https%3A%2F%2Fevil.example%2Fsteal&response_type=token"},
		{"evil redirect", origin + withParam(t, authURL, "redirect_uri", "https://evil.example/steal")},
		{"another path on this origin", origin + withParam(t, authURL, "redirect_uri", origin+"/elsewhere")},
		{"implicit flow", origin + withParam(t, authURL, "response_type", "token")},
		{"another client", origin + withParam(t, authURL, "client_id", "someone-else")},
		// The callback of another origin is not this request's own.
		{"another origin's callback", otherOrigin + authURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, target := tc.name, tc.target
			refused(name, serveMockRequest(t, h, http.MethodGet, target, nil))
		})
	}

	// A page shown on one origin cannot be submitted on another.
	w := serveMockRequest(t, h, http.MethodGet, origin+authURL, nil)
	form := sgidtest.LoginForm(w.Body.String())
	if w.Code != http.StatusOK || form == nil {
		t.Fatalf("login page: %d", w.Code)
	}
	form.Set("sub", sgidtest.DefaultPersonas()[0].Sub)
	refused("persona pick on another origin", serveMockRequest(t, h, http.MethodPost, otherOrigin+mockPrefix+"/v2/oauth/authorize", form))
	w = serveMockRequest(t, h, http.MethodPost, origin+mockPrefix+"/v2/oauth/authorize", form)
	if loc := w.Header().Get("Location"); w.Code != http.StatusFound || !strings.HasPrefix(loc, origin+"/api/redirect?") {
		t.Errorf("persona pick: status %d Location %q, want the callback", w.Code, loc)
	}

	// Requests that do not come through the handler (the back channel
	// reaches the same shared provider) may redirect nowhere.
	resp, err := h.mockHTTPClient().Get(mockHost + strings.TrimPrefix(authURL, mockPrefix))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("authorize outside the handler: status %d, want 400", resp.StatusCode)
	}
}

// TestMockAllowsConfiguredRedirectURI: with redirect_uri set, that URI is
// the handler's callback whatever the request's origin, and the derived
// one is not.
func TestMockAllowsConfiguredRedirectURI(t *testing.T) {
	const configured = "https://app.example/api/redirect"
	h := mockHandler(t, map[string]any{"redirect_uri": configured})
	authURL, _ := mockAuthURL(t, h, "http://localhost:9080")
	if w := serveMockRequest(t, h, http.MethodGet, "http://localhost:9080"+authURL, nil); w.Code != http.StatusOK {
		t.Errorf("configured redirect_uri: login page status %d", w.Code)
	}
	derived := "http://localhost:9080" + withParam(t, authURL, "redirect_uri", "http://localhost:9080/api/redirect")
	if w := serveMockRequest(t, h, http.MethodGet, derived, nil); w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" {
		t.Errorf("derived redirect URI although one is configured: status %d Location %q", w.Code, w.Header().Get("Location"))
	}
}

// TestMockLoginPageFlood: viewing the mock's login page stores nothing, so
// a flood of views leaves logins working (a table of open pages used to
// fill after 10,000 views and lock everyone out for ten minutes).
func TestMockLoginPageFlood(t *testing.T) {
	const origin = "http://localhost:9080"
	h := mockHandler(t, nil)
	flood, _ := mockAuthURL(t, h, origin)
	for i := range 20_000 {
		if w := serveMockRequest(t, h, http.MethodGet, origin+flood, nil); w.Code != http.StatusOK {
			t.Fatalf("login page view %d: status %d", i, w.Code)
		}
	}
	authURL, cookies := mockAuthURL(t, h, origin)
	w := serveMockRequest(t, h, http.MethodGet, origin+authURL, nil)
	form := sgidtest.LoginForm(w.Body.String())
	if w.Code != http.StatusOK || form == nil {
		t.Fatalf("login page after the flood: status %d", w.Code)
	}
	form.Set("sub", sgidtest.DefaultPersonas()[0].Sub)
	w = serveMockRequest(t, h, http.MethodPost, origin+mockPrefix+"/v2/oauth/authorize", form)
	if w.Code != http.StatusFound {
		t.Fatalf("persona pick after the flood: status %d %s", w.Code, w.Body)
	}
	w = serveMockRequest(t, h, http.MethodGet, w.Header().Get("Location"), nil, cookies...)
	session := false
	for _, c := range w.Result().Cookies() {
		session = session || (c.Name == DefaultCookieName && c.Value != "")
	}
	if loc := w.Header().Get("Location"); w.Code != http.StatusFound || loc != DefaultSuccessPath || !session {
		t.Errorf("callback after the flood: status %d Location %q, want a session and %s", w.Code, loc, DefaultSuccessPath)
	}
}

func TestMockRefusesRealSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		value any
	}{
		{"client_id", "x"}, {"client_secret", "x"}, {"private_key", "x"}, {"private_keys", []string{"x"}}, {"host", "x"},
	} {
		field := tc.field
		h := Handler{Mock: true}
		raw, _ := json.Marshal(map[string]any{"mock": true, field: tc.value})
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		err := h.Provision(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "mock: cannot be combined with "+field) {
			t.Errorf("mock + %s: err = %v", field, err)
		}
	}
}
