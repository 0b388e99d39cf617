package testcaddy

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
)

// requirePortsFree runs RequirePortsFree and returns its Fatalf message
// ("" when it passed).
func requirePortsFree(ports ...int) string {
	return FatalMessage(nil, func(tb testing.TB) { RequirePortsFree(tb, ports...) })
}

// occupy listens on network addr until the test ends and returns the port.
func occupy(t *testing.T, lc net.ListenConfig, network, addr string) int {
	t.Helper()
	ln, err := lc.Listen(t.Context(), network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s here: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRequirePortsFreeFailsOnBusyPort(t *testing.T) {
	for _, tc := range []struct{ name, network, addr string }{
		{"loopback", "tcp4", "127.0.0.1:0"},
		{"wildcard", "tcp4", "0.0.0.0:0"},
		{"dual-stack wildcard", "tcp", ":0"},
		// Only the wildcard probe sees a holder on another address.
		{"other loopback address", "tcp4", "127.0.0.2:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port := occupy(t, net.ListenConfig{}, tc.network, tc.addr)
			msg := requirePortsFree(port)
			want := fmt.Sprintf("port %d is in use", port)
			if !strings.HasPrefix(msg, want) {
				t.Fatalf("RequirePortsFree(%d) with the port held on %s: Fatalf(%q), want it to start with %q", port, tc.addr, msg, want)
			}
			if runtime.GOOS == "linux" && !strings.Contains(msg, "this test process") {
				t.Errorf("message %q does not name this process as the holder", msg)
			}
		})
	}
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRequirePortsFreeChecksEveryPort(t *testing.T) {
	free := freePort(t)
	if msg := requirePortsFree(free); msg != "" {
		t.Fatalf("RequirePortsFree(%d) on a free port: Fatalf(%q)", free, msg)
	}
	busy := occupy(t, net.ListenConfig{}, "tcp4", "127.0.0.1:0")
	msg := requirePortsFree(free, busy)
	if want := fmt.Sprintf("port %d is in use", busy); !strings.HasPrefix(msg, want) {
		t.Fatalf("RequirePortsFree(%d, %d) with the second held: Fatalf(%q), want it to start with %q", free, busy, msg, want)
	}
}
