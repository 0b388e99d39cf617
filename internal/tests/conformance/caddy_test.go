package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	// Registers the sgid handler and its Caddyfile directive.
	_ "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// Caddy's ports in this package. The integration package's servers use
// admin 2999 and HTTP 9080, and `go test ./...` may run both packages at
// once.
const (
	caddyAdminPort = 2998
	caddyHTTPPort  = 9180
	caddyHTTPSPort = 9543
)

// caddySite is one site of the test config: one sgid handler with its own
// scopes, reached under its own host name (every name is dialled at
// 127.0.0.1 by the tester's client).
type caddySite struct {
	host     string
	clientID string
	scopes   []string
	extra    string // more sgid subdirectives
}

func (s caddySite) origin() string { return fmt.Sprintf("http://%s:%d", s.host, caddyHTTPPort) }

var (
	siteCommon = caddySite{host: "localhost", clientID: "conformance-caddy", scopes: scopesCommon}
	siteOpenID = caddySite{host: "openid.localhost", clientID: "conformance-caddy-openid", scopes: scopesOpenID}
	siteJSON   = caddySite{host: "json.localhost", clientID: "conformance-caddy-json", scopes: scopesJSON}
	// siteSpoof maps an app parameter onto a key sgID also sends.
	siteSpoof = caddySite{host: "spoof.localhost", clientID: "conformance-caddy-spoof", scopes: scopesName,
		extra: "app_param name myinfo.name"}
)

// caddyConfig is the Caddyfile: the sgid handler with the SPA example's
// routes and app parameter, and respond handlers for the SPA's pages;
// storage is its global storage option.
func caddyConfig(p prereqs, mp *mockpass, logFile, storage string, sites ...caddySite) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{
	admin localhost:%d
	http_port %d
	https_port %d
	default_bind 127.0.0.1
	grace_period 1ns
	skip_install_trust
	%s
	log {
		output file %s
	}
}
`, caddyAdminPort, caddyHTTPPort, caddyHTTPSPort, storage, logFile)
	for _, s := range sites {
		fmt.Fprintf(&b, `
