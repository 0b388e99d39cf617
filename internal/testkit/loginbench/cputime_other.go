//go:build !unix

package loginbench

import (
	"testing"
	"time"
)

// CPUTime skips the benchmark: without getrusage there is no portable way
// to read the process's CPU time.
func CPUTime(tb testing.TB) time.Duration {
	tb.Skip("CPU time is read with getrusage, which this system lacks")
	return 0
}
