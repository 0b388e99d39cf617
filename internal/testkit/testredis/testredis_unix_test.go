//go:build unix

package testredis

import (
	"errors"
	"syscall"
	"testing"
)

// TestCleanupKills checks that the server of a finished test is gone even
// though the test never stopped it.
func TestCleanupKills(t *testing.T) {
	var pid int
	t.Run("leaves it running", func(t *testing.T) {
		s := Start(t, Options{})
		pid = s.cmd.Process.Pid
	})
	if pid == 0 {
		t.Skip("the subtest was skipped")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("redis-server (pid %d) still exists after its test ended: %v", pid, err)
	}
}
