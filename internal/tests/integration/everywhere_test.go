package integration

import (
	"net/http"
	"testing"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// Logging out everywhere ends every session of the user, in every
// browser, and no other user's.
func TestLogoutEverywhere(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "store memory")
	personas := e.provider.Personas()
	alice, bob := personas[0].Sub, personas[1].Sub
	var alices []*testcaddy.Browser
	for range 2 {
		b := newBrowser(t)
		b.Login("")
		alices = append(alices, b)
	}
	if err := e.provider.SelectPersona(bob); err != nil {
		t.Fatal(err)
	}
	bobs := newBrowser(t)
	bobs.Login("")
	for i, b := range append(alices, bobs) {
		if status, info, _ := b.Userinfo(); status != http.StatusOK || info["sub"] != []string{alice, alice, bob}[i] {
			t.Fatalf("browser %d before: %d %v", i, status, info["sub"])
		}
	}

	req, _ := http.NewRequest(http.MethodPost, testOrigin+"/api/logout?everywhere=1", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, body := alices[0].Do(req)
	if resp.StatusCode != http.StatusOK || body != `{"ended":2}` {
		t.Fatalf("logout everywhere: %d %s, want 200 {\"ended\":2}", resp.StatusCode, body)
	}
	for i, b := range alices {
		if status, _, body := b.Userinfo(); status != http.StatusUnauthorized {
			t.Errorf("alice's browser %d after logging out everywhere: %d %s", i, status, body)
		}
	}
	if status, info, _ := bobs.Userinfo(); status != http.StatusOK || info["sub"] != bob {
		t.Errorf("bob after alice logged out everywhere: %d %v", status, info["sub"])
	}
	if c := alices[0].Cookie(caddysgid.DefaultCookieName); c != nil {
		t.Errorf("the session cookie was kept: %v", c)
	}
}
