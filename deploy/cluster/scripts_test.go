package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	instances "github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
)

// TestUpRefusesABusyPort: a port of the cluster held by another program
// makes up.sh fail at once, naming the port and the part, before it
// starts anything (Caddy would otherwise share the port through
// SO_REUSEPORT, and the stranger would answer some of the requests).
func TestUpRefusesABusyPort(t *testing.T) {
	requirePrereqs(t)
	c := newCluster(t, "INFO")
	port := c.ports["CLUSTER_CADDY2_PORT"]
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("holding port %d: %v", port, err)
	}
	defer l.Close()

	out, err := c.script("up.sh")
	if err == nil {
		t.Fatalf("up.sh exited 0 with port %d taken:\n%s", port, out)
	}
	if want := fmt.Sprintf("port %d is in use (needed by caddy-2)", port); !strings.Contains(out, want) {
		t.Errorf("up.sh said:\n%s\nwant a line with %q", out, want)
	}
	pids, _ := filepath.Glob(filepath.Join(c.run, "*.pid"))
	if len(pids) > 0 {
		t.Errorf("up.sh left PID files although it refused to start: %v", pids)
	}
}

// TestDownSparesStrangers: a PID file whose process is gone and whose
// number now names another program (here a sleep of the test's) must not
// make down.sh signal that program; the stale file is removed.
func TestDownSparesStrangers(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not found in PATH")
	}
	c := newCluster(t, "INFO")
	if err := os.MkdirAll(c.run, 0o755); err != nil {
		t.Fatal(err)
	}
	stranger := exec.Command("sleep", "60")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer stranger.Process.Kill()
	pid := strconv.Itoa(stranger.Process.Pid)
	for _, name := range []string{"redis", "mockpass", "caddy-1", "caddy-2", "caddy-3", "lb"} {
		if err := os.WriteFile(filepath.Join(c.run, name+".pid"), []byte(pid+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := c.down()
	if strings.Contains(out, "stopped") {
		t.Errorf("down.sh claims to have stopped something:\n%s", out)
	}
	if instances.Gone(stranger.Process.Pid) {
		t.Fatalf("down.sh killed pid %s, which was not one of its parts", pid)
	}
	pids, _ := filepath.Glob(filepath.Join(c.run, "*.pid"))
	if len(pids) > 0 {
		t.Errorf("down.sh left the stale PID files: %v", pids)
	}
}

// TestStartCheckBeforeExec: up.sh asks whether a part it started still
// runs while the part's subshell may not have exec'd its program yet. Its
// check (running) must say yes then, where the command-line check
// (live_pid) cannot yet see the part and once reported "redis exited at
// start" for a Redis that was starting; and it must say no once the
// process has exited. The subshell waits on a FIFO before its exec, so the
// check surely runs before it.
func TestStartCheckBeforeExec(t *testing.T) {
	for _, cmd := range []string{"bash", "mkfifo"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("%s not found in PATH", cmd)
		}
	}
	c := newCluster(t, "INFO")
	if err := os.MkdirAll(c.run, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `set -eu
. ./common.sh
yesno() { if "$@"; then echo yes; else echo no; fi; }
mkfifo "$run/go"
(read -r _ <"$run/go"; exec sleep 30) &
pid=$!
echo "$pid" >"$(pidfile_of redis)"
echo "before exec: running $(yesno running "$pid"), live_pid $(yesno live_pid redis)"
echo go >"$run/go"
kill "$pid"
wait "$pid" 2>/dev/null || true
echo "after exit: running $(yesno running "$pid")"
`
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = c.dir
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "before exec: running yes, live_pid no\nafter exit: running no\n"
	if string(out) != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}
}
