package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestMockLogin walks the mock's login page as a person would: the whole
// real protocol runs behind it.
func TestMockLogin(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	startCaddy(t, `{
	log {
		output file `+logFile+`
		format json
	}
}
http://localhost:9080 {
	sgid {
		mock
		scopes openid myinfo.name myinfo.vehicles
		app_param icecream iceCream
	}
	respond "next"
}`)
	persona := sgidtest.DefaultPersonas()[0]
	b := newBrowser(t)
	authURL := b.StartLogin("icecream=Strawberry")
	if !strings.HasPrefix(authURL, "/sgid-mock/v2/oauth/authorize?") {
		t.Fatalf("mock auth url %q is not a same-origin path", authURL)
	}
	if loc := b.MockApprove(authURL, persona.Sub); loc != "/logged-in" {
		t.Fatalf("callback redirected to %q", loc)
	}
	_, obj, body := b.Userinfo()
	data, _ := obj["data"].(map[string]any)
	if obj["sub"] != persona.Sub || data["myinfo.name"] != persona.Data["myinfo.name"] || data["myinfo.vehicles"] != persona.Data["myinfo.vehicles"] || data["iceCream"] != "Strawberry" {
		t.Errorf("userinfo = %s", body)
	}
	// The mock announces itself loudly at start-up.
	logged, _ := os.ReadFile(logFile)
	if !strings.Contains(string(logged), `"level":"warn"`) || !strings.Contains(string(logged), "sgID MOCK is on") {
		t.Errorf("no start-up warning about the mock in the log:\n%s", logged)
	}
	if !strings.HasPrefix(persona.Sub, "sgidtest:") {
		t.Errorf("mock sub %q could collide with real sgID subs", persona.Sub)
	}
}
