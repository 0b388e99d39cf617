package main

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundOrder(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
	}{
		{"two contenders", 2},
		{"the journey's four", 4},
		{"five", 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			slot := map[[2]int]bool{}   // contender, position
			before := map[[2]int]bool{} // a ran before b in some round
			next := map[[2]int]bool{}   // b ran right after a in some round
			for round := 1; round <= 2*c.n; round++ {
				order := roundOrder(round, c.n)
				sorted := slices.Sorted(slices.Values(order))
				for i := range c.n {
					if len(sorted) != c.n || sorted[i] != i {
						t.Fatalf("round %d: %v is not an order of %d contenders", round, order, c.n)
					}
				}
				for pos, who := range order {
					slot[[2]int{who, pos}] = true
					if pos+1 < len(order) {
						next[[2]int{who, order[pos+1]}] = true
					}
					for _, later := range order[pos+1:] {
						before[[2]int{who, later}] = true
					}
				}
			}
			for a := range c.n {
				for b := range c.n {
					if !slot[[2]int{a, b}] {
						t.Errorf("contender %d never takes slot %d in %d rounds", a, b, 2*c.n)
					}
					if a != b && !before[[2]int{a, b}] {
						t.Errorf("contender %d never runs before %d in %d rounds", a, b, 2*c.n)
					}
					// Neighbours meet in both orders, so that neither always
					// inherits the other's warm caches or leftover garbage.
					if next[[2]int{a, b}] && !next[[2]int{b, a}] {
						t.Errorf("contender %d runs right after %d but never right before it", b, a)
					}
				}
			}
		})
	}
}

func TestRatiosOf(t *testing.T) {
	ms := time.Millisecond
	samples := [][]sample{
		{{rate: 100, cpu: 4 * ms}, {rate: 200, cpu: 2 * ms}, {rate: 50, cpu: 8 * ms}},
		{{rate: 90, cpu: 3 * ms}, {rate: 45, cpu: 6 * ms}, {rate: 90, cpu: 3 * ms}},
	}
	for _, c := range []struct {
		name       string
		base, cand int
		rate, cpu  []float64
	}{
		{"cand cheaper", 0, 1, []float64{2, 0.5}, []float64{2, 0.5}},
		{"cand dearer", 0, 2, []float64{0.5, 1}, []float64{0.5, 1}},
		{"between candidates", 2, 1, []float64{4, 0.5}, []float64{4, 0.5}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ratiosOf(samples, c.base, c.cand)
			if !slices.Equal(got.rate, c.rate) || !slices.Equal(got.cpu, c.cpu) {
				t.Errorf("ratiosOf(%d, %d) = %+v, want rate %v cpu %v", c.base, c.cand, got, c.rate, c.cpu)
			}
		})
	}
}

func TestUntilDeadline(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name    string
		failAt  int64 // the call that fails, counted from 1; 0: none
		wantErr error
	}{
		{"calls under way at the deadline finish and count", 0, nil},
		{"the first error stops the run", 3, boom},
	} {
		t.Run(c.name, func(t *testing.T) {
			var started, cancelled atomic.Int64
			done, _, err := untilDeadline(context.Background(), 4, 20*time.Millisecond, func(ctx context.Context) error {
				n := started.Add(1)
				if n == c.failAt {
					return boom
				}
				time.Sleep(5 * time.Millisecond)
				if ctx.Err() != nil {
					cancelled.Add(1)
				}
				return nil
			})
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if c.wantErr != nil {
				if done >= started.Load() {
					t.Errorf("%d calls counted of %d started, the failed one among them", done, started.Load())
				}
				return
			}
			if started.Load() == 0 || done != started.Load() {
				t.Errorf("%d calls counted of %d started", done, started.Load())
			}
			if cancelled.Load() != 0 {
				t.Errorf("%d calls saw their context cancelled before they ended", cancelled.Load())
			}
		})
	}
}
