package crossorigin

import (
	"net/http/httptest"
	"testing"
)

func TestNewValidatesTrustedOrigins(t *testing.T) {
	t.Parallel()
	for origin, ok := range map[string]bool{"https://admin.example": true, "http://localhost:5001": true, "admin.example": false, "https://admin.example/path": false} {
		if _, err := New([]string{origin}); (err == nil) != ok {
			t.Errorf("%q: %v", origin, err)
		}
	}
}

// The policy's verdicts for what browsers send: a sibling subdomain is
// another origin; a typed address, curl and the site's own pages are not;
// a trusted origin passes; GET, HEAD and OPTIONS are no writes, except a
// GET that opens a WebSocket.
func TestPolicy(t *testing.T) {
	t.Parallel()
	trusting, err := New([]string{"https://admin.example"})
	if err != nil {
		t.Fatal(err)
	}
	type headers map[string]string
	sameOrigin := headers{"Sec-Fetch-Site": "same-origin", "Origin": "http://app.example"}
	sibling := headers{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.app.example"}
	typed := headers{"Sec-Fetch-Site": "none"}
	oldSibling := headers{"Origin": "https://evil.app.example"}
	oldSame := headers{"Origin": "http://app.example"}
	admin := headers{"Sec-Fetch-Site": "cross-site", "Origin": "https://admin.example"}
	upgrade := headers{"Connection": "Upgrade", "Upgrade": "websocket"}
	for _, tc := range []struct {
		name       string
		p          *Policy
		method     string
		h          []headers
		write      bool // Write's verdict
		sameOrigin bool // SameOrigin's verdict
	}{
		{"same-origin POST", nil, "POST", []headers{sameOrigin}, false, true},
		{"sibling POST", nil, "POST", []headers{sibling}, true, false},
		{"sibling DELETE", nil, "DELETE", []headers{sibling}, true, false},
		{"sibling GET", nil, "GET", []headers{sibling}, false, false},
		{"sibling HEAD", nil, "HEAD", []headers{sibling}, false, false},
		{"sibling OPTIONS", nil, "OPTIONS", []headers{sibling}, false, false},
		{"sibling WebSocket", nil, "GET", []headers{sibling, upgrade}, true, false},
		{"same-origin WebSocket", nil, "GET", []headers{sameOrigin, upgrade}, false, true},
		{"typed address", nil, "POST", []headers{typed}, false, true},
		{"curl", nil, "POST", nil, false, true},
		{"old browser, sibling", nil, "POST", []headers{oldSibling}, true, false},
		{"old browser, same origin", nil, "POST", []headers{oldSame}, false, true},
		{"untrusted admin", nil, "POST", []headers{admin}, true, false},
		{"trusted admin", trusting, "POST", []headers{admin}, false, true},
		{"trusting, sibling", trusting, "POST", []headers{sibling}, true, false},
	} {
		r := httptest.NewRequest(tc.method, "http://app.example/api/x", nil)
		for _, h := range tc.h {
			for k, v := range h {
				r.Header.Set(k, v)
			}
		}
		if got := tc.p.Write(r); got != tc.write {
			t.Errorf("%s: Write = %v, want %v", tc.name, got, tc.write)
		}
		if got := tc.p.SameOrigin(r); got != tc.sameOrigin {
			t.Errorf("%s: SameOrigin = %v, want %v", tc.name, got, tc.sameOrigin)
		}
		if r.Method != tc.method {
			t.Errorf("%s: the request's method changed to %s", tc.name, r.Method)
		}
	}
}
