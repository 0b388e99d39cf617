package routerzoo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/procgroup"
)

// The routes of every router in the zoo, by the name each records.
const (
	routeRoot   = "root"   // "/"
	routePublic = "public" // "/public/..."
	routeAPI    = "api"    // "/api/..." (protected)
	routeSecret = "secret" // "/secret" (protected)
	routeKey    = "key"    // "/key/..." (protected)
)

// protectedRoutes are the routes behind `protect /api/* /secret /key/*`.
var protectedRoutes = map[string]bool{routeAPI: true, routeSecret: true, routeKey: true}

// hit is one run of a route, as the router recorded it: the X-Zoo-Id
// header of the request, the route, the method and the path or target the
// router saw.
type hit struct {
	ID     string `json:"id"`
	Route  string `json:"route"`
	Method string `json:"method"`
	Path   string `json:"path"`
}

// hitLog is where a router records its hits, read beside Caddy, never
// through it: each route records its hit before it answers, so once an
// answer is back its hit is there.
type hitLog interface {
	// mark is the position after the last hit recorded so far.
	mark() int64
	// since returns the hits recorded after mark m.
	since(tb testing.TB, m int64) []hit
}

// router is one router of the zoo: a real server on 127.0.0.1 with the
// zoo's route table.
type router struct {
	name    string
	addr    string // host:port; "" when the router could not start
	missing string // why the router is unavailable, when it is
	hits    hitLog
	about   string        // the router's version, for the test log
	exited  chan struct{} // closed when a router process ends; nil in process
}

// alive reports whether the router still runs: a router process that
// ended would make every later request fail without running a route.
func (r *router) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// memoryHits records the hits of the in-process ServeMux.
type memoryHits struct {
	mu   sync.Mutex
	hits []hit
}

func (m *memoryHits) add(h hit) {
	m.mu.Lock()
	m.hits = append(m.hits, h)
	m.mu.Unlock()
}

func (m *memoryHits) mark() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.hits))
}

func (m *memoryHits) since(_ testing.TB, mark int64) []hit {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]hit(nil), m.hits[mark:]...)
}

// startServeMux runs Go's net/http.ServeMux in process on a port the
// system picks, with the zoo's routes. The test's cleanup stops it.
func startServeMux(tb testing.TB) *router {
	tb.Helper()
	rec := &memoryHits{}
	mux := http.NewServeMux()
	route := func(pattern, name string) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			rec.add(hit{ID: r.Header.Get("X-Zoo-Id"), Route: name, Method: r.Method, Path: r.URL.Path})
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "route="+name+"\n")
		})
	}
	route("/{$}", routeRoot)
	route("/public/", routePublic)
	route("/api/", routeAPI)
	route("/secret", routeSecret)
	route("/key/", routeKey)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return &router{name: "servemux", addr: ln.Addr().String(), hits: rec, about: "Go " + goVersion()}
}

// fileHits reads the hits a router process appends to a file, one JSON
// object a line.
type fileHits struct{ path string }

func (f fileHits) mark() int64 {
	st, err := os.Stat(f.path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func (f fileHits) since(tb testing.TB, m int64) []hit {
	tb.Helper()
	file, err := os.Open(f.path)
	if err != nil {
		tb.Fatalf("reading the hits: %v", err)
	}
	defer file.Close()
	if _, err := file.Seek(m, io.SeekStart); err != nil {
		tb.Fatal(err)
	}
	var hits []hit
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var h hit
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			tb.Fatalf("a hit that is not JSON in %s: %q", f.path, sc.Text())
		}
		hits = append(hits, h)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("reading %s: %v", f.path, err)
	}
	return hits
}

// readyLine is what a router process prints once it listens: the port,
// and maybe its version.
var readyLine = regexp.MustCompile(`^ZOO_READY (\d+) ?(.*)$`)

