package caddysgid

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// adminCall sends method to the test Caddy's admin endpoint and decodes
// its JSON answer into out (when not nil).
func adminCall(t *testing.T, method, pathQuery string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://localhost:%d%s", testAdminPort, pathQuery), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := newBrowser(t).do(req)
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
	var alices []*browser
	for range 2 {
		b := newBrowser(t)
		if loc := b.login(""); loc != "/logged-in" {
			t.Fatalf("login ended at %q", loc)
		}
		alices = append(alices, b)
	}
	if err := e.provider.SelectPersona(bob); err != nil {
		t.Fatal(err)
	}
	bobs := newBrowser(t)
	bobs.login("")
	if _, info, _ := bobs.userinfo(); info["sub"] != bob {
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
	if n := before.value("caddy_sgid_sessions", "server", "srv0"); n != 3 {
		t.Errorf("caddy_sgid_sessions = %v, want 3", n)
	}
	revokedBefore := before.value("caddy_sgid_revocations_total", "server", "srv0")
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
		if status, _, _ := b.userinfo(); status != http.StatusOK {
			t.Fatalf("a refused DELETE ended a session: %d", status)
		}
	}

	var ended adminAnswer
	status, body = adminCall(t, http.MethodDelete, "/sgid/sessions?sub="+url.QueryEscape(alice), &ended)
	if status != http.StatusOK || ended.Ended != 2 {
		t.Fatalf("DELETE ?sub=alice: %d %s, want 2 ended", status, body)
	}
	for _, b := range alices {
		if status, _, _ := b.userinfo(); status != http.StatusUnauthorized {
			t.Errorf("alice after the revocation: %d, want 401", status)
		}
	}
	if status, _, _ := bobs.userinfo(); status != http.StatusOK {
		t.Errorf("bob after alice's revocation: %d, want 200", status)
	}
	status, body = adminCall(t, http.MethodDelete, "/sgid/sessions?confirm=all-sessions", &ended)
	if status != http.StatusOK || ended.Ended != 1 {
		t.Fatalf("DELETE ?confirm=all-sessions: %d %s, want 1 ended", status, body)
	}
	if status, _, _ := bobs.userinfo(); status != http.StatusUnauthorized {
		t.Errorf("bob after ending all: %d, want 401", status)
	}
	after := scrape(t)
	if d := after.value("caddy_sgid_revocations_total", "server", "srv0") - revokedBefore; d != 3 {
		t.Errorf("caddy_sgid_revocations_total rose by %v, want 3", d)
	}
	if n := after.value("caddy_sgid_sessions", "server", "srv0"); n != 0 {
		t.Errorf("caddy_sgid_sessions = %v after ending all, want 0", n)
	}
}

// TestIdleTimeoutThroughHandler: with session_idle_timeout, a session used
// within the timeout lives on, one left unused longer ends (and is
// counted).
func TestIdleTimeoutThroughHandler(t *testing.T) {
	var clock atomic.Pointer[time.Time]
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	clock.Store(&t0)
	now := func() time.Time { return *clock.Load() }
	h := unitHandler(t, &Handler{SessionIdleTimeout: caddy.Duration(5 * time.Minute), metrics: &metrics{}}, nil, now)
	id := putTestSession(t, h, session.Session{Sub: "idle-user", Expires: t0.Add(time.Hour)})
	reg := prometheus.NewRegistry()
	reg.MustRegister(idleExpiriesTotal)
	expiredBefore := gather(t, reg).value("caddy_sgid_idle_expiries_total", "server", "unknown")
	at := func(d time.Duration) int {
		t1 := t0.Add(d)
		clock.Store(&t1)
		req := httptest.NewRequest(http.MethodGet, DefaultUserinfoPath, nil)
		req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
		return serve(t, h, req, okNext)
	}
	// Used at 5m30s (within timeout + the recording minute), then at 11m.
	if s := at(5*time.Minute + 30*time.Second); s != http.StatusOK {
		t.Fatalf("at 5m30s: %d, want 200", s)
	}
	if s := at(11 * time.Minute); s != http.StatusOK {
		t.Fatalf("at 11m, 5m30s after the last use: %d, want 200", s)
	}
	if s := at(11*time.Minute + 6*time.Minute + time.Second); s != http.StatusUnauthorized {
		t.Fatalf("unused for over 6m: %d, want 401", s)
	}
	if d := gather(t, reg).value("caddy_sgid_idle_expiries_total", "server", "unknown") - expiredBefore; d != 1 {
		t.Errorf("caddy_sgid_idle_expiries_total rose by %v, want 1", d)
	}
}

// TestEvictionsAreCounted: sessions the memory store drops at max_entries
// are counted under the handler's site; key material it keeps is not a
// session and is not counted.
func TestEvictionsAreCounted(t *testing.T) {
	st, err := (&store.Memory{MaxEntries: 4}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := unitHandler(t, &Handler{metrics: &metrics{}}, st, nil)
	h.site = "unit-" + t.Name()
	countEvictions(st, h.metrics, h.site)
	reg := prometheus.NewRegistry()
	reg.MustRegister(evictionsTotal)
	evicted := func() float64 { return gather(t, reg).value("caddy_sgid_sessions_evicted_total", "server", h.site) }
	// The index key takes one place; three sessions fill the rest.
	for range 3 {
		putTestSession(t, h, session.Session{Sub: "alice", Expires: time.Now().Add(time.Hour)})
	}
	if got := evicted(); got != 0 {
		t.Fatalf("evictions before the bound: %v", got)
	}
	for range 2 {
		putTestSession(t, h, session.Session{Sub: "bob", Expires: time.Now().Add(time.Hour)})
	}
	if got := evicted(); got != 2 {
		t.Errorf("evictions counted %v, want 2", got)
	}
	if n, exact, _ := h.sessions.Count(t.Context()); n != 3 || !exact {
		t.Errorf("count = %d (exact %v), want 3 exact", n, exact)
	}
}
