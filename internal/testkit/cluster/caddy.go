package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// binaryEnv names a Caddy binary to use instead of building one. The
// harness's self-test sets it when it runs the test binary once more, so
// the child does not build Caddy a second time.
const binaryEnv = "SGID_INSTANCES_CADDY"

// instanceHeader carries each start's random token on every answer, so that
// the harness knows it talks to its own process and not to another one
// that shares the port through SO_REUSEPORT.
const instanceHeader = "X-Sgid-Instance"

// Timeouts of the harness. They bound how long a broken setup hangs; no
// test asserts them.
const (
	startTimeout = 60 * time.Second // Caddy answering after exec
	stopGrace    = 10 * time.Second // from SIGTERM to SIGKILL
	buildTimeout = 10 * time.Minute
)

var build struct {
	once sync.Once
	dir  string // removed by Main
	path string
	err  error
}

// Main runs the package's tests and then removes the Caddy binary the
// harness built. A package that uses the harness calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(cluster.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	return code
}

// Binary returns the path of a Caddy built from this checkout's
// ./cmd/caddy. The first call builds it (once per test binary, so a test
// run pays for one link however many instances it starts).
func Binary(tb testing.TB) string {
	tb.Helper()
	build.once.Do(func() {
		if p := os.Getenv(binaryEnv); p != "" {
			build.path = p
			return
		}
		build.path, build.err = buildCaddy()
	})
	if build.err != nil {
		tb.Fatalf("building Caddy: %v", build.err)
	}
	return build.path
}

func buildCaddy() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build Caddy: %w", err)
	}
	build.dir, err = os.MkdirTemp("", "sgid-instances-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(build.dir, "caddy")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./cmd/caddy")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/caddy in %s: %w\n%s", root, err, out)
	}
	return bin, nil
}

// moduleRoot walks up from the working directory (the package's folder
// under go test) to the folder holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// fixedPorts are the ports other test packages start Caddy on; FreePort
// never returns them, even on a machine whose ephemeral range includes
// them.
var fixedPorts = map[int]bool{2997: true, 2998: true, 2999: true, 5001: true, 5002: true, 9080: true, 9180: true, 9443: true}

// FreePort returns a loopback port that nothing listens on now, picked by
// the kernel from its ephemeral range.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 10 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("no free loopback port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !fixedPorts[port] {
			return port
		}
	}
	tb.Fatal("the kernel keeps offering ports that other tests use")
	return 0
}

// Options describes one Caddy instance.
type Options struct {
	// Name labels the instance in messages, such as "A".
	Name string
	// Site is the body of the site block http://localhost:<Port>: the
	// sgid directive and the routes.
	Site string
	// Globals are more global options, one a line.
	Globals []string
	// StorageDir, when set, is Caddy's storage (`storage file_system`).
	// Instances given the same folder share it, as a cluster does. When
	// empty, Caddy uses its default under the instance's own
	// XDG_DATA_HOME (DataDir).
	StorageDir string
	// Port and AdminPort are the loopback ports to use; 0 picks a free
	// one. Either way the port is checked to be free before Caddy starts.
	Port, AdminPort int
}

// Instance is one Caddy process. Restart runs it again with the same
// config, ports and folders.
type Instance struct {
	Name      string
	Origin    string // http://localhost:<Port>
	Port      int
	AdminPort int
	// Dir holds everything of this instance: its HOME, XDG folders,
	// Caddyfile and log.
	Dir string
	// DataDir is its XDG_DATA_HOME; Caddy's default storage is
	// DataDir/caddy.
	DataDir string
	// LogFile receives Caddy's stdout and stderr, of every run.
	LogFile string

	tb        testing.TB
	opts      Options
	caddyfile string
	token     string
	env       []string
	runs      int

	mu   sync.Mutex
	proc *process
}

