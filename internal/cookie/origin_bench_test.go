package cookie

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
)

// BenchmarkOrigin is the redirect URI auth-url makes on every call, by a
// jar of NewJar, which keeps the origin it made last ("jar"), and by the
// package's Origin, which checks the host and builds the string each time
// ("func"): the cache is worth its place while the difference stays above
// 1% of BenchmarkAuthURLBare's cpu-ns/op in the root package, run beside
// it.
//
//	go test -run '^$' -bench 'BenchmarkOrigin$|BenchmarkAuthURLBare$' -benchmem ./internal/cookie .
func BenchmarkOrigin(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "http://app.example.gov.sg:5001/api/auth-url", nil)
	jar := NewJar("sgid_session", nil)
	for _, form := range []struct {
		name   string
		origin func() (string, error)
	}{
		{"jar", func() (string, error) { return jar.Origin(r, "/api/redirect") }},
		{"func", func() (string, error) { return Origin(r, nil, "/api/redirect") }},
	} {
		b.Run(form.name, func(b *testing.B) {
			b.ReportAllocs()
			// CPU time as well as wall time: on a shared machine it counts
			// this work and not the waits for a core.
			cpu := loginbench.CPUTime(b)
			for b.Loop() {
				if _, err := form.origin(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((loginbench.CPUTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
