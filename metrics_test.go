package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caddy-sgid/caddy-sgid/internal/testcaddy"
)

// TestMetricsCarryOverToANewRegistry: Caddy gives every config load a new
// registry; what was counted before is in the new one, and a second
// handler in the same config registers without error.
func TestMetricsCarryOverToANewRegistry(t *testing.T) {
	site := "unit-" + t.Name()
	first := prometheus.NewPedanticRegistry()
	m, err := newMetrics(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newMetrics(first); err != nil {
		t.Fatalf("a second handler in the same config: %v", err)
	}
	m.login(site, "ok")
	m.login(site, "ok")
	m.login(site, reasonStateMismatch)
	m.logout(site)
	m.revocation(site, 3)
	m.revocation(site, 0)
	m.evicted(site)
	m.idleExpired(site)
	m.idleExpired(site)
	m.storeError(site, "put_session")
	m.sessionsHeld(site, 7)
	m.denial(site, "401")

	reloaded := prometheus.NewPedanticRegistry()
	if _, err := newMetrics(reloaded); err != nil {
		t.Fatal(err)
	}
	got := testcaddy.GatherMetrics(t, reloaded)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"caddy_sgid_logins_total", []string{"server", site, "result", "ok"}, 2},
		{"caddy_sgid_logins_total", []string{"server", site, "result", "state_mismatch"}, 1},
		{"caddy_sgid_logouts_total", []string{"server", site}, 1},
		{"caddy_sgid_revocations_total", []string{"server", site}, 3},
		{"caddy_sgid_sessions_evicted_total", []string{"server", site}, 1},
		{"caddy_sgid_idle_expiries_total", []string{"server", site}, 2},
		{"caddy_sgid_store_errors_total", []string{"server", site, "operation", "put_session"}, 1},
		{"caddy_sgid_sessions", []string{"server", site}, 7},
		{"caddy_sgid_guard_denials_total", []string{"server", site, "status", "401"}, 1},
	} {
		if v := got.Value(c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v in the new registry, want %v", c.name, c.labels, v, c.want)
		}
	}

	// A collector of the same name that is not ours is a conflict to
	// report, not to paper over.
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_sgid_logins_total", Help: "other"}, []string{"x"}))
	if _, err := newMetrics(clash); err == nil {
		t.Error("a foreign collector under our name was accepted")
	}
}

// TestMetricsNilAndUnknownSite: a handler without metrics (never
// provisioned) counts nothing and does not panic; a request outside any
// Caddy server is labelled "unknown".
func TestMetricsNilAndUnknownSite(t *testing.T) {
	var m *metrics
	m.login("x", "ok")
	m.logout("x")
	m.sessionsHeld("x", 1)
	if got := siteOf(httptest.NewRequest(http.MethodGet, "/", nil)); got != "unknown" {
		t.Errorf("site of a bare request: %q", got)
	}
}
