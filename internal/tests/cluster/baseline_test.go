package cluster

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// Two instances that share nothing each log their own users in, and a
// session of one means nothing to the other. This holds with and without
// the stores (each instance has its own storage folder here).
func TestEachInstanceLogsInItsOwnUsers(t *testing.T) {
	p := cluster.NewProvider(t, sgidtest.Options{})
	personas := p.Personas()
	a := cluster.Start(t, cluster.Options{Name: "A", Site: sgidSite(p, "")})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: sgidSite(p, "")})

	alice, bob := cluster.NewBrowser(t), cluster.NewBrowser(t)
	if err := p.SelectPersona(personas[0].Sub); err != nil {
		t.Fatal(err)
	}
	if loc := alice.Login(a, a, "icecream=Mango"); loc != "/logged-in" {
		t.Fatalf("login on A ended at %q", loc)
	}
	if err := p.SelectPersona(personas[1].Sub); err != nil {
		t.Fatal(err)
	}
	if loc := bob.Login(b, b, "icecream=Durian"); loc != "/logged-in" {
		t.Fatalf("login on B ended at %q", loc)
	}
	wantUser(t, alice, a, personas[0].Sub, "Mango")
	wantUser(t, bob, b, personas[1].Sub, "Durian")

	// The guard of each instance lets its own user through.
	if resp, body := alice.Get(a.URL("/private/report")); resp.StatusCode != http.StatusOK || !strings.Contains(body, "user="+personas[0].Sub) {
		t.Errorf("guarded path on A: %d %q", resp.StatusCode, body)
	}
	if resp, body := cluster.GetWithCookies(t, a, "/private/report"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("guarded path on A without a cookie: %d %q", resp.StatusCode, body)
	}

	// A cookie is no credential by itself: each instance knows only its
	// own sessions.
	wantLoggedOut(t, b, alice.Cookie(sessionCookie))
	wantLoggedOut(t, a, bob.Cookie(sessionCookie))

	// Logging out on A leaves B's user alone.
	alice.Logout(a)
	wantLoggedOut(t, a)
	wantUser(t, bob, b, personas[1].Sub, "Durian")
}

// With the default store, Caddy's storage folder, a restart keeps the user
// logged in, and so does a reload that changes the settings.
func TestDefaultStoreKeepsSessions(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(a *cluster.Instance, p *cluster.Provider)
	}{
		{"restart", func(a *cluster.Instance, _ *cluster.Provider) { a.Restart() }},
		{"reload with new settings", func(a *cluster.Instance, p *cluster.Provider) { a.Reload(sgidSite(p, "cache_ttl 5s")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := cluster.NewProvider(t, sgidtest.Options{})
			sub := p.Personas()[0].Sub
			a := cluster.Start(t, cluster.Options{Name: "A", Site: sgidSite(p, "")})
			br := cluster.NewBrowser(t)
			if loc := br.Login(a, a, "icecream=Kaya"); loc != "/logged-in" {
				t.Fatalf("login ended at %q", loc)
			}
			wantUser(t, br, a, sub, "Kaya")
			tc.do(a, p)
			wantUser(t, br, a, sub, "Kaya")
		})
	}
}

// Two instances behind one load balancer, sharing Caddy's storage and no
// configuration beyond it, finish a login the other started: the login
// cookie is sealed with a key both read from the storage.
func TestDefaultStoreCallbackOnTheOtherInstance(t *testing.T) {
	p := cluster.NewProvider(t, sgidtest.Options{})
	sub := p.Personas()[0].Sub
	shared := t.TempDir()
	a := cluster.Start(t, cluster.Options{Name: "A", Site: sgidSite(p, ""), StorageDir: shared})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: sgidSite(p, ""), StorageDir: shared})
	br := cluster.NewBrowser(t)
	loc, _ := loginAcross(br, cluster.NewBalancer(t), a, b, "icecream=Chendol")
	if loc != "/logged-in" {
		t.Fatalf("login started on A, finished on B, ended at %q", loc)
	}
	wantUser(t, br, a, sub, "Chendol")
	wantUser(t, br, b, sub, "Chendol")
}
