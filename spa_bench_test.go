package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkSessionRouteFromSession: session_path for a logged-in user, the
// route every open page polls; compare BenchmarkUserinfoFromSession.
func BenchmarkSessionRouteFromSession(b *testing.B) {
	h, cookie := benchHandler(b)
	req := httptest.NewRequest(http.MethodGet, DefaultSessionPath, nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		if serve(b, h, req, okNext) != http.StatusOK {
			b.Fatal("not 200")
		}
	}
}