%s {
	sgid {
		host          %s
		client_id     %s
		client_secret mockpass-ignores-the-secret
		private_key   {file.%s}
		scopes        %s
		app_param     icecream iceCream
		%s
	}
	respond /logged-in "logged in" 200
	respond /error "login failed: {query.reason}" 200
	respond /whoami "{http.auth.user.id}|{http.auth.user.myinfo.name}|{http.auth.user.iceCream}" 200
	respond "not found" 404
}
`, s.origin(), mp.origin, s.clientID, p.clientKeyPath(), strings.Join(s.scopes, " "), s.extra)
	}
	return b.String()
}

// stopCaddy loads an empty config (keeping only the admin endpoint), so
// that the sites stop listening when the test ends; the in-process admin
// endpoint itself ends with the test binary.
func stopCaddy(t testing.TB) {
	t.Helper()
	cfg := fmt.Sprintf(`{"admin":{"listen":"localhost:%d"}}`, caddyAdminPort)
	resp, err := http.Post(fmt.Sprintf("http://localhost:%d/load", caddyAdminPort), "application/json", strings.NewReader(cfg))
	if err != nil {
		t.Logf("stopping Caddy's sites: %v", err)
		return
	}
	resp.Body.Close()
}

// TestCaddyLoginAgainstMockpass runs the sgid handler in Caddy against
// mockpass and walks the whole login of sgID's demo SPA with the tester's
// cookie-jar client: auth-url, sgID, callback, userinfo, logout; for
// several personas and scope sets.
func TestCaddyLoginAgainstMockpass(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Caddy; skipped with -short")
	}
	p := requirePrereqs(t)
	personas := loadPersonas(t, p)
	mp := startMockpass(t, p, defaultNRIC)
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	t.Cleanup(func() {
		stopCaddy(t)
		if t.Failed() {
			b, _ := os.ReadFile(logFile)
			t.Logf("Caddy's log:\n%s", b)
		}
	})
	tester := caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: caddyAdminPort})
	storage := testcaddy.StorageOption(t)
	tester.InitServer(caddyConfig(p, mp, logFile, storage, siteCommon, siteOpenID, siteJSON), "caddyfile")
	if t.Failed() {
		t.FailNow()
	}
	b := &caddyBrowser{Browser: testcaddy.NewBrowser(t, ""), mp: mp}

	// The SPA's whole journey as mockpass's default persona.
	t.Run("default persona, common scopes", func(t *testing.T) {
		b.TB = t
		s := siteCommon
		b.expectLoggedOut(s)
		cb := b.login(s, "", "Vanilla")
		b.expectUser(s, expectedSub(t, personas, defaultNRIC), withApp(expectedData(t, personas, defaultNRIC, s.scopes), "Vanilla"))
		body := b.getOK(s.origin() + "/whoami")
		if want := expectedSub(t, personas, defaultNRIC) + "|" + personas[defaultNRIC].Name.Value + "|Vanilla"; body != want {
			t.Errorf("identity placeholders %q, want %q", body, want)
		}

		// The browser that finished the login replays its callback (some
		// machines fetch it twice): it lands where it did, with the same
		// session, and mockpass, which would accept the code again, is
		// not asked.
		final, body := b.follow(cb.URL.String())
		if final.Path != "/logged-in" {
			t.Errorf("replayed callback ended at %s (%q), want /logged-in", final, body)
		}
		b.expectUser(s, expectedSub(t, personas, defaultNRIC), withApp(expectedData(t, personas, defaultNRIC, s.scopes), "Vanilla"))

		b.logout(s)
		b.expectLoggedOut(s)
		// After the logout a replay does not log back in, although
		// mockpass would still take the code: the logout dropped the login
		// cookie, and the login stays finished for a copy of it.
		final, body = b.follow(cb.URL.String())
		if final.Path != "/error" {
			t.Errorf("callback replayed after logout ended at %s (%q), want the error path", final, body)
		}
		b.expectLoggedOut(s)
	})

	// Other personas, picked on mockpass's login page, in the same browser:
	// each login replaces the session of the one before.
	t.Run("personas in turn", func(t *testing.T) {
		b.TB = t
		s := siteCommon
		for _, who := range []struct{ nric, icecream string }{
			{"S9912370B", "Chocolate"},
			{"S6005053H", "Strawberry"},
			{defaultNRIC, ""},
		} {
			b.login(s, who.nric, who.icecream)
			data := expectedData(t, personas, who.nric, s.scopes)
			if who.icecream != "" {
				data = withApp(data, who.icecream)
			}
			b.expectUser(s, expectedSub(t, personas, who.nric), data)
		}
		b.logout(s)
		b.expectLoggedOut(s)
	})

	t.Run("openid only", func(t *testing.T) {
		b.TB = t
		s := siteOpenID
		b.login(s, "S9812353I", "Vanilla")
		b.expectUser(s, expectedSub(t, personas, "S9812353I"), withApp(expectedData(t, personas, "S9812353I", s.scopes), "Vanilla"))
		b.logout(s)
		b.expectLoggedOut(s)
	})

	t.Run("JSON-valued fields", func(t *testing.T) {
		b.TB = t
		s := siteJSON
		for _, nric := range []string{defaultNRIC, "S9912370B"} {
			b.login(s, nric, "Chocolate")
			b.expectUser(s, expectedSub(t, personas, nric), withApp(expectedData(t, personas, nric, s.scopes), "Chocolate"))
		}
		b.logout(s)
		b.expectLoggedOut(s)
	})

	// A callback without the browser's login cookie (another browser, or
	// cookies blocked) fails cleanly.
	t.Run("callback without a login", func(t *testing.T) {
		b.TB = t
		final, body := b.follow(siteCommon.origin() + "/api/redirect?code=x&state=y")
		if final.Path != "/error" || final.Query().Get("reason") == "" {
			t.Errorf("callback without a login ended at %s (%q), want /error?reason=...", final, body)
		}
	})

	// Last, as it loads a config of its own: an app parameter must not be
	// able to pass itself off as sgID's verified data.
	t.Run("app parameter cannot override sgID data", func(t *testing.T) {
		b.TB = t
		s := siteSpoof
		cfg := caddyConfig(p, mp, logFile, storage, s)
		resp, err := http.Post(fmt.Sprintf("http://localhost:%d/load", caddyAdminPort), "text/caddyfile", strings.NewReader(cfg))
		if err != nil {
			t.Fatalf("loading the config: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			// Validate refuses app_param keys that look like sgID fields.
			if !strings.Contains(string(body), "app_param") {
				t.Fatalf("the config was refused, but not for its app_param: %s", body)
			}
			return
		}
		authURL := s.origin() + "/api/auth-url?name=MALLORY&icecream=Vanilla"
		var got struct {
			URL string `json:"url"`
		}
		if err := json.Unmarshal([]byte(b.getOK(authURL)), &got); err != nil {
			t.Fatal(err)
		}
		final, _ := b.follow(got.URL)
		if final.Path != "/logged-in" {
			t.Fatalf("the login ended at %s", final)
		}
		var info struct {
			Data map[string]string `json:"data"`
		}
		if err := json.Unmarshal([]byte(b.getOK(s.origin()+"/api/userinfo")), &info); err != nil {
			t.Fatal(err)
		}
		b.logout(s)
		name := info.Data["myinfo.name"]
		if want := personas[defaultNRIC].Name.Value; name != want {
			t.Errorf("myinfo.name %q, want sgID's %q", name, want)
		}
	})
	mp.checkAlive(t)
}

func withApp(data map[string]string, icecream string) map[string]string {
	out := make(map[string]string, len(data)+1)
	for k, v := range data {
		out[k] = v
	}
	out["iceCream"] = icecream
	return out
}

// caddyBrowser is the SPA in a browser: testcaddy's browser, whose jar
// holds the handler's cookies per host, and the mockpass it logs in at.
type caddyBrowser struct {
	*testcaddy.Browser
	mp *mockpass
}

// follow GETs u following redirects, as a browser navigation does, and
// returns the final URL and body.
func (b *caddyBrowser) follow(u string, header ...string) (*url.URL, string) {
	b.TB.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	resp, body, _ := b.Follow(u, h)
	return resp.Request.URL, body
}

func (b *caddyBrowser) get(u string) (int, string) {
	b.TB.Helper()
	resp, body := b.Get(u)
	return resp.StatusCode, body
}

func (b *caddyBrowser) getOK(u string) string {
	b.TB.Helper()
	status, body := b.get(u)
	if status != http.StatusOK {
		b.TB.Fatalf("GET %s: status %d (%q), want 200", u, status, body)
	}
	return body
}

// login runs the SPA's login at site s as persona nric ("" for mockpass's
// default persona) with the icecream app parameter, checks it lands on
// /logged-in, and returns sgID's callback.
func (b *caddyBrowser) login(s caddySite, nric, icecream string) callback {
	b.TB.Helper()
	t := b.TB
	authURLPath := s.origin() + "/api/auth-url"
	if icecream != "" {
		authURLPath += "?icecream=" + url.QueryEscape(icecream)
	}
	var got struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(b.getOK(authURLPath)), &got); err != nil || got.URL == "" {
		t.Fatalf("auth-url answered no {\"url\"}: %v", err)
	}
	u, err := url.Parse(got.URL)
	if err != nil {
		t.Fatal(err)
	}
	if base := u.Scheme + "://" + u.Host + u.Path; base != b.mp.issuer()+"/oauth/authorize" {
		t.Errorf("auth-url points at %s, want mockpass's authorize endpoint", base)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"client_id":             s.clientID,
		"redirect_uri":          s.origin() + "/api/redirect",
		"scope":                 strings.Join(s.scopes, " "),
		"response_type":         "code",
		"code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorization URL %s=%q, want %q", k, got, want)
		}
	}
	if icecream != "" && strings.Contains(got.URL, icecream) {
		t.Errorf("the app value %q leaks into the authorization URL %s; it must stay server-side", icecream, got.URL)
	}

	// At sgID: straight back for the default persona, or pick one on the
	// login page. Record the callback on the way.
	var cb callback
	target := got.URL
	if nric != "" {
		req, _ := http.NewRequest(http.MethodGet, got.URL, nil)
		target = personaCallbackURL(t, b.Client, req, nric)
		cb = parseCallback(t, target)
	}
	resp, body, hops := b.Follow(target, nil)
	b.mp.checkAlive(t)
	for _, hop := range hops {
		if hop.Path == "/api/redirect" {
			cb = parseCallback(t, hop.String())
		}
	}
	if final := resp.Request.URL; final.Path != "/logged-in" || body != "logged in" {
		t.Fatalf("the login ended at %s with %d %q, want /logged-in", final, resp.StatusCode, body)
	}
	if cb.URL == nil {
		t.Fatal("the login never passed the callback")
	}
	if got := cb.URL.Scheme + "://" + cb.URL.Host + cb.URL.Path; got != s.origin()+"/api/redirect" {
		t.Errorf("mockpass sent the browser to %s, want the derived redirect URI", got)
	}
	if cb.State != q.Get("state") {
		t.Errorf("callback state %q, want the auth URL's %q", cb.State, q.Get("state"))
	}
	return cb
}

// expectUser checks /api/userinfo of site s: the sub, and the data field by
// field.
func (b *caddyBrowser) expectUser(s caddySite, sub string, data map[string]string) {
	b.TB.Helper()
	var got struct {
		Sub  string            `json:"sub"`
		Data map[string]string `json:"data"`
	}
	body := b.getOK(s.origin() + "/api/userinfo")
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		b.TB.Fatalf("userinfo %q: %v", body, err)
	}
	if got.Sub != sub {
		b.TB.Errorf("userinfo sub %q, want %q", got.Sub, sub)
	}
	for _, d := range diffMaps(data, got.Data) {
		b.TB.Errorf("userinfo data %s", d)
	}
}

// expectLoggedOut checks that userinfo answers 401 with a body that is not
// a JSON object (the demo SPA takes any object for a user).
func (b *caddyBrowser) expectLoggedOut(s caddySite) {
	b.TB.Helper()
	status, body := b.get(s.origin() + "/api/userinfo")
	if status != http.StatusUnauthorized {
		b.TB.Errorf("userinfo when logged out: status %d (%q), want 401", status, body)
	}
	if strings.HasPrefix(strings.TrimSpace(body), "{") {
		b.TB.Errorf("userinfo when logged out answered a JSON object %q", body)
	}
}

func (b *caddyBrowser) logout(s caddySite) {
	b.TB.Helper()
	if body := b.getOK(s.origin() + "/api/logout"); strings.TrimSpace(body) != "{}" {
		b.TB.Errorf("logout answered %q, want {}", body)
	}
}
