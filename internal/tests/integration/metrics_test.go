package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

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
	if loc := shopper.Login(""); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	e.provider.SetFaults(sgidtest.Faults{TokenStatus: 500})
	if loc := newBrowser(t).Login(""); !strings.Contains(loc, "provider_error") {
		t.Fatalf("failed login ended at %q", loc)
	}
	e.provider.SetFaults(sgidtest.Faults{})
	shopper.Get(shopOrigin + "/api/logout")
	// A logout without a session, or with a cookie whose session is gone,
	// ends nothing and is not counted.
	newBrowser(t).Get(shopOrigin + "/api/logout")
	newBrowser(t).Get(shopOrigin+"/api/logout", "Cookie", caddysgid.DefaultCookieName+"="+session.NewID())
	newBrowser(t).Get(shopOrigin+"/private/x", "Sec-Fetch-Mode", "cors")

	clerk := newBrowser(t)
	clerk.Base = adminOrigin
	_, body := clerk.Get(adminOrigin + "/api/auth-url")
	var start struct{ URL string }
	if err := json.Unmarshal([]byte(body), &start); err != nil {
		t.Fatalf("backoffice auth-url: %q", body)
	}
	if loc := clerk.Callback(clerk.AtProvider(start.URL)); loc != "/logged-in" {
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
		if d := after.Value(c.name, c.labels...) - before.Value(c.name, c.labels...); d != c.delta {
			t.Errorf("%s%v rose by %v, want %v", c.name, c.labels, d, c.delta)
		}
	}
	// The sites share one sgID client (same settings), so the JWKS is
	// fetched once, by whichever site logged in first: the shop.
	if n := after.Value("caddy_sgid_provider_request_duration_seconds", "server", "shop", "endpoint", "jwks", "outcome", "ok"); n < 1 {
		t.Errorf("no JWKS fetch recorded for the shop")
	}
}

// TestMetricsSurviveReload: a reload that leaves the sgid settings as they
// are (only a response body changes, so Caddy really reloads and builds a
// new metrics registry) keeps the counters where they were.
func TestMetricsSurviveReload(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	newBrowser(t).Login("")
	series := []string{"server", "srv0", "result", "ok"}
	was := scrape(t).Value("caddy_sgid_logins_total", series...)
	if was < 1 {
		t.Fatalf("login not counted: %v", was)
	}

	e.load(" (reloaded)")
	if _, body := newBrowser(t).Get(testOrigin + "/logged-in"); !strings.HasSuffix(body, "(reloaded)") {
		t.Fatalf("config was not reloaded: %q", body)
	}
	if now := scrape(t).Value("caddy_sgid_logins_total", series...); now != was {
		t.Fatalf("after the reload the counter is %v, was %v", now, was)
	}
	newBrowser(t).Login("")
	if now := scrape(t).Value("caddy_sgid_logins_total", series...); now != was+1 {
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
	was := scrape(t).Value("caddy_sgid_store_errors_total", series...)
	resp, _ := newBrowser(t).Get(testOrigin+"/api/userinfo", "Cookie", caddysgid.DefaultCookieName+"="+session.NewID())
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("userinfo with the store down: %d, want 503", resp.StatusCode)
	}
	if now := scrape(t).Value("caddy_sgid_store_errors_total", series...); now != was+1 {
		t.Errorf("store errors %v, want %v", now, was+1)
	}
}

// scrape reads the admin endpoint's /metrics, as Prometheus would.
func scrape(t *testing.T) testcaddy.Metrics {
	t.Helper()
	_, body := newBrowser(t).Get(fmt.Sprintf("http://localhost:%d/metrics", testAdminPort))
	return testcaddy.ParseMetrics(t, body)
}
