//go:build unix

package procgroup

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Kill ends the grandchild a child started too, which killing the child
// alone would leave running.
func TestKillEndsTheGroup(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	Own(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	for _, c := range buf[:n] {
		if c >= '0' && c <= '9' {
			pid = pid*10 + int(c-'0')
		}
	}
	if pid == 0 {
		t.Fatalf("no grandchild pid in %q", buf[:n])
	}
	Kill(cmd)
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the grandchild outlived Kill")
		}
		time.Sleep(20 * time.Millisecond)
	}
	Kill(exec.Command("true")) // never started: left alone, no panic
}
