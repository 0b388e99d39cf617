package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	instances "github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// Settings the tests give the cluster. tryDuration is the balancer's
// lb_try_duration (the shipped default, set explicitly so the tests know
// it); cacheTTL is the sgid handler's default cache_ttl, the documented
// bound for a logout to reach every instance; boundSlack is what the tests
// allow on top of a bound for requests and scheduling on a busy machine.
const (
	tryDuration = 5 * time.Second
	cacheTTL    = 10 * time.Second
	boundSlack  = 5 * time.Second
	// scriptTimeout bounds up.sh (which may build Caddy) and down.sh.
	scriptTimeout = 5 * time.Minute
)

// persona is the one mockpass logs in without a login page (up.sh's
// default MOCKPASS_NRIC).
const persona = "S9812379B"

// instanceNames are the three instances as up.sh names them, and as they
// name themselves in the X-Instance header.
var instanceNames = []string{"caddy-1", "caddy-2", "caddy-3"}

// portVars are the scripts' port variables, each given a free port.
var portVars = []string{
	"CLUSTER_LB_PORT", "CLUSTER_LB_ADMIN_PORT",
	"CLUSTER_CADDY1_PORT", "CLUSTER_CADDY2_PORT", "CLUSTER_CADDY3_PORT",
	"CLUSTER_CADDY1_ADMIN_PORT", "CLUSTER_CADDY2_ADMIN_PORT", "CLUSTER_CADDY3_ADMIN_PORT",
	"CLUSTER_REDIS_PORT", "CLUSTER_MOCKPASS_PORT",
}

// portVarOf is the variable holding an instance's HTTP port.
var portVarOf = map[string]string{
	"caddy-1": "CLUSTER_CADDY1_PORT", "caddy-2": "CLUSTER_CADDY2_PORT", "caddy-3": "CLUSTER_CADDY3_PORT",
}

// prereqs are what the scripts need; see requirePrereqs.
type prereqs struct {
	nodeDir string // internal/tests/conformance/node
}

// requirePrereqs finds what up.sh needs. When something is missing the
// test is skipped, or fails under CI, where a skip would hide that the
// cluster was never tried.
func requirePrereqs(tb testing.TB) prereqs {
	tb.Helper()
	missing := func(what string) {
		tb.Helper()
		msg := "cluster tests: " + what
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s (CI is set, so this fails instead of skipping)", msg)
		}
		tb.Skipf("%s; skipped", msg)
	}
	for cmd, hint := range map[string]string{
		"bash":         "bash runs up.sh and down.sh",
		"setsid":       "up.sh runs each part in a session of its own (Debian's util-linux)",
		"go":           "up.sh builds Caddy from this checkout",
		"redis-server": "install Debian's redis-server package",
		"node":         "mockpass runs on Node.js",
	} {
		if _, err := exec.LookPath(cmd); err != nil {
			missing(fmt.Sprintf("%s not found in PATH (%s)", cmd, hint))
		}
	}
	nodeDir, err := filepath.Abs(filepath.Join("..", "..", "internal", "tests", "conformance", "node"))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@opengovsg", "mockpass", "package.json")); err != nil {
		missing("mockpass is not installed; run `npm ci --prefix internal/tests/conformance/node`")
	}
	return prereqs{nodeDir: nodeDir}
}

