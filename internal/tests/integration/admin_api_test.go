package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// adminCall sends method to the test Caddy's admin endpoint and decodes
// its JSON answer into out (when not nil).
func adminCall(t *testing.T, method, pathQuery string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://localhost:%d%s", testAdminPort, pathQuery), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := newBrowser(t).Do(req)
	if out != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("%s %s: %q is not the expected JSON: %v", method, pathQuery, body, err)
		}
	}
	return resp.StatusCode, body
}

type adminAnswer struct {
	Ended int `json:"ended"`
	Sites []struct {
		Scope    string   `json:"scope"`
		Servers  []string `json:"servers"`
		Sessions *int     `json:"sessions"`
		Exact    *bool    `json:"exact"`
		Ended    *int     `json:"ended"`
	} `json:"sites"`
}

// TestAdminSessions drives the admin API's /sgid/sessions on a running
// Caddy with a memory store: counts per site without personal data, ending
// one user's sessions and no one else's, refusing a DELETE that names
// neither a user nor the confirmation, and ending all.
func TestAdminSessions(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "store memory")
	personas := e.provider.Personas()
	alice, bob := personas[0].Sub, personas[1].Sub
	var alices []*testcaddy.Browser
	for range 2 {
		b := newBrowser(t)
		if loc := b.Login(""); loc != "/logged-in" {
			t.Fatalf("login ended at %q", loc)
		}
		alices = append(alices, b)
	}
	if err := e.provider.SelectPersona(bob); err != nil {
		t.Fatal(err)
	}
	bobs := newBrowser(t)
	bobs.Login("")
	if _, info, _ := bobs.Userinfo(); info["sub"] != bob {
		t.Fatalf("second persona logged in as %v", info["sub"])
	}

	var count adminAnswer
	status, body := adminCall(t, http.MethodGet, "/sgid/sessions", &count)
	if status != http.StatusOK || len(count.Sites) != 1 || count.Sites[0].Sessions == nil || *count.Sites[0].Sessions != 3 ||
		!*count.Sites[0].Exact || len(count.Sites[0].Servers) != 1 || count.Sites[0].Servers[0] != "srv0" {
		t.Fatalf("GET /sgid/sessions: %d %s, want one site srv0 with 3 sessions, exact", status, body)
	}
	for _, p := range personas {
		if strings.Contains(body, p.Sub) {
			t.Errorf("the count names a user: %s", body)
		}
	}

	before := scrape(t)
	if n := before.Value("caddy_sgid_sessions", "server", "srv0"); n != 3 {
		t.Errorf("caddy_sgid_sessions = %v, want 3", n)
	}
	revokedBefore := before.Value("caddy_sgid_revocations_total", "server", "srv0")
	for _, bad := range []string{"/sgid/sessions", "/sgid/sessions?confirm=yes", "/sgid/sessions?sub=", "/sgid/sessions?sub=" + alice + "&confirm=all-sessions", "/sgid/sessions?sub=" + strings.Repeat("x", 300)} {
		if status, body := adminCall(t, http.MethodDelete, bad, nil); status != http.StatusBadRequest {
			t.Errorf("DELETE %s: %d %s, want 400", bad, status, body)
		}
	}
	if status, _ := adminCall(t, http.MethodPost, "/sgid/sessions", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /sgid/sessions: %d, want 405", status)
	}
	if status, _ := adminCall(t, http.MethodGet, "/sgid/other", nil); status != http.StatusNotFound {
		t.Errorf("GET /sgid/other: %d, want 404", status)
	}
	for _, b := range append(alices, bobs) {
		if status, _, _ := b.Userinfo(); status != http.StatusOK {
			t.Fatalf("a refused DELETE ended a session: %d", status)
		}
	}

	var ended adminAnswer
	status, body = adminCall(t, http.MethodDelete, "/sgid/sessions?sub="+url.QueryEscape(alice), &ended)
	if status != http.StatusOK || ended.Ended != 2 {
		t.Fatalf("DELETE ?sub=alice: %d %s, want 2 ended", status, body)
	}
	for _, b := range alices {
		if status, _, _ := b.Userinfo(); status != http.StatusUnauthorized {
			t.Errorf("alice after the revocation: %d, want 401", status)
		}
	}
	if status, _, _ := bobs.Userinfo(); status != http.StatusOK {
		t.Errorf("bob after alice's revocation: %d, want 200", status)
	}
	status, body = adminCall(t, http.MethodDelete, "/sgid/sessions?confirm=all-sessions", &ended)
	if status != http.StatusOK || ended.Ended != 1 {
		t.Fatalf("DELETE ?confirm=all-sessions: %d %s, want 1 ended", status, body)
	}
	if status, _, _ := bobs.Userinfo(); status != http.StatusUnauthorized {
		t.Errorf("bob after ending all: %d, want 401", status)
	}
	after := scrape(t)
	if d := after.Value("caddy_sgid_revocations_total", "server", "srv0") - revokedBefore; d != 3 {
		t.Errorf("caddy_sgid_revocations_total rose by %v, want 3", d)
	}
	if n := after.Value("caddy_sgid_sessions", "server", "srv0"); n != 0 {
		t.Errorf("caddy_sgid_sessions = %v after ending all, want 0", n)
	}
}
