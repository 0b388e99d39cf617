package navigation

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestIs(t *testing.T) {
	t.Parallel()
	browserAccept := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		name   string
		header []string
		want   bool
	}{
		{"browser navigation", []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document", "Accept", browserAccept}, true},
		{"iframe navigation", []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"}, true},
		{"fetch", []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Accept", "*/*"}, false},
		{"fetch asking for html", []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Accept", "text/html"}, false},
		{"same-origin fetch", []string{"Sec-Fetch-Mode", "same-origin", "Accept", browserAccept}, false},
		{"no-cors image", []string{"Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}, false},
		{"dest empty without mode", []string{"Sec-Fetch-Dest", "empty", "Accept", browserAccept}, false},
		{"old browser navigation", []string{"Accept", browserAccept}, true},
		{"old browser XHR", []string{"Accept", browserAccept, "X-Requested-With", "XMLHttpRequest"}, false},
		{"XHR claiming navigate", []string{"Sec-Fetch-Mode", "navigate", "X-Requested-With", "XMLHttpRequest"}, false},
		{"json client", []string{"Accept", "application/json"}, false},
		{"json preferred", []string{"Accept", "application/json, text/html;q=0.5"}, false},
		{"html preferred", []string{"Accept", "application/json;q=0.5, TEXT/HTML"}, true},
		{"html refused", []string{"Accept", "text/html;q=0"}, false},
		{"curl", []string{"Accept", "*/*"}, false},
		{"no headers", nil, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Set(tc.header[i], tc.header[i+1])
		}
		if got := Is(r); got != tc.want {
			t.Errorf("%s: Is = %v, want %v", tc.name, got, tc.want)
		}
	}
}
