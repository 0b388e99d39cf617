package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process in its own process group, so that stopping it
// also stops whatever it started. Its output is kept for the error message
// when it dies.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
	err  error // what Wait returned, once done is closed
}

// tail keeps the last few KB a child wrote, and reports a line matching
// ready once.
type tail struct {
	mu    sync.Mutex
	buf   []byte
	ready *regexp.Regexp
	found chan string
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if t.ready != nil {
		if m := t.ready.FindSubmatch(t.buf); m != nil {
			t.found <- string(m[1])
			t.ready = nil
		}
	}
	if len(t.buf) > 16<<10 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-8<<10:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// cpuSet is the core a child is pinned to ("" for none). On a machine
// with at least two cores, the systems under test share one core and the
// load generators, sgID's mock and Redis the other, so that a generator
// never steals time from the server it measures.
type cpuSet string

// start runs argv in dir with env added to a minimal environment. When
// readyRE is set, it waits (at most 30 s) for the child to print a line
// matching it and returns the first submatch.
func start(ctx context.Context, name string, cpus cpuSet, dir string, env []string, readyRE string, argv ...string) (*proc, string, error) {
	if cpus != "" {
		argv = append([]string{"taskset", "-c", string(cpus)}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	// Pdeathsig stops the child if this program dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{name: name, cmd: cmd, out: &tail{found: make(chan string, 1)}, done: make(chan struct{})}
	if readyRE != "" {
		p.out.ready = regexp.MustCompile(readyRE)
	}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if readyRE == "" {
		return p, "", nil
	}
	select {
	case s := <-p.out.found:
		return p, s, nil
	case <-p.done:
		return nil, "", fmt.Errorf("%s exited at start (%v):\n%s", name, p.err, p.out)
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, "", fmt.Errorf("%s did not start within 30s:\n%s", name, p.out)
	case <-ctx.Done():
		p.stop()
		return nil, "", ctx.Err()
	}
}

// alive returns an error naming the child when it has exited.
func (p *proc) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); its last output:\n%s", p.name, p.err, p.out)
	default:
		return nil
	}
}

// pid is the process's own id. With taskset in front, taskset execs the
// program, so the id stays the same.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM to the process group and SIGKILL after 5 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
}

// cpuTime is the user plus system CPU time the process has used, from
// /proc/<pid>/stat (in clock ticks of 10 ms on Linux).
func (p *proc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", p.pid())
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// freePort returns a loopback port nobody listens on. A plain listen
// fails on a port another program holds, even one holding it with
// SO_REUSEPORT as Caddy does, so a port that this listen got is free.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers with a status below 500, for at most
// 30 s, failing early when p exits.
func waitHTTP(p *proc, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if err := p.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer at %s within 30s: %v\n%s", p.name, url, err, p.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitRedis sends PING until Redis answers PONG, for at most 30 s.
func waitRedis(p *proc, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := pingRedis(addr)
		if err == nil {
			return nil
		}
		if err := p.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server does not answer at %s within 30s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("answered %q", line)
	}
	return nil
}
