package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// A rare failed call is counted and the run goes on; more than one in a
// hundred stops it with the first failure.
func TestParallelToleratesARareFailure(t *testing.T) {
	var calls atomic.Int64
	failEvery := func(k int64) func(context.Context) error {
		return func(context.Context) error {
			if calls.Add(1)%k == 0 {
				return errors.New("callback: status 302")
			}
			return nil
		}
	}
	done, _, err := parallel(context.Background(), 4, time.Minute, 1000, failEvery(500))
	if err != nil || done != 998 {
		t.Errorf("two failures in 1,000 calls: %d done, %v; want 998 and no error", done, err)
	}
	calls.Store(0)
	done, _, err = parallel(context.Background(), 4, time.Minute, 1000, failEvery(20))
	if err == nil || done >= 1000 {
		t.Errorf("one failure in 20 calls: %d done, %v; want an error", done, err)
	}
}
