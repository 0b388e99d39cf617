package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
)

// BenchmarkAuthURL is the auth-url route in process, on the memory store:
// a sealed login cookie and sgID's authorization URL per call, for a
// request with an app parameter.
//
//	go test -run '^$' -bench BenchmarkAuthURL -benchmem .
func BenchmarkAuthURL(b *testing.B) {
	benchAuthURL(b, "?icecream=Vanilla")
}

// BenchmarkAuthURLBare is BenchmarkAuthURL for the request the system
// benchmark sends: no query and no cookie.
func BenchmarkAuthURLBare(b *testing.B) {
	benchAuthURL(b, "")
}

func benchAuthURL(b *testing.B, query string) {
	h := unitHandler(b, &Handler{AppParams: map[string]string{"icecream": "iceCream"}}, nil, nil)
	h.client = mustTestClient(b)
	req := withReplacer(httptest.NewRequest(http.MethodGet, "http://app.example"+DefaultAuthURLPath+query, nil))
	b.ReportAllocs()
	// CPU time as well as wall time: on a shared machine it counts this
	// work and not the waits for a core.
	cpu := loginbench.CPUTime(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusOK {
			b.Fatalf("%d %v", w.Code, err)
		}
	}
	b.ReportMetric(float64((loginbench.CPUTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
