//go:build unix

package testredis

import (
	"os/exec"
	"syscall"
)

// setProcessGroup gives the server a process group of its own, so the
// signals below also reach a child it forked (an append-only file
// rewrite), and only processes this package started.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate asks the server to shut down cleanly (it flushes its
// append-only file on SIGTERM).
func terminate(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGTERM) }

// kill ends the server at once.
func kill(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGKILL) }

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if syscall.Kill(-cmd.Process.Pid, sig) != nil {
		_ = cmd.Process.Signal(sig)
	}
}