// Start runs a Caddy with opts and waits until it answers. The test's
// cleanup stops it, also when the test fails, and then prints the tail of
// its log if the test failed.
func Start(tb testing.TB, opts Options) *Instance {
	tb.Helper()
	bin := Binary(tb)
	if opts.Name == "" {
		opts.Name = "caddy"
	}
	i := &Instance{Name: opts.Name, tb: tb, opts: opts, Dir: tb.TempDir(), Port: opts.Port, AdminPort: opts.AdminPort}
	if i.Port == 0 {
		i.Port = FreePort(tb)
	}
	if i.AdminPort == 0 {
		i.AdminPort = FreePort(tb)
	}
	if i.AdminPort == i.Port {
		tb.Fatalf("instance %s: admin port and HTTP port are both %d", i.Name, i.Port)
	}
	i.Origin = "http://localhost:" + strconv.Itoa(i.Port)
	i.DataDir = filepath.Join(i.Dir, "data")
	i.LogFile = filepath.Join(i.Dir, "caddy.log")
	configDir := filepath.Join(i.Dir, "config")
	home := filepath.Join(i.Dir, "home")
	for _, d := range []string{i.DataDir, configDir, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	i.caddyfile = filepath.Join(i.Dir, "Caddyfile")
	i.writeConfig()
	i.env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+i.DataDir, "XDG_CONFIG_HOME="+configDir)

	tb.Cleanup(func() {
		i.Stop()
		if tb.Failed() {
			tb.Logf("instance %s (%s, admin %d), last lines of %s:\n%s", i.Name, i.Origin, i.AdminPort, i.LogFile, i.LogTail(40))
		}
	})
	i.run(bin)
	return i
}

// writeConfig writes the Caddyfile for i.opts with a new token, so that
// an answer tells which config served it.
func (i *Instance) writeConfig() []byte {
	i.tb.Helper()
	tok := make([]byte, 16)
	rand.Read(tok)
	i.token = hex.EncodeToString(tok)
	cfg := []byte(i.config())
	if err := os.WriteFile(i.caddyfile, cfg, 0o600); err != nil {
		i.tb.Fatal(err)
	}
	return cfg
}

// Reload gives the running instance a new site body through the admin
// API's /load, as `caddy reload` does, and waits until the new config
// answers. A later Restart keeps the new config.
func (i *Instance) Reload(site string) {
	i.tb.Helper()
	i.mu.Lock()
	p := i.proc
	i.mu.Unlock()
	if p == nil {
		i.tb.Fatalf("instance %s is not running", i.Name)
	}
	i.opts.Site = site
	previous := i.token
	cfg := i.writeConfig()
	c := &http.Client{Timeout: startTimeout}
	resp, err := c.Post(i.AdminURL("/load"), "text/caddyfile", bytes.NewReader(cfg))
	if err != nil {
		i.tb.Fatalf("reloading instance %s: %v", i.Name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		i.tb.Fatalf("reloading instance %s: %d %s", i.Name, resp.StatusCode, body)
	}
	if err := i.waitReady(p); err != nil {
		i.tb.Fatalf("instance %s after the reload: %v (the previous config answered as %q)", i.Name, err, previous)
	}
}

// config is the instance's Caddyfile: loopback only, no HTTPS, no
// autosave, a JSON log, and a header naming this start on every answer.
func (i *Instance) config() string {
	opts := i.opts
	var b strings.Builder
	fmt.Fprintf(&b, "{\n\tadmin 127.0.0.1:%d\n\thttp_port %d\n", i.AdminPort, i.Port)
	b.WriteString("\tdefault_bind 127.0.0.1\n\tauto_https off\n\tpersist_config off\n\tgrace_period 1s\n")
	b.WriteString("\tlog {\n\t\toutput stderr\n\t\tformat json\n\t\tlevel DEBUG\n\t}\n")
	if opts.StorageDir != "" {
		fmt.Fprintf(&b, "\tstorage file_system %s\n", opts.StorageDir)
	}
	for _, g := range opts.Globals {
		fmt.Fprintf(&b, "\t%s\n", g)
	}
	fmt.Fprintf(&b, "}\n\n%s {\n\theader %s %s\n%s\n}\n", i.Origin, instanceHeader, i.token, opts.Site)
	return b.String()
}

// run starts the process and waits until this very process answers on
// the HTTP port and the admin port.
func (i *Instance) run(bin string) {
	i.tb.Helper()
	for _, p := range []int{i.Port, i.AdminPort} {
		if err := testcaddy.PortsFree(p); err != nil {
			i.tb.Fatalf("instance %s: %v", i.Name, err)
		}
	}
	logf, err := os.OpenFile(i.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		i.tb.Fatal(err)
	}
	defer logf.Close() // the child has its own copy
	i.runs++
	fmt.Fprintf(logf, "--- harness: run %d of instance %s ---\n", i.runs, i.Name)
	cmd := exec.Command(bin, "run", "--config", i.caddyfile, "--adapter", "caddyfile")
	cmd.Dir = i.Dir
	cmd.Env = i.env
	cmd.Stdout = logf
	cmd.Stderr = logf
	p, err := startProcess(cmd)
	if err != nil {
		i.tb.Fatalf("instance %s: %v", i.Name, err)
	}
	i.mu.Lock()
	i.proc = p
	i.mu.Unlock()
	if err := i.waitReady(p); err != nil {
		// The cleanup Start registered prints the log's tail.
		i.tb.Fatalf("instance %s did not come up: %v", i.Name, err)
	}
}

func (i *Instance) waitReady(p *process) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: DialLoopback}}
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("caddy exited: %v", p.err)
		}
		last = i.probe(c)
		if last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer within %v: %w", startTimeout, last)
}

