package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAuthURL is the auth-url route in process, on the memory store:
// a sealed login cookie and sgID's authorization URL per call.
//
//	go test -run '^$' -bench BenchmarkAuthURL -benchmem .
func BenchmarkAuthURL(b *testing.B) {
	h := unitHandler(b, &Handler{AppParams: map[string]string{"icecream": "iceCream"}}, nil, nil)
	h.client = mustTestClient(b)
	req := withReplacer(httptest.NewRequest(http.MethodGet, "http://app.example"+DefaultAuthURLPath+"?icecream=Vanilla", nil))
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusOK {
			b.Fatalf("%d %v", w.Code, err)
		}
	}
}
