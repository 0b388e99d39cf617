package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// health is the JSON of GET /sgid/health.
type health struct {
	Status string `json:"status"`
	Sites  map[string]struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	} `json:"sites"`
}

// healthCall gets /sgid/health from the test Caddy's admin endpoint and
// decodes the answer, whatever its status.
func healthCall(t *testing.T) (int, health, string) {
	t.Helper()
	status, body := adminCall(t, http.MethodGet, "/sgid/health", nil)
	var got health
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("GET /sgid/health: %d %q is not the health JSON: %v", status, body, err)
	}
	return status, got, body
}

// TestAdminHealth: on a running Caddy, GET /sgid/health answers 200 while
// the store, the keys and sgID are fine, and 503 naming the provider once
// sgID cannot be reached.
func TestAdminHealth(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "store memory")
	status, got, body := healthCall(t)
	site := got.Sites["srv0"]
	want := map[string]string{"store": "ok", "keys": "ok", "provider": "ok"}
	if status != http.StatusOK || got.Status != "ok" || len(got.Sites) != 1 || site.Status != "ok" || !maps.Equal(site.Checks, want) {
		t.Fatalf("GET /sgid/health: %d %s, want 200 with every check ok", status, body)
	}
	if v := scrape(t).Value("caddy_sgid_ready", "server", "srv0"); v != 1 {
		t.Errorf("caddy_sgid_ready = %v, want 1", v)
	}
	if status, _ := adminCall(t, http.MethodPost, "/sgid/health", nil); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /sgid/health: %d, want 405", status)
	}

	// sgID goes away. A successful fetch counts for a few minutes, so the
	// config is reloaded with a client that has not fetched yet (another
	// scope list makes another client).
	e.provider.Close()
	e.extra = "store memory\n\t\tscopes openid"
	e.load("")
	status, got, body = healthCall(t)
	site = got.Sites["srv0"]
	if status != http.StatusServiceUnavailable || got.Status != "unavailable" || site.Status != "unavailable" ||
		site.Checks["store"] != "ok" || site.Checks["keys"] != "ok" || !strings.HasPrefix(site.Checks["provider"], "failed: ") {
		t.Fatalf("GET /sgid/health with sgID gone: %d %s, want 503 naming the provider", status, body)
	}
	if v := scrape(t).Value("caddy_sgid_ready", "server", "srv0"); v != 0 {
		t.Errorf("caddy_sgid_ready = %v with sgID gone, want 0", v)
	}
	if strings.Contains(body, e.provider.ClientSecret()) {
		t.Errorf("the answer holds the client secret: %s", body)
	}
}

// TestAdminHealthRedis: with the sessions in Redis, GET /sgid/health
// answers 200, and 503 naming the store once Redis is stopped.
func TestAdminHealthRedis(t *testing.T) {
	srv := testredis.Start(t, testredis.Options{})
	newEnv(t, sgidtest.Options{}, fmt.Sprintf("store redis {\n\t\t\taddress %s\n\t\t}", srv.Addr))
	if status, got, body := healthCall(t); status != http.StatusOK || got.Sites["srv0"].Status != "ok" {
		t.Fatalf("GET /sgid/health: %d %s, want 200", status, body)
	}
	srv.Stop()
	status, got, body := healthCall(t)
	site := got.Sites["srv0"]
	if status != http.StatusServiceUnavailable || got.Status != "unavailable" || !strings.HasPrefix(site.Checks["store"], "failed: ") || site.Checks["provider"] != "ok" {
		t.Fatalf("GET /sgid/health with Redis stopped: %d %s, want 503 naming the store", status, body)
	}
	if v := scrape(t).Value("caddy_sgid_ready", "server", "srv0"); v != 0 {
		t.Errorf("caddy_sgid_ready = %v with Redis stopped, want 0", v)
	}
}
