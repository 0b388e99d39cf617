package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// This package's caddytest servers use these ports; other packages that
// start Caddy use others, since `go test ./...` runs packages in parallel.
const (
	testOrigin    = "http://localhost:9080"
	testAdminPort = 2999
)

// testGlobals are the global options of every Caddy this package's tests
// start.
var testGlobals = []string{
	fmt.Sprintf("admin localhost:%d", testAdminPort),
	"http_port 9080",
	"https_port 9443",
	"grace_period 1ns",
	"skip_install_trust",
}

// testPorts are the fixed ports this package's Caddy listens on: the admin
// endpoint, the test sites, and Caddyfile.example's site and API.
var testPorts = &portCheck{ports: []int{testAdminPort, 9080, 5001, 5002}}

// portCheck checks its ports once, before this package's first Caddy
// starts, and fails every test that needs them when one was taken. It
// cannot check again later: by then this package's own Caddy holds them.
// A TestMain would check before every run, also of tests that start no
// Caddy, which then fail whenever another package's tests hold a port.
type portCheck struct {
	ports []int
	once  sync.Once
	err   error
}

func (c *portCheck) require(tb testing.TB) {
	tb.Helper()
	c.once.Do(func() { c.err = testcaddy.PortsFree(c.ports...) })
	if c.err != nil {
		tb.Fatalf("%v", c.err)
	}
}

// startCaddy (re)loads the in-process Caddy with caddyfile, under
// testGlobals (merged into its own global options block, if it has one)
// and, unless caddyfile names a storage of its own, the test's own storage
// folder (testcaddy.StorageOption).
// The first call checks that the ports are free.
func startCaddy(tb testing.TB, caddyfile string) {
	tb.Helper()
	testPorts.require(tb)
	caddytest.NewTester(tb).WithDefaultOverrides(caddytest.Config{AdminPort: testAdminPort}).
		InitServer(testcaddy.WithDefaultGlobalOptions(testcaddy.WithGlobalOptions(caddyfile, testGlobals...), testcaddy.StorageOption(tb)), "caddyfile")
}

// env is one Caddy with the sgid handler in front of a fake sgID.
type env struct {
	t        *testing.T
	provider *sgidtest.Server
	keyFile  string
	logFile  string // the access log
	caddyLog string // every other log, at DEBUG
	extra    string // more sgid subdirectives
	routes   string // more site routes
}