// probe checks that the HTTP port answers with this start's token and that
// the admin endpoint answers.
func (i *Instance) probe(c *http.Client) error {
	resp, err := c.Get(i.Origin + "/_instance")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get(instanceHeader); got != i.token {
		return fmt.Errorf("port %d answered as %q, not as this instance (another process shares the port?)", i.Port, got)
	}
	resp, err = c.Get(i.AdminURL("/config/"))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin /config/ answered %d", resp.StatusCode)
	}
	return nil
}

// Stop ends the process: SIGTERM to its process group, SIGKILL after
// stopGrace. It is safe to call more than once.
func (i *Instance) Stop() {
	i.mu.Lock()
	p := i.proc
	i.proc = nil
	i.mu.Unlock()
	if p != nil {
		p.stop(stopGrace)
	}
}

// Restart stops the instance and runs it again with the same Caddyfile,
// ports and folders.
func (i *Instance) Restart() {
	i.tb.Helper()
	i.Stop()
	i.run(Binary(i.tb))
}

// PID is the process id of the running Caddy, 0 when stopped.
func (i *Instance) PID() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.proc == nil {
		return 0
	}
	return i.proc.cmd.Process.Pid
}

// URL is path on the instance's origin.
func (i *Instance) URL(path string) string { return i.Origin + path }

// String names the instance in messages.
func (i *Instance) String() string { return i.Name }

func (i *Instance) AdminURL(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(i.AdminPort) + path
}

// LogTail returns the last n lines of the instance's log.
func (i *Instance) LogTail(n int) string {
	b, err := os.ReadFile(i.LogFile)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// RSS is the resident set size of the running Caddy in bytes, from
// /proc/<pid>/status.
func (i *Instance) RSS() int64 {
	i.tb.Helper()
	pid := i.PID()
	if pid == 0 {
		i.tb.Fatalf("instance %s is not running", i.Name)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		i.tb.Fatalf("reading the RSS of instance %s: %v", i.Name, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				break
			}
			return kb * 1024
		}
	}
	i.tb.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// LiveHeap is the Go heap Caddy still uses after a garbage collection, in
// bytes. It asks the admin endpoint for a heap profile with gc=1 (which
// collects first) and then reads HeapAlloc from /debug/vars. Unlike RSS it
// does not count freed memory the runtime has yet to return to the OS, so
// it shows what the process retains.
func (i *Instance) LiveHeap() uint64 {
	i.tb.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(i.AdminURL("/debug/pprof/heap?gc=1"))
	if err != nil {
		i.tb.Fatalf("forcing a GC in instance %s: %v", i.Name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	resp, err = c.Get(i.AdminURL("/debug/vars"))
	if err != nil {
		i.tb.Fatalf("reading memstats of instance %s: %v", i.Name, err)
	}
	defer resp.Body.Close()
	var vars struct {
		Memstats struct{ HeapAlloc uint64 }
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil || vars.Memstats.HeapAlloc == 0 {
		i.tb.Fatalf("instance %s /debug/vars: %d, %v", i.Name, resp.StatusCode, err)
	}
	return vars.Memstats.HeapAlloc
}

// process is a child in its own process group, so that stopping it also
// stops anything it started.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // what Wait returned; read after done is closed
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	// Pdeathsig kills the child if the test binary dies without running
	// its cleanups (a panic in another goroutine, a go test timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, SIGKILL after grace, and
// returns once the process is gone. A last SIGKILL to the group takes any
// child that outlived its parent.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// Gone reports whether pid names no live process. A zombie counts as gone:
// it runs nothing and holds no port, and a process the test did not start
// stays one until its parent (or an init that may never come) reaps it.
func Gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) != nil
	}
	// The state follows the command name, which is in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}

// WaitGone waits up to two seconds for pid to die (a killed process's
// children are reaped by someone else, a moment later) and reports
// whether it did.
func WaitGone(pid int) bool {
	for range 100 {
		if Gone(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// DialLoopback connects "localhost" to 127.0.0.1, where instances listen,
// so that no connection goes to ::1, where another program might. Other
// hosts are dialled as they are.
func DialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && host == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", port)
		network = "tcp4"
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
