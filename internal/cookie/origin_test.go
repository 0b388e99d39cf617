package cookie

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestValidHostPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"localhost", true},
		{"localhost:5001", true},
		{"app.example.gov.sg", true},
		{"app.example.gov.sg.", true},
		{"xn--bcher-kva.example", true},
		{"127.0.0.1:9080", true},
		{"[::1]", true},
		{"[::1]:6001", true},
		{"localhost:65535", true},
		{"", false},
		{"localhost:", false},
		{"localhost:abc", false},
		{"localhost:-1", false},
		{"localhost:0", false},
		{"localhost:65536", false},
		{"localhost:0x10", false},
		{"localhost:+1", false},
		{"localhost:%36", false},
		{"localhost:000001", false},
		{"[localhost]:6001", false},
		{"[::1%eth0]:6001", false},
		{"[127.0.0.1]", false},
		{"::1", false},
		{"[::1]6001", false},
		{"local_host", false},
		{"-a.example", false},
		{"a..example", false},
		{"a.example:1:2", false},
		{"evil.example/x", false},
		{"evil.example@a", false},
		{"1.2.3.4.5", true}, // a DNS name, not an address
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, want := tc.name, tc.want
			if got := validHostPort(host); got != want {
				t.Errorf("validHostPort(%q) = %v, want %v", host, got, want)
			}
		})
	}
}

// TestOrigin: Origin follows each request's host, scheme and path, in a
// row of requests that alternate between them, though it keeps the one
// it made last; a bad host is refused right after a good one.
func TestOrigin(t *testing.T) {
	on := true
	for _, tc := range []struct {
		name, host, path string
		tls              bool
		secure           *bool
		want             string
	}{
		{"plain", "app.example", "/api/redirect", false, nil, "http://app.example/api/redirect"},
		{"the same again", "app.example", "/api/redirect", false, nil, "http://app.example/api/redirect"},
		{"over TLS", "app.example", "/api/redirect", true, nil, "https://app.example/api/redirect"},
		{"cookie_secure", "app.example", "/api/redirect", false, &on, "https://app.example/api/redirect"},
		{"another path", "app.example", "/cb", false, nil, "http://app.example/cb"},
		{"back to the first path", "app.example", "/api/redirect", false, nil, "http://app.example/api/redirect"},
		{"another host", "app.example:8443", "/cb", false, nil, "http://app.example:8443/cb"},
		{"a bad host", "app.example/x", "/cb", false, nil, ""},
		{"a bad host that reads as the last origin", "app.example:8443/cb", "", false, nil, ""},
		{"the first again", "app.example", "/api/redirect", false, nil, "http://app.example/api/redirect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			got, err := Origin(r, tc.secure, tc.path)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Origin = %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Origin = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
