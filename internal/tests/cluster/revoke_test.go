package cluster

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestRevokeAcrossInstances: with two instances sharing a store, ending a
// user's sessions on A's admin endpoint logs the user out on A at once and
// on B within the logout bound (B holds the session in its cache), and
// leaves another user logged in on both.
func TestRevokeAcrossInstances(t *testing.T) {
	for _, k := range storeKinds {
		if k.name != "storage" && k.name != "redis" {
			continue
		}
		t.Run(k.name, func(t *testing.T) { testRevokeAcross(t, k) })
	}
}

func testRevokeAcross(t *testing.T, k storeKind) {
	p := cluster.NewProvider(t, sgidtest.Options{})
	personas := p.Personas()
	alice, bob := personas[0].Sub, personas[1].Sub
	shared, _ := k.setup(t)
	folder := t.TempDir()
	a := cluster.Start(t, cluster.Options{Name: "A", Site: sgidSite(p, shared), StorageDir: folder})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: sgidSite(p, shared), StorageDir: folder})

	aliceBr := cluster.NewBrowser(t)
	if loc := aliceBr.Login(a, a, "icecream=Pandan"); loc != "/logged-in" {
		t.Fatalf("alice's login ended at %q", loc)
	}
	session := aliceBr.Cookie(sessionCookie)
	if err := p.SelectPersona(bob); err != nil {
		t.Fatal(err)
	}
	bobBr := cluster.NewBrowser(t)
	if loc := bobBr.Login(b, b, "icecream=Durian"); loc != "/logged-in" {
		t.Fatalf("bob's login ended at %q", loc)
	}
	// B answers for alice, so her session sits in B's cache.
	wantUser(t, aliceBr, b, alice, "Pandan")
	wantUser(t, aliceBr, a, alice, "Pandan")

	status, body := a.Admin(http.MethodDelete, "/sgid/sessions?sub="+url.QueryEscape(alice))
	var ended struct{ Ended int }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &ended) != nil || ended.Ended != 1 {
		t.Fatalf("DELETE on A's admin endpoint: %d %s, want 1 ended", status, body)
	}
	wantLoggedOut(t, a, session)
	waitLoggedOut(t, b, session, "the revocation on A")
	wantUser(t, bobBr, a, bob, "Durian")
	wantUser(t, bobBr, b, bob, "Durian")

	// B's admin endpoint counts what is left in the shared store: bob.
	status, body = b.Admin(http.MethodGet, "/sgid/sessions")
	var count struct {
		Sites []struct {
			Sessions int
			Exact    bool
		}
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &count) != nil || len(count.Sites) != 1 || count.Sites[0].Sessions != 1 || count.Sites[0].Exact {
		t.Errorf("GET on B's admin endpoint: %d %s, want 1 session, not exact", status, body)
	}
}
