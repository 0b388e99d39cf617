package caddysgid

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

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
	authURL := b.startLogin("icecream=Strawberry")
	if !strings.HasPrefix(authURL, "/sgid-mock/v2/oauth/authorize?") {
		t.Fatalf("mock auth url %q is not a same-origin path", authURL)
	}
	if loc := b.mockApprove(authURL, persona.Sub); loc != "/logged-in" {
		t.Fatalf("callback redirected to %q", loc)
	}
	_, obj, body := b.userinfo()
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

func TestMockRefusesRealSettings(t *testing.T) {
	for _, field := range []string{"client_id", "client_secret", "private_key", "host"} {
		h := Handler{Mock: true}
		raw, _ := json.Marshal(map[string]any{"mock": true, field: "x"})
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		err := h.Provision(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "mock: cannot be combined with "+field) {
			t.Errorf("mock + %s: err = %v", field, err)
		}
	}
}

// mockApprove opens the mock's login page at authURL, checks its banner,
// picks the persona and follows the callback; it returns where the
// callback redirected.
func (b *browser) mockApprove(authURL, sub string) string {
	b.t.Helper()
	resp, page := b.get(b.base + authURL)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Mock sgID") || !strings.Contains(page, "development only") {
		b.t.Fatalf("mock login page %d lacks its banner:\n%.400s", resp.StatusCode, page)
	}
	form := sgidtest.LoginForm(page)
	if form == nil {
		b.t.Fatal("no login form on the mock's page")
	}
	form.Set("sub", sub)
	req, _ := http.NewRequest(http.MethodPost, b.base+mockPrefix+"/v2/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ = b.do(req)
	return b.callback(resp.Header.Get("Location"))
}

// mockLoginCookie logs in through the mock and returns the session cookie.
func mockLoginCookie(tb testing.TB) *http.Cookie {
	b := newBrowser(tb)
	b.mockApprove(b.startLogin("icecream=Vanilla"), sgidtest.DefaultPersonas()[0].Sub)
	c := b.cookie(DefaultCookieName)
	if c == nil {
		tb.Fatal("no session cookie after the mock login")
	}
	return c
}
