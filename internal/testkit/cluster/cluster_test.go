package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestStartStopRestart(t *testing.T) {
	site := `	respond "home={env.HOME} data={env.XDG_DATA_HOME} config={env.XDG_CONFIG_HOME}" 200`
	a := Start(t, Options{Name: "A", Site: site})
	b := Start(t, Options{Name: "B", Site: site})
	if a.Port == b.Port || a.AdminPort == b.AdminPort || a.Port == a.AdminPort {
		t.Fatalf("ports overlap: A %d/%d, B %d/%d", a.Port, a.AdminPort, b.Port, b.AdminPort)
	}
	br := NewBrowser(t)
	for _, i := range []*Instance{a, b} {
		resp, body := br.Get(i.URL("/"))
		want := fmt.Sprintf("home=%s data=%s config=%s", filepath.Join(i.Dir, "home"), i.DataDir, filepath.Join(i.Dir, "config"))
		if resp.StatusCode != http.StatusOK || body != want {
			t.Errorf("%s answered %d %q, want its own folders %q", i.Name, resp.StatusCode, body, want)
		}
		if resp.Header.Get(instanceHeader) != i.token {
			t.Errorf("%s answered with token %q", i.Name, resp.Header.Get(instanceHeader))
		}
	}
	if rss := a.RSS(); rss < 1<<20 {
		t.Errorf("RSS of A = %d bytes, implausibly small", rss)
	}
	if h := a.LiveHeap(); h < 1<<20 {
		t.Errorf("live heap of A = %d bytes, implausibly small", h)
	}

	pid := a.PID()
	a.Stop()
	if !WaitGone(pid) {
		t.Fatalf("A (pid %d) still runs after Stop", pid)
	}
	if a.PID() != 0 {
		t.Errorf("PID after Stop = %d, want 0", a.PID())
	}
	for _, p := range []int{a.Port, a.AdminPort} {
		if err := testcaddy.PortsFree(p); err != nil {
			t.Errorf("after Stop: %v", err)
		}
	}
	if resp, _ := br.Get(b.URL("/")); resp.StatusCode != http.StatusOK {
		t.Errorf("B answered %d after A stopped", resp.StatusCode)
	}
	a.Stop() // a second Stop is harmless

	a.Restart()
	if a.PID() == 0 || a.PID() == pid {
		t.Errorf("PID after Restart = %d (before %d)", a.PID(), pid)
	}
	if resp, _ := br.Get(a.URL("/")); resp.StatusCode != http.StatusOK || resp.Header.Get(instanceHeader) != a.token {
		t.Errorf("A after restart answered %d as %q", resp.StatusCode, resp.Header.Get(instanceHeader))
	}

	// A reload takes effect without a new process, and a restart keeps it.
	oldToken := a.token
	a.Reload("\trespond \"reloaded\" 200")
	if resp, body := br.Get(a.URL("/")); body != "reloaded" || a.token == oldToken || resp.Header.Get(instanceHeader) != a.token {
		t.Errorf("A after the reload answered %q as %q", body, resp.Header.Get(instanceHeader))
	}
	a.Restart()
	if _, body := br.Get(a.URL("/")); body != "reloaded" {
		t.Errorf("A restarted after a reload answered %q, want the reloaded config", body)
	}

	log, err := os.ReadFile(a.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), "--- harness: run "); n != 3 {
		t.Errorf("log of A has %d run markers, want 3", n)
	}
	// Caddy's own JSON log lines reach the file, from every run.
	if n := strings.Count(string(log), `"msg":"serving initial configuration"`); n != 3 {
		t.Errorf("log of A has %d 'serving initial configuration' lines, want 3:\n%s", n, a.LogTail(20))
	}
}

func TestPortsFreeSeesAHeldPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	err = testcaddy.PortsFree(port)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d is in use", port)) {
		t.Errorf("CheckPortFree on a used port: %v", err)
	}
	l.Close()
	if err := testcaddy.PortsFree(port); err != nil {
		t.Errorf("CheckPortFree on a closed port: %v", err)
	}

	// Caddy listens with SO_REUSEPORT; such a listener must count as using
	// the port too, or two Caddys would share it without a word.
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
		})
		return errors.Join(err, serr)
	}}
	rl, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	port = rl.Addr().(*net.TCPAddr).Port
	if err := testcaddy.PortsFree(port); err == nil {
		t.Errorf("CheckPortFree missed an SO_REUSEPORT listener on %d", port)
	}
}

func TestStartRefusesAPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	for _, opts := range []Options{{Name: "http", Port: port}, {Name: "admin", AdminPort: port}} {
		msg := testcaddy.FatalMessage(t, func(tb testing.TB) {
			Start(tb, Options{Name: opts.Name, Port: opts.Port, AdminPort: opts.AdminPort, Site: "\trespond 200"})
		})
		if want := fmt.Sprintf("port %d is in use", port); !strings.Contains(msg, want) {
			t.Errorf("%s port taken: Start failed with %q, want it to say %q", opts.Name, msg, want)
		}
	}
}

func TestStopEscalatesToKillForTheWholeGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	// The shell and its child ignore SIGTERM (an ignored signal stays
	// ignored across exec), so only the SIGKILL to the group ends them.
	cmd := exec.Command("sh", "-c", `trap "" TERM; sleep 300 & echo $! > "$0"; wait`, pidFile)
	p, err := startProcess(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(0) })
	var child int
	for range 250 {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if child == 0 {
		t.Fatal("the shell did not start its child")
	}
	p.stop(200 * time.Millisecond)
	if !p.exited() {
		t.Fatal("stop returned before the process ended")
	}
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the shell ended with %v, want SIGKILL", p.err)
	}
	if !WaitGone(child) {
		t.Errorf("the shell's child %d outlived the stop", child)
	}
}

// childEnv is set in the test binary TestCleanupAfterAFailedTest starts
// (to the file for the pid); there the test plays the failing test.
const childEnv = "SGID_INSTANCES_CHILD_PIDFILE"

// TestCleanupAfterAFailedTest runs itself once more in a child test
// binary, where it starts an instance and fails; the parent then checks
// that the instance is gone and that its log was printed.
func TestCleanupAfterAFailedTest(t *testing.T) {
	if pidFile := os.Getenv(childEnv); pidFile != "" {
		// The subtest fails; its cleanups have run when t.Run returns, while
		// this process (whose death would also kill the instance) lives on.
		pid := 0
		t.Run("doomed", func(t *testing.T) {
			i := Start(t, Options{Name: "doomed", Site: "\trespond 200"})
			pid = i.PID()
			t.Fatal("failing on purpose with an instance running")
		})
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(pid)), 0o600); err != nil {
			t.Fatal(err)
		}
		if pid != 0 && WaitGone(pid) {
			t.Log("child: the failed test's instance is gone")
		}
		return
	}

	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCleanupAfterAFailedTest$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+pidFile, binaryEnv+"="+Binary(t))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "failing on purpose") {
		t.Fatalf("the child test should fail on purpose; it ended with %v:\n%s", err, out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the child wrote no pid: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "child: the failed test's instance is gone") {
		t.Errorf("the cleanup of the failed test did not stop its Caddy (pid %s):\n%s", b, out)
	}
	// The failure printed the end of the instance's log, for diagnosis.
	if !strings.Contains(string(out), "instance doomed") || !strings.Contains(string(out), "--- harness: run 1 of instance doomed ---") {
		t.Errorf("the failed test did not print the instance's log:\n%s", out)
	}
}

func TestBalancerPassesTheHostToTheChosenInstance(t *testing.T) {
	site := func(name string) string {
		return "\trespond \"{http.request.hostport} {uri} from " + name + "\" 200\n\theader Set-Cookie \"seen=1; Path=/\""
	}
	a := Start(t, Options{Name: "A", Site: site("A")})
	b := Start(t, Options{Name: "B", Site: site("B")})
	lb := NewBalancer(t)
	br := NewBrowser(t)
	if resp, body := br.Get(lb.URL("/x")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("balancer with no instance chosen: %d %q", resp.StatusCode, body)
	}
	host := strings.TrimPrefix(lb.Origin, "http://")
	for _, i := range []*Instance{a, b, a} {
		lb.Send(i)
		resp, body := br.Get(lb.URL("/x?y=1"))
		if want := host + " /x?y=1 from " + i.Name; resp.StatusCode != http.StatusOK || body != want {
			t.Errorf("balancer to %s: %d %q, want %q", i.Name, resp.StatusCode, body, want)
		}
	}
	// A cookie an instance sets through the balancer is the browser's for
	// every instance: cookies are not scoped by port.
	if c := br.Cookie("seen"); c == nil || c.Value != "1" {
		t.Errorf("cookie set through the balancer: %v", c)
	}
}
