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
// row of requests that alternate between them, whether made by the
// package's Origin, by a Jar literal (no cache) or by a jar of NewJar,
// which keeps the one it made last; a bad host is refused right after a
// good one.
func TestOrigin(t *testing.T) {
	on := true
	rows := []struct {
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
	}
	// Jars of NewJar, one per cookie_secure, each kept for the whole row.
	jars := map[*bool]Jar{nil: NewJar("sgid_session", nil), &on: NewJar("sgid_session", &on)}
	for _, form := range []struct {
		name   string
		origin func(r *http.Request, secure *bool, path string) (string, error)
	}{
		{"func", Origin},
		{"jar literal", func(r *http.Request, secure *bool, path string) (string, error) {
			return Jar{Name: "sgid_session", Secure: secure}.Origin(r, path)
		}},
		{"NewJar", func(r *http.Request, secure *bool, path string) (string, error) {
			return jars[secure].Origin(r, path)
		}},
	} {
		t.Run(form.name, func(t *testing.T) {
			for _, tc := range rows {
				t.Run(tc.name, func(t *testing.T) {
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					r.Host = tc.host
					if tc.tls {
						r.TLS = &tls.ConnectionState{}
					}
					got, err := form.origin(r, tc.secure, tc.path)
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
		})
	}
}

// TestOriginCacheIsTheJars: the origin a jar keeps is its own, shared by
// its copies: another jar's origin does not replace it, and a repeat
// request allocates nothing, while a jar literal, which keeps none, builds
// the origin every time.
func TestOriginCacheIsTheJars(t *testing.T) {
	a, b := NewJar("sgid_session", nil), NewJar("sgid_session", nil)
	ra := httptest.NewRequest(http.MethodGet, "/", nil)
	ra.Host = "a.example"
	rb := httptest.NewRequest(http.MethodGet, "/", nil)
	rb.Host = "b.example"
	if _, err := a.Origin(ra, "/cb"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Origin(rb, "/cb"); err != nil {
		t.Fatal(err)
	}
	copyOfA := a
	if last := copyOfA.origins.last.Load(); last == nil || last.origin != "http://a.example/cb" {
		t.Fatalf("jar a keeps %+v after jar b's call, want its own origin", last)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = a.Origin(ra, "/cb") }); n != 0 {
		t.Errorf("a repeat origin from a jar of NewJar: %v allocations, want 0", n)
	}
	literal := Jar{Name: "sgid_session"}
	if n := testing.AllocsPerRun(100, func() { _, _ = literal.Origin(ra, "/cb") }); n != 1 {
		t.Errorf("an origin from a jar literal: %v allocations, want 1 (the string)", n)
	}
}

// TestRedirectURI: the configured redirect URI wins; without one it is the
// callback path on the request's origin, from the function and the jar
// alike, and a bad host is an error.
func TestRedirectURI(t *testing.T) {
	on := true
	jar := NewJar("sgid_session", &on)
	for _, tc := range []struct {
		name, host, configured, want string
	}{
		{"configured", "evil.example/x", "https://app.example/cb", "https://app.example/cb"},
		{"derived", "app.example", "", "https://app.example/api/redirect"},
		{"bad host", "app.example/x", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tc.host
			for form, uri := range map[string]func() (string, error){
				"func": func() (string, error) { return RedirectURI(r, tc.configured, "/api/redirect", &on) },
				"jar":  func() (string, error) { return jar.RedirectURI(r, tc.configured, "/api/redirect") },
			} {
				got, err := uri()
				if tc.want == "" {
					if err == nil {
						t.Errorf("%s: %q, want an error", form, got)
					}
					continue
				}
				if err != nil || got != tc.want {
					t.Errorf("%s: %q, %v; want %q", form, got, err, tc.want)
				}
			}
		})
	}
}
