package testcaddy

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Caddy's own listeners set SO_REUSEPORT; a second Caddy would bind next to
// them without an error, but the check's plain bind must still be refused.
func TestRequirePortsFreeSeesReusePortListener(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	port := occupy(t, lc, "tcp", ":0")
	msg := requirePortsFree(port)
	if want := fmt.Sprintf("port %d is in use", port); !strings.HasPrefix(msg, want) {
		t.Fatalf("RequirePortsFree(%d) with an SO_REUSEPORT listener on it: Fatalf(%q), want it to start with %q", port, msg, want)
	}
}
