package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testws"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// User-Agent headers of two browsers.
const (
	chromeOnMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	safariOnIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// TestOwnSessionsAcrossInstances: with two instances sharing a store, a
// user logged in on A from one browser and on B from another sees the
// same two sessions, under the same handles, on either instance; ending
// the A session from B logs it out on A and closes its WebSocket there;
// another user's handle gets 404 and ends nothing.
func TestOwnSessionsAcrossInstances(t *testing.T) {
	for _, k := range storeKinds {
		if k.name != "storage" && k.name != "redis" {
			continue
		}
		t.Run(k.name, func(t *testing.T) { testOwnSessionsAcross(t, k) })
	}
}

func testOwnSessionsAcross(t *testing.T, k storeKind) {
	p := cluster.NewProvider(t, sgidtest.Options{})
	personas := p.Personas()
	bob := personas[1].Sub
	up := testws.NewUpstream(t)
	shared, _ := k.setup(t)
	// cache_ttl 1s: A's sweep of upgraded connections asks the store
	// about their sessions every second.
	site := sgidSite(p, shared+"\n\t\tcache_ttl 1s") + fmt.Sprintf("\n\thandle /private/ws {\n\t\treverse_proxy %s\n\t}", up.Addr())
	folder := t.TempDir()
	a := cluster.Start(t, cluster.Options{Name: "A", Site: site, StorageDir: folder})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: site, StorageDir: folder})

	laptop, phone := cluster.NewBrowser(t), cluster.NewBrowser(t)
	laptop.UserAgent(chromeOnMac)
	phone.UserAgent(safariOnIPhone)
	if loc := laptop.Login(a, a, ""); loc != "/logged-in" {
		t.Fatalf("the laptop's login on A ended at %q", loc)
	}
	if loc := phone.Login(b, b, ""); loc != "/logged-in" {
		t.Fatalf("the phone's login on B ended at %q", loc)
	}
	laptopSession := laptop.Cookie(sessionCookie)
	if err := p.SelectPersona(bob); err != nil {
		t.Fatal(err)
	}
	bobs := cluster.NewBrowser(t)
	if loc := bobs.Login(a, a, ""); loc != "/logged-in" {
		t.Fatalf("bob's login on A ended at %q", loc)
	}

	onA, onB := ownSessionsOn(t, laptop, a), ownSessionsOn(t, phone, b)
	if len(onA) != 2 || len(onB) != 2 || onA[0].Handle != onB[1].Handle || onA[1].Handle != onB[0].Handle ||
		onA[0].Device != "Chrome on macOS" || onB[0].Device != "Safari on iOS" || !onA[0].Current || !onB[0].Current {
		t.Fatalf("listed on A from the laptop %+v, on B from the phone %+v: want the same two sessions", onA, onB)
	}
	bobsHandle := ownSessionsOn(t, bobs, a)[0].Handle
	ws := testws.Dial(laptop.At(a.Origin), "/private/ws")

	if status, body := deleteOn(t, phone, b, bobsHandle); status != http.StatusNotFound {
		t.Errorf("alice deleting bob's session on B: %d %s, want 404", status, body)
	}
	if status, body := bobs.Userinfo(a); status != http.StatusOK {
		t.Fatalf("bob after alice tried his handle: %d %s", status, body)
	}
	if status, body := deleteOn(t, phone, b, onB[1].Handle); status != http.StatusOK || body != `{"ended":1}` {
		t.Fatalf("ending the laptop's session from the phone on B: %d %s", status, body)
	}
	waitLoggedOut(t, a, laptopSession, "ending it from B")
	if !testws.WaitClosed(t, ws, up) {
		t.Error("the laptop's WebSocket through A stayed open after its session ended on B")
	}
	for _, i := range []*cluster.Instance{a, b} {
		if status, body := phone.Userinfo(i); status != http.StatusOK {
			t.Errorf("the phone on %s after ending the laptop's session: %d %s", i, status, body)
		}
	}
	if left := ownSessionsOn(t, phone, a); len(left) != 1 || !left[0].Current {
		t.Errorf("listed on A after the end: %+v, want the phone's alone", left)
	}
}

// ownSessionsOn is br's GET /api/sessions on i.
func ownSessionsOn(t *testing.T, br *cluster.Browser, i *cluster.Instance) []sparoutes.Listed {
	t.Helper()
	resp, body := br.At(i.Origin).Get("/api/sessions")
	var got sparoutes.Sessions
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("GET /api/sessions on %s: %d %s", i, resp.StatusCode, body)
	}
	return got.Sessions
}

// deleteOn sends DELETE /api/sessions/<handle> from a page of i's site.
func deleteOn(t *testing.T, br *cluster.Browser, i *cluster.Instance, handle string) (int, string) {
	t.Helper()
	resp, body := br.At(i.Origin).Send(http.MethodDelete, "/api/sessions/"+handle, http.Header{"Sec-Fetch-Site": {"same-origin"}}, nil)
	return resp.StatusCode, body
}