func newEnv(t *testing.T, opts sgidtest.Options, extra string) *env {
	t.Helper()
	p := sgidtest.NewServer(opts)
	t.Cleanup(p.Close)
	dir := t.TempDir()
	e := &env{t: t, provider: p, keyFile: filepath.Join(dir, "key.pem"), logFile: filepath.Join(dir, "access.log"), caddyLog: filepath.Join(dir, "caddy.log"), extra: extra}
	if err := os.WriteFile(e.keyFile, []byte(p.ClientPrivateKeyPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	e.load("")
	return e
}

// load (re)loads the config; marker changes a response body so that a
// reload with otherwise equal sgid config is a real reload.
func (e *env) load(marker string) {
	e.t.Helper()
	cfg := fmt.Sprintf(`{
	log {
		output file %s
		format json
		level DEBUG
	}
}
%s {
	log {
		output file %s
		format filter {
			request>uri query {
				replace code REDACTED
				replace state REDACTED
			}
		}
	}
	sgid {
		client_id     %s
		client_secret %s
		private_key   {file.%s}
		host          %s
		scopes        openid myinfo.name myinfo.email
		app_param     icecream iceCream
		%s
	}
	%s
	respond /logged-in "logged in as {http.auth.user.id}%s" 200
	respond /error "error {query.reason}" 200
	respond "next: {path} user={http.auth.user.id} name={http.auth.user.myinfo.name}" 200
}`, e.caddyLog, testOrigin, e.logFile, e.provider.ClientID(), e.provider.ClientSecret(), e.keyFile, e.provider.URL, e.extra, e.routes, marker)
	startCaddy(e.t, cfg)
}

// echoUpstream is an API behind reverse_proxy that answers with what it
// received.
type echoUpstream struct {
	srv  *httptest.Server
	hits atomic.Int64
}

type echoed struct {
	Path    string      `json:"path"`
	Header  http.Header `json:"header"`
	Trailer http.Header `json:"trailer"`
}

func newEchoUpstream(t *testing.T) *echoUpstream {
	u := &echoUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		io.Copy(io.Discard, r.Body) // trailers arrive at the end of the body
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo", "1")
		json.NewEncoder(w).Encode(echoed{Path: r.URL.Path, Header: r.Header, Trailer: r.Trailer})
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// The identity headers of the guard tests.
const guardIdentity = `
		scopes          myinfo.registered_address myinfo.residentialstatus
		identity_header sub                       X-Sgid-Sub
		identity_header myinfo.name               X-Sgid-Name
		identity_header myinfo.registered_address X-Sgid-Address
		identity_header myinfo.email              X-Sgid-Email
		identity_header iceCream                  X-Sgid-Icecream`

// newGuardEnv starts Caddy with the sgid handler configured by extra, an
// echo upstream behind /api/*, /app/* and /pub/*, and a login page.
func newGuardEnv(t *testing.T, extra string) (*env, *echoUpstream) {
	t.Helper()
	up := newEchoUpstream(t)
	e := newEnv(t, sgidtest.Options{}, extra)
	e.routes = fmt.Sprintf(`@upstream path /api/* /app/* /pub/*
	handle @upstream {
		reverse_proxy %s
	}
	respond /login "login page" 200`, up.srv.Listener.Addr())
	e.load("")
	return e, up
}

// mockLoginCookie logs in through the mock and returns the session cookie.
func mockLoginCookie(tb testing.TB) *http.Cookie {
	b := newBrowser(tb)
	b.MockApprove(b.StartLogin("icecream=Vanilla"), sgidtest.DefaultPersonas()[0].Sub)
	c := b.Cookie(caddysgid.DefaultCookieName)
	if c == nil {
		tb.Fatal("no session cookie after the mock login")
	}
	return c
}

// loginCookiePrefix begins the name of every login cookie that goes with
// the default session cookie: `<cookie_name>_login_<hash>`, where the hash
// is the handler's own business.
const loginCookiePrefix = caddysgid.DefaultCookieName + "_login_"

// isLoginCookie reports whether name is a login cookie's, with or
// without the __Host- prefix of a secure origin.
func isLoginCookie(name string) bool {
	name = strings.TrimPrefix(name, "__Host-")
	return strings.HasPrefix(name, loginCookiePrefix) && len(name) > len(loginCookiePrefix)
}

// loginCookieOf is the login cookie that resp sets, or nil.
func loginCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if isLoginCookie(c.Name) {
			return c
		}
	}
	return nil
}

// authorizePath is the path of an authorization URL the mock handed out:
// its login page's form posts the chosen persona back there.
func authorizePath(authURL string) string {
	p, _, _ := strings.Cut(authURL, "?")
	return p
}

// maxAppValue is the longest app parameter value the handler takes (its
// own bound of the same name).
const maxAppValue = 256

// exampleCaddyfile is the repository's Caddyfile.example, which the tests
// run as shipped.
const exampleCaddyfile = "../../../Caddyfile.example"

// readExample is Caddyfile.example with its site root, which is relative
// to the repository root the example runs from, made absolute: these
// tests run in this package's folder.
func readExample(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(exampleCaddyfile)
	if err != nil {
		t.Fatal(err)
	}
	site, err := filepath.Abs("../../../example")
	if err != nil {
		t.Fatal(err)
	}
	const root = "\troot * example\n"
	if strings.Count(string(raw), root) != 1 {
		t.Fatalf("Caddyfile.example has not one %q line to point at the repository", root)
	}
	return strings.Replace(string(raw), root, "\troot * \""+site+"\"\n", 1)
}

// newBrowser is a browser on the test sites' origin.
func newBrowser(tb testing.TB) *testcaddy.Browser {
	return testcaddy.NewBrowser(tb, testOrigin)
}

// loginCookie is one of b's login cookies, or nil.
func loginCookie(b *testcaddy.Browser) *http.Cookie {
	for _, c := range b.Cookies() {
		if isLoginCookie(c.Name) {
			return c
		}
	}
	return nil
}

// fromUpstream returns a check of an answer to b, as b.Send or b.Do
// return it, that decodes what the echo upstream received, failing when
// the answer did not come from it.
func fromUpstream(b *testcaddy.Browser) func(*http.Response, string) echoed {
	return func(resp *http.Response, body string) echoed {
		b.TB.Helper()
		var got echoed
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Echo") != "1" || json.Unmarshal([]byte(body), &got) != nil {
			b.TB.Fatalf("not answered by the upstream: %d %q", resp.StatusCode, body)
		}
		return got
	}
}
