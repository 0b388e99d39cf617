// Package testredis runs Debian's redis-server as a child process for
// tests: on a free loopback port, in a temporary folder, stopped when the
// test ends, also when it fails.
package testredis

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/procgroup"
)

// Options says how to run the server.
type Options struct {
	// Persist turns on the append-only file, so Restart keeps the data.
	// Without it the server keeps nothing on disk.
	Persist bool
	// Password, when set, is required of clients (requirepass).
	Password string
	// TLS makes the server speak only TLS, with a certificate for
	// 127.0.0.1 signed by a fresh CA whose file is Server.CAFile.
	TLS bool
}

// Server is a running (or stopped) redis-server.
type Server struct {
	// Addr is host:port on the loopback interface.
	Addr string
	// Dir is the server's working folder.
	Dir string
	// CAFile is the PEM file of the CA that signed the server's
	// certificate, when Options.TLS is set.
	CAFile string

	tb   testing.TB
	opts Options
	port int
	bin  string
	tls  *tls.Config // for the readiness check

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
	out  *lockedWriter
}

// startTimeout bounds the wait for a new server to answer PING.
const startTimeout = 20 * time.Second

// Start runs redis-server for the test. Without a redis-server in PATH it
// skips the test, or fails it when env CI is set, where a skip would hide
// that the test did not run.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not found in PATH; install Debian's redis-server package"
		if os.Getenv("CI") != "" {
			tb.Fatalf("test cannot run: %s (CI is set, so this fails instead of skipping)", msg)
		}
		tb.Skipf("test skipped: %s", msg)
	}
	s := &Server{tb: tb, opts: opts, bin: bin, Dir: tb.TempDir()}
	tb.Cleanup(s.kill)
	if opts.TLS {
		s.CAFile, s.tls = writeCerts(tb, s.Dir)
	}
	s.port = freePort(tb)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.start()
	return s
}

// freePort asks the kernel for a free loopback port.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// checkPortFree fails the test with a clear message when something else
// listens on the port (redis-server would only say it cannot bind).
func (s *Server) checkPortFree() {
	s.tb.Helper()
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		s.tb.Fatalf("port %d is in use: %v", s.port, err)
	}
	l.Close()
}

func (s *Server) args() []string {
	a := []string{
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--daemonize", "no",
		"--save", "",
		"--logfile", "",
		"--protected-mode", "yes",
	}
	if s.opts.TLS {
		a = append(a, "--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", filepath.Join(s.Dir, "server.crt"),
			"--tls-key-file", filepath.Join(s.Dir, "server.key"),
			"--tls-ca-cert-file", s.CAFile,
			"--tls-auth-clients", "no")
	} else {
		a = append(a, "--port", strconv.Itoa(s.port))
	}
	if s.opts.Persist {
		a = append(a, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		a = append(a, "--appendonly", "no")
	}
	if s.opts.Password != "" {
		a = append(a, "--requirepass", s.opts.Password)
	}
	return a
}

// start runs the server and waits until it answers.
func (s *Server) start() {
	s.tb.Helper()
	s.checkPortFree()
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Dir = s.Dir
	out := &lockedWriter{}
	cmd.Stdout = out
	cmd.Stderr = out
	procgroup.Own(cmd)
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("starting redis-server: %v", err)
	}
	exit := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exit)
	}()
	s.mu.Lock()
	s.cmd, s.exit, s.out = cmd, exit, out
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-exit:
			s.tb.Fatalf("redis-server exited at start: %s", s.logTail())
		default:
		}
		if s.ping() {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redis-server did not answer within %v: %s", startTimeout, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping reports whether the server answers a PING (an authentication error
// counts: it is up, and the client has not logged in).
func (s *Server) ping() bool {
	conn, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	if s.tls != nil {
		conn = tls.Client(conn, s.tls)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return false
	}
	return strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")
}

// Stop ends the server with SIGTERM and waits for it to exit (it writes
// its append-only file first when Persist is set).
func (s *Server) Stop() {
	s.tb.Helper()
	cmd, exit := s.take()
	if cmd == nil {
		return
	}
	procgroup.Terminate(cmd)
	select {
	case <-exit:
	case <-time.After(15 * time.Second):
		procgroup.Kill(cmd)
		<-exit
		s.tb.Fatalf("redis-server did not stop on SIGTERM within 15s: %s", s.logTail())
	}
}

// take hands the running process to the caller that stops it, so that
// Stop and the Cleanup never both wait for it.
func (s *Server) take() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, exit := s.cmd, s.exit
	s.cmd = nil
	return cmd, exit
}

// Restart stops the server and starts it again on the same port and
// folder, so clients reconnect to the same address and, with Persist, find
// their data.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}

// kill ends the server and everything it started, whatever state the test
// left it in; it runs in the test's Cleanup.
func (s *Server) kill() {
	cmd, exit := s.take()
	if cmd == nil {
		return
	}
	procgroup.Kill(cmd)
	<-exit
	if s.tb.Failed() {
		s.tb.Logf("redis-server output: %s", s.logTail())
	}
}

// logTail returns the end of the server's output for a failure message.
func (s *Server) logTail() string {
	s.mu.Lock()
	w := s.out
	s.mu.Unlock()
	if w == nil {
		return "(no output)"
	}
	w.mu.Lock()
	out := w.buf.String()
	w.mu.Unlock()
	if len(out) > 2000 {
		out = "..." + out[len(out)-2000:]
	}
	return out
}

// lockedWriter lets the child's output be read while it still writes.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
