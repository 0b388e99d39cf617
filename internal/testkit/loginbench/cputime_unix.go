//go:build unix

package loginbench

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime is the CPU time this process has used so far, every thread.
func CPUTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
