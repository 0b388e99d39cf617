package integration

import (
	"encoding/json"
	"net/http"
	"testing"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testws"
)

// User-Agent headers of two browsers.
const (
	chromeOnMac    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	safariOnIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// ownSessions is b's GET /api/sessions, failing the test unless it
// answers 200 with a list.
func ownSessions(b *testcaddy.Browser) []sparoutes.Listed {
	b.TB.Helper()
	resp, body := b.Get("/api/sessions")
	var got sparoutes.Sessions
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Sessions == nil {
		b.TB.Fatalf("GET /api/sessions: %d %s", resp.StatusCode, body)
	}
	return got.Sessions
}

// endOwnSession sends DELETE /api/sessions/<handle> from b as a page of
// the site, or of site when given, and returns the status and body.
func endOwnSession(b *testcaddy.Browser, handle, site string) (int, string) {
	b.TB.Helper()
	h := http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {testOrigin}}
	if site != "" {
		h = http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {site}}
	}
	resp, body := b.Send(http.MethodDelete, "/api/sessions/"+handle, h, nil)
	return resp.StatusCode, body
}

// TestOwnSessions: through a real Caddy, a user lists their sessions
// (each browser's label, this one marked current) and ends another
// browser's session, whose WebSocket closes at once; another origin's
// page cannot end one, nor can a user end another user's session; ending
// this browser's own session clears its cookie.
func TestOwnSessions(t *testing.T) {
	e, up := newWSEnv(t)
	personas := e.provider.Personas()
	alice, bob := personas[0].Sub, personas[1].Sub
	laptop, phone := newBrowser(t), newBrowser(t)
	laptop.UserAgent(chromeOnMac)
	phone.UserAgent(safariOnIPhone)
	laptop.Login("")
	phone.Login("")
	if err := e.provider.SelectPersona(bob); err != nil {
		t.Fatal(err)
	}
	bobs := newBrowser(t)
	bobs.Login("")

	listed := ownSessions(laptop)
	if len(listed) != 2 || !listed[0].Current || listed[0].Device != "Chrome on macOS" || listed[1].Current || listed[1].Device != "Safari on iOS" ||
		listed[1].Created == nil || *listed[1].Created%60 != 0 {
		t.Fatalf("alice's sessions from the laptop: %+v", listed)
	}
	fromPhone := ownSessions(phone)
	if len(fromPhone) != 2 || fromPhone[0].Handle != listed[1].Handle || fromPhone[1].Handle != listed[0].Handle {
		t.Fatalf("alice's sessions from the phone: %+v; want the same handles", fromPhone)
	}
	bobsOwn := ownSessions(bobs)
	if len(bobsOwn) != 1 {
		t.Fatalf("bob's sessions: %+v", bobsOwn)
	}
	ws := testws.Dial(phone, "/api/ws")

	if status, body := endOwnSession(laptop, listed[1].Handle, "https://evil.example"); status != http.StatusForbidden {
		t.Errorf("a cross-origin delete: %d %s, want 403", status, body)
	}
	if status, body := endOwnSession(laptop, bobsOwn[0].Handle, ""); status != http.StatusNotFound || body != `{"error":"not_found","message":"No session of yours has this handle."}` {
		t.Errorf("deleting bob's session as alice: %d %s, want 404 not_found", status, body)
	}
	if status, info, _ := bobs.Userinfo(); status != http.StatusOK || info["sub"] != bob {
		t.Fatalf("bob after alice tried his handle: %d %v", status, info)
	}
	if status, _, _ := phone.Userinfo(); status != http.StatusOK {
		t.Fatalf("the phone after the refused deletes: %d", status)
	}

	if status, body := endOwnSession(laptop, listed[1].Handle, ""); status != http.StatusOK || body != `{"ended":1}` {
		t.Fatalf("ending the phone's session from the laptop: %d %s", status, body)
	}
	if !testws.WaitClosed(t, ws, up) {
		t.Error("the phone's WebSocket stayed open after its session ended")
	}
	if status, _, _ := phone.Userinfo(); status != http.StatusUnauthorized {
		t.Errorf("the phone after its session ended: %d, want 401", status)
	}
	if status, info, _ := laptop.Userinfo(); status != http.StatusOK || info["sub"] != alice || laptop.Cookie(caddysgid.DefaultCookieName) == nil {
		t.Fatalf("the laptop after ending the phone's session: %d %v", status, info)
	}

	if status, body := endOwnSession(laptop, listed[0].Handle, ""); status != http.StatusOK || body != `{"ended":1}` {
		t.Fatalf("ending the laptop's own session: %d %s", status, body)
	}
	if c := laptop.Cookie(caddysgid.DefaultCookieName); c != nil {
		t.Errorf("ending this browser's session kept its cookie: %v", c)
	}
	if resp, body := laptop.Get("/api/sessions"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("listing after ending its own session: %d %s, want 401", resp.StatusCode, body)
	}
}
