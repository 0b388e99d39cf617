package caddysgid

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestExampleAPIGetsTrustworthyIdentity runs Caddyfile.example as shipped:
// its API behind reverse_proxy answers only logged-in users and sees the
// sub the handler set, never one a client sent.
func TestExampleAPIGetsTrustworthyIdentity(t *testing.T) {
	raw, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	startCaddy(t, string(raw))
	const origin = "http://localhost:5001"
	api := func(b *browser) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, origin+"/api/hello", nil)
		req.Header.Set("Sec-Fetch-Mode", "cors")
		req.Header.Set("X-Sgid-Sub", "sgidtest:forged")
		req.Header.Set("X_Sgid_Sub", "sgidtest:forged")
		resp, body := b.do(req)
		var out map[string]string
		json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out
	}

	b := newBrowser(t)
	if status, out := api(b); status != http.StatusUnauthorized || out["error"] != "login_required" {
		t.Fatalf("API without login: %d %v", status, out)
	}

	persona := sgidtest.DefaultPersonas()[1]
	resp, body := b.get(origin + "/api/auth-url?icecream=Vanilla")
	var start struct{ URL string }
	if err := json.Unmarshal([]byte(body), &start); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("auth-url: %d %s", resp.StatusCode, body)
	}
	b.base = origin
	if loc := b.mockApprove(start.URL, persona.Sub); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	status, out := api(b)
	if status != http.StatusOK || out["user"] != persona.Sub {
		t.Errorf("API after login: %d %v, want user %q", status, out, persona.Sub)
	}

	b.get(origin + "/api/logout")
	if status, _ := api(b); status != http.StatusUnauthorized {
		t.Errorf("API after logout: %d", status)
	}
}
