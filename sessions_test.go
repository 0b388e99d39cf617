package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-sgid/caddy-sgid/internal/metrics"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// TestIdleTimeoutThroughHandler: with session_idle_timeout, a session used
// within the timeout lives on, one left unused longer ends (and is
// counted).
func TestIdleTimeoutThroughHandler(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	clock := testclock.New(t0)
	h := unitHandler(t, &Handler{SessionIdleTimeout: caddy.Duration(5 * time.Minute), metrics: metrics.New(nil)}, nil, clock.Now)
	id := putTestSession(t, h, session.Session{Sub: "idle-user", Expires: t0.Add(time.Hour)})
	reg := prometheus.NewRegistry()
	if err := h.metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	expiredBefore := testcaddy.GatherMetrics(t, reg).Value("caddy_sgid_idle_expiries_total", "server", "unknown")
	at := func(d time.Duration) int {
		clock.Set(t0.Add(d))
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
	if d := testcaddy.GatherMetrics(t, reg).Value("caddy_sgid_idle_expiries_total", "server", "unknown") - expiredBefore; d != 1 {
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
	h := unitHandler(t, &Handler{metrics: metrics.New(nil)}, st, nil)
	h.site = "unit-" + t.Name()
	countEvictions(st, h.metrics, h.site)
	reg := prometheus.NewRegistry()
	if err := h.metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	evicted := func() float64 {
		return testcaddy.GatherMetrics(t, reg).Value("caddy_sgid_sessions_evicted_total", "server", h.site)
	}
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
	if n, exact, _ := h.sessions.Count(t.Context(), true); n != 3 || !exact {
		t.Errorf("count = %d (exact %v), want 3 exact", n, exact)
	}
}
