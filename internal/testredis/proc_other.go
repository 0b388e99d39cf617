//go:build !unix

package testredis

import (
	"os"
	"os/exec"
)

// terminate is the closest to SIGTERM where there are no process groups.
var terminate = os.Kill

func setProcessGroup(*exec.Cmd) {}

func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
