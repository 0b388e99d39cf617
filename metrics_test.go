package caddysgid

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// families is a scrape or a gathering, by metric name.
type families map[string]*dto.MetricFamily

func gather(t *testing.T, g prometheus.Gatherer) families {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := families{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// scrape reads the admin endpoint's /metrics, as Prometheus would.
func scrape(t *testing.T) families {
	t.Helper()
	_, body := newBrowser(t).get(fmt.Sprintf("http://localhost:%d/metrics", testAdminPort))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// value is the series of name with exactly these label pairs: a counter's
// or gauge's value, a histogram's sample count; 0 when it is absent.
func (f families) value(name string, labels ...string) float64 {
	mf, ok := f[name]
	if !ok {
		return 0
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, lp := range m.GetLabel() {
			if want[lp.GetName()] != lp.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

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
	got := gather(t, reloaded)
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
		if v := got.value(c.name, c.labels...); v != c.want {
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

// TestMetricsPerSite scrapes the admin /metrics after a login, a failed
// login, a logout and a guard denial on one site and a login and a
// revocation on another:
// each event is counted once, under its own site (the Caddy server's name),
// and sgID's back-channel latency is there by endpoint and outcome.
func TestMetricsPerSite(t *testing.T) {
	testcaddy.RequirePortsFree(t, 5002)
	e := newEnv(t, sgidtest.Options{}, "")
	const shopOrigin, adminOrigin = testOrigin, "http://localhost:5002"
	sgid := fmt.Sprintf(`sgid {
		client_id     %s
		client_secret %s
		private_key   {file.%s}
		host          %s
		protect /private/*
	}`, e.provider.ClientID(), e.provider.ClientSecret(), e.keyFile, e.provider.URL)
	startCaddy(t, fmt.Sprintf(`{
	servers :9080 {
		name shop
	}
	servers :5002 {
		name backoffice
	}
}
%s {
	%s
	respond "shop" 200
}
%s {
	%s
	respond "backoffice" 200
}`, shopOrigin, sgid, adminOrigin, sgid))

	before := scrape(t)

	shopper := newBrowser(t)
	if loc := shopper.login(""); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	e.provider.SetFaults(sgidtest.Faults{TokenStatus: 500})
	if loc := newBrowser(t).login(""); !strings.Contains(loc, "provider_error") {
		t.Fatalf("failed login ended at %q", loc)
	}
	e.provider.SetFaults(sgidtest.Faults{})
	shopper.get(shopOrigin + "/api/logout")
	// A logout without a session, or with a cookie whose session is gone,
	// ends nothing and is not counted.
	newBrowser(t).get(shopOrigin + "/api/logout")
	newBrowser(t).get(shopOrigin+"/api/logout", "Cookie", DefaultCookieName+"="+session.NewID())
	newBrowser(t).get(shopOrigin+"/private/x", "Sec-Fetch-Mode", "cors")

	clerk := newBrowser(t)
	clerk.base = adminOrigin
	_, body := clerk.get(adminOrigin + "/api/auth-url")
	var start struct{ URL string }
	if err := json.Unmarshal([]byte(body), &start); err != nil {
		t.Fatalf("backoffice auth-url: %q", body)
	}
	if loc := clerk.callback(clerk.atProvider(start.URL)); loc != "/logged-in" {
		t.Fatalf("backoffice login ended at %q", loc)
	}
	// The clerk's session is the only one left; the admin API ends it.
	// Both sites use one sgID client and cookie, so they share their
	// sessions, and the revocation is counted once, under the first name.
	var ended adminAnswer
	sub := e.provider.Personas()[0].Sub
	if status, body := adminCall(t, http.MethodDelete, "/sgid/sessions?sub="+sub, &ended); status != http.StatusOK || ended.Ended != 1 {
		t.Fatalf("revocation: %d %s, want 1 ended", status, body)
	}

	after := scrape(t)
	for _, c := range []struct {
		name   string
		labels []string
		delta  float64
	}{
		{"caddy_sgid_logins_total", []string{"server", "shop", "result", "ok"}, 1},
		{"caddy_sgid_logins_total", []string{"server", "shop", "result", "provider_error"}, 1},
		{"caddy_sgid_logouts_total", []string{"server", "shop"}, 1},
		{"caddy_sgid_guard_denials_total", []string{"server", "shop", "status", "401"}, 1},
		{"caddy_sgid_logins_total", []string{"server", "backoffice", "result", "ok"}, 1},
		{"caddy_sgid_logins_total", []string{"server", "backoffice", "result", "provider_error"}, 0},
		{"caddy_sgid_logouts_total", []string{"server", "backoffice"}, 0},
		{"caddy_sgid_revocations_total", []string{"server", "backoffice"}, 1},
		{"caddy_sgid_revocations_total", []string{"server", "shop"}, 0},
		{"caddy_sgid_provider_request_duration_seconds", []string{"server", "shop", "endpoint", "token", "outcome", "ok"}, 1},
		{"caddy_sgid_provider_request_duration_seconds", []string{"server", "shop", "endpoint", "token", "outcome", "http_error"}, 1},
		{"caddy_sgid_provider_request_duration_seconds", []string{"server", "shop", "endpoint", "userinfo", "outcome", "ok"}, 1},
		{"caddy_sgid_provider_request_duration_seconds", []string{"server", "backoffice", "endpoint", "userinfo", "outcome", "ok"}, 1},
	} {
		if d := after.value(c.name, c.labels...) - before.value(c.name, c.labels...); d != c.delta {
			t.Errorf("%s%v rose by %v, want %v", c.name, c.labels, d, c.delta)
		}
	}
	// The sites share one sgID client (same settings), so the JWKS is
	// fetched once, by whichever site logged in first: the shop.
	if n := after.value("caddy_sgid_provider_request_duration_seconds", "server", "shop", "endpoint", "jwks", "outcome", "ok"); n < 1 {
		t.Errorf("no JWKS fetch recorded for the shop")
	}
}

// TestMetricsSurviveReload: a reload that leaves the sgid settings as they
// are (only a response body changes, so Caddy really reloads and builds a
// new metrics registry) keeps the counters where they were.
func TestMetricsSurviveReload(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	newBrowser(t).login("")
	series := []string{"server", "srv0", "result", "ok"}
	was := scrape(t).value("caddy_sgid_logins_total", series...)
	if was < 1 {
		t.Fatalf("login not counted: %v", was)
	}

	e.load(" (reloaded)")
	if _, body := newBrowser(t).get(testOrigin + "/logged-in"); !strings.HasSuffix(body, "(reloaded)") {
		t.Fatalf("config was not reloaded: %q", body)
	}
	if now := scrape(t).value("caddy_sgid_logins_total", series...); now != was {
		t.Fatalf("after the reload the counter is %v, was %v", now, was)
	}
	newBrowser(t).login("")
	if now := scrape(t).value("caddy_sgid_logins_total", series...); now != was+1 {
		t.Errorf("a login after the reload: counter %v, want %v", now, was+1)
	}
}

// TestMetricsStoreErrors: a store that cannot be reached is counted by
// operation, under the site that asked it.
func TestMetricsStoreErrors(t *testing.T) {
	// Nothing listens on port 1 of the loopback: every call is refused at
	// once, with no network beyond this machine.
	newEnv(t, sgidtest.Options{}, "store redis {\n\t\t\taddress 127.0.0.1:1\n\t\t\tdial_timeout 1s\n\t\t}")
	series := []string{"server", "srv0", "operation", "get"}
	was := scrape(t).value("caddy_sgid_store_errors_total", series...)
	resp, _ := newBrowser(t).get(testOrigin+"/api/userinfo", "Cookie", DefaultCookieName+"="+session.NewID())
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("userinfo with the store down: %d, want 503", resp.StatusCode)
	}
	if now := scrape(t).value("caddy_sgid_store_errors_total", series...); now != was+1 {
		t.Errorf("store errors %v, want %v", now, was+1)
	}
}
