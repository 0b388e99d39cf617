package testcaddy

import (
	"fmt"
	"runtime"
	"testing"
)

// FatalMessage runs f with a testing.TB that records a Fatal or Fatalf
// instead of failing the test, and returns the message ("" when f returned
// without one). Tests use it to check what a helper that fails tests
// reports. As with testing.T, Fatal ends f's goroutine, so f runs in one of
// its own. Every other method goes to tb (nil: calling one panics).
func FatalMessage(tb testing.TB, f func(testing.TB)) string {
	r := &fatalRecorder{TB: tb}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.msg
}

type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) {
	r.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