// expectedSub is the sub mockpass gives persona: "u=" + its uuid in
// mockpass's persona file, an oracle independent of the plugin.
func (p prereqs) expectedSub(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(p.nodeDir, "node_modules", "@opengovsg", "mockpass", "static", "myinfo", "v3.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var file struct {
		Personas map[string]struct {
			UUID struct{ Value string } `json:"uuid"`
		} `json:"personas"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		tb.Fatalf("mockpass's persona file: %v", err)
	}
	uuid := file.Personas[persona].UUID.Value
	if uuid == "" {
		tb.Fatalf("persona %s has no uuid in mockpass's persona file", persona)
	}
	return "u=" + uuid
}

// cluster is a cluster that up.sh started for a test.
type cluster struct {
	tb     testing.TB
	dir    string // this folder, where the scripts are
	run    string // the run folder: PID files and logs
	env    []string
	ports  map[string]int // by variable name
	Origin string         // the load balancer, as up.sh prints it
}

// startCluster runs up.sh on free loopback ports in a run folder of the
// test's own, with the balancer logging at lbLogLevel, and registers
// down.sh in the test's cleanup before it starts anything, so the cluster
// is stopped whatever happens after.
func startCluster(tb testing.TB, lbLogLevel string) *cluster {
	tb.Helper()
	c := newCluster(tb, lbLogLevel)
	out := c.up()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != c.Origin {
		tb.Fatalf("up.sh's last line is %q, want the load balancer's URL %s", last, c.Origin)
	}
	for _, name := range []string{"redis", "mockpass", "caddy-1", "caddy-2", "caddy-3", "lb"} {
		if c.pid(name) == 0 {
			tb.Fatalf("up.sh exited 0 but wrote no PID for %s", name)
		}
	}
	return c
}

// newCluster picks the ports and the run folder and registers the
// cleanup (down.sh), but starts nothing.
func newCluster(tb testing.TB, lbLogLevel string) *cluster {
	tb.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		tb.Fatal(err)
	}
	c := &cluster{tb: tb, dir: dir, run: tb.TempDir(), ports: map[string]int{}}
	used := map[int]bool{}
	for _, v := range portVars {
		port := instances.FreePort(tb)
		for used[port] {
			port = instances.FreePort(tb)
		}
		used[port] = true
		c.ports[v] = port
	}
	// Checked here too, so a port taken since it was picked fails with
	// its number rather than somewhere in up.sh's output.
	for _, v := range portVars {
		if err := testcaddy.PortsFree(c.ports[v]); err != nil {
			tb.Fatalf("%s: %v", v, err)
		}
	}
	// Only what the scripts need, so a CLUSTER_* variable of the
	// developer's never moves the test's cluster.
	c.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"CLUSTER_RUN_DIR=" + c.run,
		"CLUSTER_LB_TRY_DURATION=" + tryDuration.String(),
		"CLUSTER_LB_LOG_LEVEL=" + lbLogLevel,
	}
	for _, v := range []string{"GOPATH", "GOCACHE", "GOMODCACHE", "GOFLAGS", "GOPROXY", "GOTOOLCHAIN", "TMPDIR"} {
		if val, ok := os.LookupEnv(v); ok {
			c.env = append(c.env, v+"="+val)
		}
	}
	for _, v := range portVars {
		c.env = append(c.env, fmt.Sprintf("%s=%d", v, c.ports[v]))
	}
	c.Origin = fmt.Sprintf("http://localhost:%d", c.ports["CLUSTER_LB_PORT"])

	tb.Cleanup(c.stopAll)
	return c
}

// script runs deploy/cluster/<name> with the cluster's environment and
// returns its output and error.
func (c *cluster) script(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(c.dir, name)}, args...)...)
	cmd.Env = c.env
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

// up runs up.sh and fails the test unless it exits 0.
func (c *cluster) up() string {
	c.tb.Helper()
	out, err := c.script("up.sh")
	if err != nil {
		c.tb.Fatalf("up.sh: %v\n%s", err, out)
	}
	return out
}

// down runs down.sh for the named parts and fails the test unless it
// exits 0.
func (c *cluster) down(parts ...string) string {
	c.tb.Helper()
	out, err := c.script("down.sh", parts...)
	if err != nil {
		c.tb.Fatalf("down.sh %s: %v\n%s", strings.Join(parts, " "), err, out)
	}
	return out
}

// stopAll is the cleanup: down.sh for everything, then a check that every
// process the PID files named is gone. Anything down.sh left behind fails
// the test and is killed here, by its PID, so no test leaves a process.
func (c *cluster) stopAll() {
	pids := map[string]int{}
	for _, name := range []string{"redis", "mockpass", "caddy-1", "caddy-2", "caddy-3", "lb"} {
		if pid := c.pid(name); pid != 0 {
			pids[name] = pid
		}
	}
	out, err := c.script("down.sh")
	if err != nil {
		c.tb.Errorf("down.sh: %v\n%s", err, out)
	}
	for name, pid := range pids {
		if !instances.WaitGone(pid) {
			c.tb.Errorf("%s (pid %d) still runs after down.sh", name, pid)
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if _, err := os.Stat(filepath.Join(c.run, name+".pid")); err == nil {
			c.tb.Errorf("down.sh left %s.pid behind", name)
		}
	}
	if c.tb.Failed() {
		for _, name := range []string{"lb", "caddy-1", "caddy-2", "caddy-3", "redis", "mockpass"} {
			c.tb.Logf("last lines of %s.log:\n%s", name, c.logTail(name, 15))
		}
		c.tb.Logf("the load balancer's health checks and errors:\n%s", c.lbHealthLines())
	}
}

// pid is the number in run/<name>.pid, or 0.
func (c *cluster) pid(name string) int {
	b, err := os.ReadFile(filepath.Join(c.run, name+".pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

func (c *cluster) logTail(name string, n int) string {
	b, err := os.ReadFile(filepath.Join(c.run, name+".log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lbHealthLines are the lines of the balancer's log that say an instance
// went down or up, or that a request failed, which explain most failures
// of the tests; at DEBUG, the last lines of the log are only requests.
func (c *cluster) lbHealthLines() string {
	b, err := os.ReadFile(filepath.Join(c.run, "lb.log"))
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, `"level":"error"`) || strings.Contains(line, `"level":"warn"`) ||
			strings.Contains(line, "health_checker") || strings.Contains(line, `"msg":"host is up"`) {
			out = append(out, line)
		}
	}
	if len(out) > 40 {
		out = out[len(out)-40:]
	}
	return strings.Join(out, "\n")
}

// URL is path at the load balancer (the cluster is an instances.Target).
func (c *cluster) URL(path string) string { return c.Origin + path }

func (c *cluster) String() string { return "the load balancer" }

// instance is one instance reached directly, past the balancer.
type instance struct {
	name string
	port int
}

func (i instance) URL(path string) string { return fmt.Sprintf("http://localhost:%d%s", i.port, path) }
func (i instance) String() string         { return i.name }

func (c *cluster) instance(name string) instance {
	return instance{name: name, port: c.ports[portVarOf[name]]}
}

// answer is one response as the tests look at it.
type answer struct {
	at       time.Time     // when the request was sent
	took     time.Duration // until the whole answer was read
	status   int
	instance string // X-Instance
	ctype    string
	body     string
	err      error // a transport error: no answer at all
}

// loopbackDial sends "localhost" to 127.0.0.1, where the cluster listens.
func loopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "localhost" {
		addr, network = net.JoinHostPort("127.0.0.1", port), "tcp4"
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// newClient is a client without a jar that keeps its connections, as a
// browser does, and follows no redirects.
func newClient() *http.Client {
	return &http.Client{
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{DialContext: loopbackDial, MaxIdleConnsPerHost: 64},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetch GETs u with the cookie. It never fails the test, so load loops
// may call it from their own goroutines.
func fetch(client *http.Client, u string, cookie *http.Cookie) answer {
	a := answer{at: time.Now()}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		a.err = err
		return a
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		a.err = err
	}
	a.status, a.instance, a.ctype, a.body = resp.StatusCode, resp.Header.Get("X-Instance"), resp.Header.Get("Content-Type"), body.String()
	a.took = time.Since(a.at)
	return a
}

func (a answer) String() string {
	if a.err != nil {
		return "no answer: " + a.err.Error()
	}
	return fmt.Sprintf("%d from %q (%s) %q", a.status, a.instance, a.ctype, a.body)
}

// userinfoSub is the sub of a 200 userinfo answer, or "".
func (a answer) userinfoSub() string {
	var u struct{ Sub string }
	if a.err != nil || a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &u) != nil {
		return ""
	}
	return u.Sub
}

// apiSub is the sub the guarded API says the guard told it, decoded from
// the percent-encoding of identity headers, or "".
func (a answer) apiSub() string {
	var u struct{ API, Sub, Instance string }
	if a.err != nil || a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &u) != nil || u.API != "whoami" || u.Instance != a.instance {
		return ""
	}
	sub, err := url.PathUnescape(u.Sub)
	if err != nil {
		return ""
	}
	return sub
}

// isStoreDown reports whether a is the documented answer of an instance
// that cannot reach its session store: 503 with a JSON error.
func (a answer) isStoreDown() bool {
	var e struct{ Error string }
	return a.err == nil && a.status == http.StatusServiceUnavailable &&
		strings.HasPrefix(a.ctype, "application/json") &&
		json.Unmarshal([]byte(a.body), &e) == nil && e.Error == "store_unavailable"
}
