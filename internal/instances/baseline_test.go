package instances

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// storesLanded says whether this checkout has issue 10's session stores.
// Without them a handler keeps everything in its process's memory, so a
// restart logs everyone out and a login cannot be finished on another
// instance; the Gap tests below pin that behaviour down. Set this to true
// when the stores land: the default store becomes Caddy's storage, and the
// same tests then demand that a shared storage folder keeps the user
// logged in across a restart and across instances.
const storesLanded = false

// Two instances that share nothing each log their own users in, and a
// session of one means nothing to the other. This holds with and without
// the stores (each instance has its own storage folder here).
func TestEachInstanceLogsInItsOwnUsers(t *testing.T) {
	p := NewProvider(t, sgidtest.Options{})
	personas := p.Personas()
	a := Start(t, Options{Name: "A", Site: sgidSite(p, "")})
	b := Start(t, Options{Name: "B", Site: sgidSite(p, "")})

	alice, bob := NewBrowser(t), NewBrowser(t)
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
	if resp, body := GetWithCookies(t, a, "/private/report"); resp.StatusCode != http.StatusUnauthorized {
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

// GAP of issue 10 while storesLanded is false: with the default store, a
// restart logs the user out, even though the instance's storage folder is
// still there, and so does a reload that changes max_sessions. Once the
// stores land, the default store is that folder and the user stays logged
// in through both.
func TestGapDefaultStoreKeepsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(a *Instance, p *Provider)
	}{
		{"restart", func(a *Instance, _ *Provider) { a.Restart() }},
		{"reload with a new max_sessions", func(a *Instance, p *Provider) { a.Reload(sgidSite(p, "max_sessions 500")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProvider(t, sgidtest.Options{})
			sub := p.Personas()[0].Sub
			a := Start(t, Options{Name: "A", Site: sgidSite(p, "")})
			br := NewBrowser(t)
			if loc := br.Login(a, a, "icecream=Kaya"); loc != "/logged-in" {
				t.Fatalf("login ended at %q", loc)
			}
			wantUser(t, br, a, sub, "Kaya")
			tc.do(a, p)
			if storesLanded {
				wantUser(t, br, a, sub, "Kaya")
			} else {
				wantLoggedOut(t, a, br.Cookie(sessionCookie))
			}
		})
	}
}

// GAP of issue 10 while storesLanded is false: two instances behind one
// load balancer, sharing Caddy's storage, cannot finish a login the other
// started; the callback finds no pending login. Once the stores land, the
// login cookie and the default store make it work.
func TestGapDefaultStoreCallbackOnTheOtherInstance(t *testing.T) {
	p := NewProvider(t, sgidtest.Options{})
	sub := p.Personas()[0].Sub
	shared := t.TempDir()
	a := Start(t, Options{Name: "A", Site: sgidSite(p, ""), StorageDir: shared})
	b := Start(t, Options{Name: "B", Site: sgidSite(p, ""), StorageDir: shared})
	br := NewBrowser(t)
	loc, _ := loginAcross(br, NewBalancer(t), a, b, "icecream=Chendol")
	if storesLanded {
		if loc != "/logged-in" {
			t.Fatalf("login started on A, finished on B, ended at %q", loc)
		}
		wantUser(t, br, a, sub, "Chendol")
		wantUser(t, br, b, sub, "Chendol")
		return
	}
	if reason := wantErrorRedirect(t, loc); reason != "login_expired" {
		t.Errorf("today B answers a login A started with %q, want login_expired", reason)
	}
	if c := br.Cookie(sessionCookie); c != nil {
		t.Errorf("a failed callback set a session cookie")
	}
}
