package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestValidHostPort(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost":             true,
		"localhost:5001":        true,
		"app.example.gov.sg":    true,
		"app.example.gov.sg.":   true,
		"xn--bcher-kva.example": true,
		"127.0.0.1:9080":        true,
		"[::1]":                 true,
		"[::1]:6001":            true,
		"localhost:65535":       true,
		"":                      false,
		"localhost:":            false,
		"localhost:abc":         false,
		"localhost:-1":          false,
		"localhost:0":           false,
		"localhost:65536":       false,
		"localhost:0x10":        false,
		"localhost:+1":          false,
		"localhost:%36":         false,
		"localhost:000001":      false,
		"[localhost]:6001":      false,
		"[::1%eth0]:6001":       false,
		"[127.0.0.1]":           false,
		"::1":                   false,
		"[::1]6001":             false,
		"local_host":            false,
		"-a.example":            false,
		"a..example":            false,
		"a.example:1:2":         false,
		"evil.example/x":        false,
		"evil.example@a":        false,
		"1.2.3.4.5":             true, // a DNS name, not an address
	} {
		if got := validHostPort(host); got != want {
			t.Errorf("validHostPort(%q) = %v, want %v", host, got, want)
		}
	}
}

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
