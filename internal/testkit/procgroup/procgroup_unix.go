//go:build unix

package procgroup

import (
	"os/exec"
	"syscall"
)

func own(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = new(syscall.SysProcAttr)
	}
	cmd.SysProcAttr.Setpgid = true
}

func terminate(cmd *exec.Cmd) { signal(cmd, syscall.SIGTERM) }

func kill(cmd *exec.Cmd) { signal(cmd, syscall.SIGKILL) }

// signal signals the group Own made, or the process alone when it has
// none.
func signal(cmd *exec.Cmd, sig syscall.Signal) {
	if syscall.Kill(-cmd.Process.Pid, sig) != nil {
		_ = cmd.Process.Signal(sig)
	}
}