// startProcess runs a router program (argv, then the port 0 and the hits
// file) in dir, and returns a function that waits for its ready line, so
// that several start at once; it returns an error with the program's
// standard error when the program ended before it listened. Its standard input stays open while this
// process lives: the program ends when it closes, so that a router
// outlives no test binary, also one that is killed. The test's cleanup
// kills its process group.
func startProcess(tb testing.TB, name, dir string, argv ...string) (wait func() (*router, error)) {
	tb.Helper()
	hitsFile := filepath.Join(tb.TempDir(), name+".hits")
	if err := os.WriteFile(hitsFile, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(argv[0], append(argv[1:], "0", hitsFile)...)
	cmd.Dir = dir
	procgroup.Own(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	exited := make(chan struct{})
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
		io.Copy(io.Discard, stdout)
		// Wait only once stdout is read to its end, as exec asks.
		cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() {
		stdin.Close()
		procgroup.Kill(cmd)
		<-exited
		if tb.Failed() && stderr.Len() > 0 {
			tb.Logf("%s's standard error, last part:\n%s", name, tail(stderr.String(), 4000))
		}
	})
	return func() (*router, error) {
		tb.Helper()
		select {
		case m := <-ready:
			return &router{name: name, addr: "127.0.0.1:" + m[1], hits: fileHits{hitsFile}, exited: exited, about: m[2]}, nil
		case <-exited:
			return nil, fmt.Errorf("%s ended before it listened: %s", name, tail(stderr.String(), 4000))
		case <-time.After(30 * time.Second):
			tb.Fatalf("%s did not listen within 30 s: %s", name, tail(stderr.String(), 4000))
		}
		return nil, nil
	}
}

// lockedBuffer is a child's standard error, safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// noFlask begins what flask/app.py writes to its standard error when its
// python3 has no Flask.
const noFlask = "no Flask for"

// startFlask runs flask/app.py on Werkzeug's own server, with Debian's
// python3 (the python3-flask package), else with the first python3 in
// PATH, whichever has Flask.
func startFlask(tb testing.TB) func() *router {
	tb.Helper()
	var pythons []string
	for _, p := range []string{"/usr/bin/python3", lookPath("python3")} {
		if _, err := os.Stat(p); p != "" && err == nil && !slices.Contains(pythons, p) {
			pythons = append(pythons, p)
		}
	}
	if len(pythons) == 0 {
		return func() *router { return &router{name: "flask", missing: "no python3 (install Debian's python3-flask)"} }
	}
	wait := startProcess(tb, "flask", "flask", pythons[0], "app.py")
	return func() *router {
		tb.Helper()
		for i := 1; ; i++ {
			r, err := wait()
			if err == nil {
				return r
			}
			if !strings.Contains(err.Error(), noFlask) {
				tb.Fatal(err)
			}
			if i == len(pythons) {
				return &router{name: "flask", missing: fmt.Sprintf("no python3 with Flask (%s); install Debian's python3-flask", strings.Join(pythons, ", "))}
			}
			wait = startProcess(tb, "flask", "flask", pythons[i], "app.py")
		}
	}
}

// lookPath is the program's path in PATH, or "".
func lookPath(name string) string {
	p, _ := exec.LookPath(name)
	return p
}

// nodeModules are the npm packages of node/package.json, by name, with
// the versions it pins.
func nodeModules() (map[string]string, error) {
	raw, err := os.ReadFile(filepath.Join("node", "package.json"))
	if err != nil {
		return nil, err
	}
	var pkg struct{ Dependencies map[string]string }
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return nil, err
	}
	return pkg.Dependencies, nil
}

// findNode is the node binary when it is in PATH and the pinned package
// module is installed under node/node_modules; else "" and the reason.
func findNode(module string) (node, version, why string) {
	const install = "run `npm ci --prefix internal/tests/routerzoo/node`"
	node, err := exec.LookPath("node")
	if err != nil {
		return "", "", "no node in PATH"
	}
	pins, err := nodeModules()
	if err != nil {
		return "", "", fmt.Sprintf("node/package.json: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join("node", "node_modules", module, "package.json"))
	if err != nil {
		return "", "", fmt.Sprintf("%s is not installed; %s", module, install)
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(raw, &pkg); err != nil || pkg.Version != pins[module] {
		return "", "", fmt.Sprintf("%s is %q, package.json pins %q; %s", module, pkg.Version, pins[module], install)
	}
	return node, module + " " + pkg.Version, ""
}

// startNode runs node/<script> with the npm package module.
func startNode(tb testing.TB, name, module, script string) func() *router {
	tb.Helper()
	node, version, why := findNode(module)
	if why != "" {
		return func() *router { return &router{name: name, missing: why} }
	}
	wait := startProcess(tb, name, "node", node, script)
	return func() *router {
		tb.Helper()
		r, err := wait()
		if err != nil {
			tb.Fatal(err)
		}
		r.about = version
		return r
	}
}

// startRouters starts every router of the zoo at once; those that cannot
// run come back with the reason in missing.
func startRouters(tb testing.TB) []*router {
	tb.Helper()
	waits := []func() *router{
		startFlask(tb),
		startNode(tb, "express", "express", "express.mjs"),
		startNode(tb, "fastify", "fastify", "fastify.mjs"),
	}
	routers := []*router{startServeMux(tb)}
	for _, wait := range waits {
		routers = append(routers, wait())
	}
	return routers
}
