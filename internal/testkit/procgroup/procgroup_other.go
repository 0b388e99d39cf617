//go:build !unix

package procgroup

import "os/exec"

// Without process groups or SIGTERM, the process is killed either way.

func own(*exec.Cmd) {}

func terminate(cmd *exec.Cmd) { kill(cmd) }

func kill(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
