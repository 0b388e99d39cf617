package testcaddy

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// RequirePortsFree fails the test at once when one of ports cannot be bound
// on 127.0.0.1 or on the IPv4 wildcard address. Caddy listens with
// SO_REUSEPORT, so a test's Caddy would start without a word next to a server
// already on the port (the example left running, another package's tests),
// and the two would share the traffic: the test would then fail later with
// an error that points elsewhere. A plain bind, without SO_REUSEPORT, is
// refused in that case, which is what this check relies on.
func RequirePortsFree(tb testing.TB, ports ...int) {
	tb.Helper()
	if err := PortsFree(ports...); err != nil {
		tb.Fatalf("%v", err)
	}
}

// PortsFree is RequirePortsFree's check, for callers without a testing.TB
// at hand or that check once for many tests: nil when every port is free,
// else an error that begins "port N is in use".
func PortsFree(ports ...int) error {
	for _, port := range ports {
		// Linux refuses the loopback bind next to a wildcard holder, and the
		// wildcard bind next to any holder; BSD-derived systems allow the
		// more specific bind, so both are tried.
		for _, host := range []string{"127.0.0.1", "0.0.0.0"} {
			addr := net.JoinHostPort(host, strconv.Itoa(port))
			ln, err := net.Listen("tcp4", addr)
			if err != nil {
				return fmt.Errorf("port %d is in use%s (%w); the tests need it free: stop whatever holds it and run again",
					port, holder(port), err)
			}
			if err := ln.Close(); err != nil {
				return fmt.Errorf("close the probe listener on %s: %w", addr, err)
			}
		}
	}
	return nil
}

// holder names the processes listening on TCP port, as " by pid 123
// (caddy)", where the system says so: on Linux, from /proc, for the processes
// this user may inspect. Elsewhere, or when nothing is found, it is "".
func holder(port int) string {
	inodes := listeningInodes(port)
	if len(inodes) == 0 {
		return ""
	}
	var found []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if err != nil || !inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				continue
			}
			name, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			who := fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(name)))
			if pid == os.Getpid() {
				who += ", this test process"
			}
			found = append(found, who)
			break
		}
	}
	if len(found) == 0 {
		return ""
	}
	return " by " + strings.Join(found, ", ")
}

// listeningInodes returns the socket inodes of the TCP listeners on port,
// from /proc/net/tcp and /proc/net/tcp6 (empty where those do not exist).
func listeningInodes(port int) map[string]bool {
	const listen = "0A" // TCP_LISTEN in the st column
	want := fmt.Sprintf(":%04X", port)
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != listen || !strings.HasSuffix(f[1], want) {
				continue
			}
			inodes[f[9]] = true
		}
	}
	return inodes
}
