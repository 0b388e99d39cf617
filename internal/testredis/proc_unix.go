//go:build unix

package testredis

import (
	"os/exec"
	"syscall"
)

// terminate is the signal Stop sends: redis-server shuts down cleanly on
// it, flushing its append-only file.
var terminate = syscall.SIGTERM

// setProcessGroup puts the child in a process group of its own, so that
// killProcessGroup also ends any child it forked (an AOF rewrite).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup kills the group setProcessGroup made: only the
// processes this test started.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		_ = cmd.Process.Kill()
	}
}
