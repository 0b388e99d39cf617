package integration

import (
	"net/http"
	"strings"
	"testing"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestMockOpenRedirectThroughCaddy replays the reported request against a
// running Caddy: it used to answer 302 to evil.example without a click.
func TestMockOpenRedirectThroughCaddy(t *testing.T) {
	startCaddy(t, `http://localhost:9080 {
	sgid {
		mock
	}
	respond "next"
}`)
	b := newBrowser(t)
	resp, page := b.Get(testOrigin + "/sgid-mock/v2/oauth/authorize?client_id=sgid-mock-client&redirect_uri=https%3A%2F%2Fevil.example%2Fsteal&response_type=token")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "Mock sgID") {
		t.Errorf("status %d Location %q, want the mock's 400 page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The handler's own callback still works.
	if loc := b.MockApprove(b.StartLogin(""), sgidtest.DefaultPersonas()[0].Sub); loc != caddysgid.DefaultSuccessPath {
		t.Errorf("login through the mock ended at %q", loc)
	}
}
