package caddysgid

import (
	"encoding/json"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// TestURLAnswer: auth-url's answer is byte for byte what encoding/json
// writes for {"url": u}, for URLs as sgID's are and for any string.
func TestURLAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, url string }{
		{"authorization URL", "https://api.id.gov.sg/v2/oauth/authorize?client_id=a&redirect_uri=https%3A%2F%2Fx&scope=openid+myinfo.name"},
		{"empty", ""},
		{"html characters", `<a href="x">&amp;</a>`},
		{"backslash and quote", `a\b"c`},
		{"control characters", "a\x00b\nc\td\x1f\x7f"},
		{"non-ASCII", "https://x/é?q=中文\u2028\u2029"},
		{"invalid UTF-8", "a\xffb\xc3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(struct {
				URL string `json:"url"`
			}{tc.url})
			if err != nil {
				t.Fatal(err)
			}
			if got := urlAnswer(tc.url); string(got) != string(want) {
				t.Errorf("urlAnswer(%q) = %s, want %s", tc.url, got, want)
			}
		})
	}
}

// TestAuthURLAnswer: auth-url's answer is urlAnswer of the authorization
// URL the client returns, rewritten for the browser in mock mode, and an
// answer handed back and reused leaves the next one as it should be.
func TestAuthURLAnswer(t *testing.T) {
	t.Parallel()
	plain := unitHandler(t, &Handler{}, nil, nil)
	plain.client = mustTestClient(t)
	for _, tc := range []struct {
		name string
		h    *Handler
		p    sgid.AuthParams
	}{
		{"sgID", plain, sgid.AuthParams{State: "state-1", Nonce: "nonce-1", RedirectURI: "http://app.example/api/redirect"}},
		{"sgID, another redirect URI", plain, sgid.AuthParams{State: "state-2", Nonce: "nonce-2", RedirectURI: "https://other.example/api/redirect?a=<b>&c"}},
		{"mock", mockHandler(t, nil), sgid.AuthParams{State: "state-3", Nonce: "nonce-3", RedirectURI: "http://localhost/api/redirect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tc.p.CodeChallenge = sgid.GeneratePKCEPair()
			u, _, err := tc.h.client.AuthorizationURL(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.h.mock != nil {
				u = mockBrowserURL(u)
			}
			want := urlAnswer(u)
			for i := range 3 {
				a, err := tc.h.authURLAnswer(tc.p)
				if err != nil {
					t.Fatal(err)
				}
				if string(a.body) != string(want) {
					t.Fatalf("answer %d: %s\nwant %s", i+1, a.body, want)
				}
				a.release()
			}
		})
	}
}
