package routerzoo

import (
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// protect is the guard's setting in every site of the zoo.
const protect = "/api/* /secret /key/*"

// layout is how a site puts the router behind the sgid handler.
type layout struct {
	name   string
	routes string // the site's routes after sgid; %[1]s is the router's address
}

// layouts are the two ways a site of the zoo passes requests on.
var layouts = []layout{
	// A site-wide reverse_proxy after sgid: every request the guard lets
	// through reaches the router, whatever its path.
	{name: "site", routes: `reverse_proxy %[1]s`},
	// The README's shape: Caddy's own path matcher picks what goes to the
	// router, and everything else gets Caddy's 404.
	{name: "handle", routes: `handle /api/* {
		reverse_proxy %[1]s
	}
	handle /secret {
		reverse_proxy %[1]s
	}
	handle /key/* {
		reverse_proxy %[1]s
	}
	handle /public/* {
		reverse_proxy %[1]s
	}
	handle / {
		reverse_proxy %[1]s
	}
	handle {
		respond "no route in Caddy" 404
	}`},
}

// site is one Caddy site of the zoo: a router behind sgid in one layout.
type site struct {
	router *router
	layout string
	addr   string // Caddy's 127.0.0.1:port for this site
}

// zooCaddy is the in-process Caddy in front of the zoo's routers.
type zooCaddy struct {
	sites   []*site
	logFile string
}

// startCaddy loads one in-process Caddy with a site for every router and
// each of layouts, each on a port of its own, with `sgid { mock; protect ... }`. The
// admin endpoint is off and every port is picked by the system, so that
// fuzzing workers, each a process with a Caddy of its own, never share
// one. Caddy's storage is the test's own folder (testcaddy.StorageOption).
// The cleanup stops Caddy.
func startCaddy(tb testing.TB, routers []*router, layouts []layout) *zooCaddy {
	tb.Helper()
	z := &zooCaddy{logFile: filepath.Join(tb.TempDir(), "caddy.log")}
	var b strings.Builder
	fmt.Fprintf(&b, `{
	admin off
	persist_config off
	auto_https off
	default_bind 127.0.0.1
	grace_period 1ns
	%s
	log {
		output file %q
		level ERROR
	}
}
`, testcaddy.StorageOption(tb), z.logFile)
	var ports []int
	for _, r := range routers {
		for _, l := range layouts {
			port := freePort(tb)
			ports = append(ports, port)
			s := &site{router: r, layout: l.name, addr: fmt.Sprintf("127.0.0.1:%d", port)}
			z.sites = append(z.sites, s)
			fmt.Fprintf(&b, `
http://:%d {
	sgid {
		mock
		store memory
		protect %s
	}
	%s
}
`, port, protect, fmt.Sprintf(l.routes, r.addr))
		}
	}
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(b.String()), nil)
	if err != nil {
		tb.Fatalf("adapting the zoo's Caddyfile: %v\n%s", err, b.String())
	}
	for _, w := range warnings {
		tb.Logf("Caddyfile: %s", w)
	}
	// Caddy listens with SO_REUSEPORT: a port taken since freePort would
	// be shared without an error.
	if err := testcaddy.PortsFree(ports...); err != nil {
		tb.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		tb.Fatalf("loading the zoo's Caddy: %v", err)
	}
	tb.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			tb.Logf("stopping Caddy: %v", err)
		}
		if tb.Failed() {
			if raw, _ := os.ReadFile(z.logFile); len(raw) > 0 {
				tb.Logf("Caddy's log (errors), last part:\n%s", tail(string(raw), 4000))
			}
		}
	})
	return z
}

// of is the router's sites, in the order of layouts.
func (z *zooCaddy) of(r *router) []*site {
	var out []*site
	for _, s := range z.sites {
		if s.router == r {
			out = append(out, s)
		}
	}
	return out
}

// freePort is a loopback port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// login logs in on the site through the built-in mock and returns the
// session cookie as a Cookie header value.
func (s *site) login(tb testing.TB) string {
	tb.Helper()
	b := testcaddy.NewBrowser(tb, "http://"+s.addr)
	b.MockApprove(b.StartLogin(""), sgidtest.DefaultPersonas()[0].Sub)
	c := b.Cookie(caddysgid.DefaultCookieName)
	if c == nil {
		tb.Fatalf("%s/%s: no session cookie after the mock's login", s.router.name, s.layout)
	}
	return c.Name + "=" + c.Value
}

// quietLog drops the in-process router's server errors (malformed
// requests that Caddy passed on), which the test judges by their hits.
var quietLog = log.New(io.Discard, "", 0)

func goVersion() string { return runtime.Version() }

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
