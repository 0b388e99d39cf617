// Package procgroup starts a test's child process (mockpass, a router of
// the zoo, redis-server) in a process group of its own and ends that
// group, so that whatever the child started ends with it and no other
// process is signalled.
package procgroup

import "os/exec"

// Own makes cmd, before it starts, the leader of a process group of its
// own (where the system has process groups).
func Own(cmd *exec.Cmd) { own(cmd) }

// Terminate asks cmd's group to shut down cleanly (SIGTERM; a kill where
// the system has no such signal).
func Terminate(cmd *exec.Cmd) { terminate(cmd) }

// Kill ends cmd's group at once. A command that never started is left
// alone.
func Kill(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	kill(cmd)
}
