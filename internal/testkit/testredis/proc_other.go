//go:build !unix

package testredis

import "os/exec"

// Without process groups or SIGTERM, the server is killed either way.

func setProcessGroup(*exec.Cmd) {}

func terminate(cmd *exec.Cmd) { kill(cmd) }

func kill(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
