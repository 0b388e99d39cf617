package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// fillStorage stores sessions from to to in s as fillSessions does, 64 at
// a time: each Create and AddMember syncs a file, and the file system
// batches the syncs of concurrent writers.
func fillStorage(tb testing.TB, s Store, value []byte, from, to int, ttl time.Duration) {
	tb.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fillSessions(tb, s, value, i, i+1, ttl)
			}
		}()
	}
	for i := from; i < to; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// BenchmarkStorageSweep times the sweep of expired sessions on the file
// system, per expired session (its record and its index entry), with
// 1,000 and with 20,000 live sessions around them: the sweep reads the
// expiry buckets' names and the ended buckets, never the live sessions,
// so the two should cost the same.
//
//	go test -run '^$' -bench StorageSweep -benchtime 2000x ./store/
func BenchmarkStorageSweep(b *testing.B) {
	value := make([]byte, sessionRecord)
	for _, n := range []int{1_000, 20_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			s, err := newStorageStore(&certmagic.FileStorage{Path: b.TempDir()}, randomKey(b), nil)
			if err != nil {
				b.Fatal(err)
			}
			clk := testclock.New(clockStart)
			s.now = clk.Now
			fillStorage(b, s, value, 0, n, 12*time.Hour)
			from := int(fresh.Add(int64(b.N))) - b.N + 1
			fillStorage(b, s, value, from, from+b.N, time.Minute)
			clk.Advance(20 * time.Minute)
			b.ResetTimer()
			stop := reportCPU(b)
			for {
				more, err := s.sweepRun(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if !more {
					break
				}
			}
			stop()
			b.StopTimer()
			if onDisk(s, scaleKey("session", from)) {
				b.Fatal("an expired session is still on disk after the sweep")
			}
		})
	}
}

// A sweep handles at most perRun entries, oldest bucket first, and says
// it left some; the next run, at once, takes up where it stopped, and
// only the run that finishes marks the scope swept.
func TestStorageSweepIsBoundedPerRun(t *testing.T) {
	s, rec, clk := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	s.perRun = 5
	var older, newer []string
	for i := range 8 {
		older = append(older, key(fmt.Sprint("old", i)))
		put(t, s, older[i], time.Minute)
	}
	clk.Advance(bucketWidth)
	for i := range 4 {
		newer = append(newer, key(fmt.Sprint("new", i)))
		put(t, s, newer[i], time.Minute)
	}
	put(t, s, key("live"), 24*time.Hour)
	clk.Advance(time.Hour)
	left := func() (n int) {
		for _, k := range append(older, newer...) {
			if onDisk(s, k) {
				n++
			}
		}
		return n
	}
	for run, want := range []struct {
		left int
		more bool
	}{{7, true}, {2, true}, {0, false}} {
		rec.reset()
		more, err := s.sweepRun(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, loads := rec.calls()
		var records int
		for _, l := range loads {
			if strings.Contains(l, "/r/") {
				records++
			}
		}
		if more != want.more || left() != want.left || records > s.perRun {
			t.Fatalf("run %d: more %v, %d expired records left, %d loaded; want %v, %d, at most %d", run+1, more, left(), records, want.more, want.left, s.perRun)
		}
		if run == 0 {
			// The oldest bucket goes first.
			for _, k := range newer {
				if !onDisk(s, k) {
					t.Fatalf("%s of the later bucket swept before the earlier bucket was done", k)
				}
			}
		}
	}
	if !onDisk(s, key("live")) {
		t.Fatal("the live record was swept")
	}
	if buckets, err := s.st.List(ctx, s.indexDir(), false); err != nil || len(buckets) != 1 {
		t.Fatalf("buckets %v (%v), want the live record's only", buckets, err)
	}
	// Finished, the scope is marked: a run right after does nothing.
	rec.reset()
	if more, err := s.sweepRun(ctx); more || err != nil {
		t.Fatal(more, err)
	}
	if lists, _ := rec.calls(); len(lists) != 0 {
		t.Fatalf("a run right after a finished one listed %v", lists)
	}
}

// A sweeper that left entries comes back after sweepAgain, not after its
// interval; after a run that finished, or failed, it waits the interval.
func TestStorageSweeperComesBackForTheRest(t *testing.T) {
	s, _, _ := newTestStorageStore(t, &certmagic.FileStorage{Path: t.TempDir()}, randomKey(t))
	for _, tc := range []struct {
		more bool
		err  error
		want time.Duration
	}{
		{true, nil, sweepAgain},
		{false, nil, sweepInterval},
		{true, errors.New("storage down"), sweepInterval},
	} {
		if got := s.nextSweep(tc.more, tc.err); got != tc.want {
			t.Errorf("after a run with more %v, error %v: next in %s, want %s", tc.more, tc.err, got, tc.want)
		}
	}
}

// BenchmarkStorageAtScale times the storage store's calls on the file
// system with 1,000 and with 50,000 sessions stored: reading a session
// picked at random (a logged-in request), a login's writes (a new
// session's record and index entry, each a synced file), and what a
// revocation does to one session (read its user's index, delete its
// record, its last use and its index entry). Compare each 50000 line with
// its 1000 line: the ratio is the cost of scale. Filling 50,000 sessions
// takes a minute or more: two synced files each.
//
//	go test -run '^$' -bench StorageAtScale -benchtime 5000x ./store/
func BenchmarkStorageAtScale(b *testing.B) {
	value := make([]byte, sessionRecord)
	for _, n := range []int{1_000, 50_000} {
		s, err := newStorageStore(&certmagic.FileStorage{Path: b.TempDir()}, randomKey(b), nil)
		if err != nil {
			b.Fatal(err)
		}
		fillStorage(b, s, value, 0, n, 12*time.Hour)
		b.Run("read/"+strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := s.Get(ctx, scaleKey("session", rng.IntN(n))); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("login/"+strconv.Itoa(n), func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				i := int(fresh.Add(1))
				fillSessions(b, s, value, i, i+1, time.Hour)
			}
		})
		b.Run("revoke/"+strconv.Itoa(n), func(b *testing.B) {
			// b.N sessions made for the purpose, among the n, each ended
			// as a revocation ends it.
			from := int(fresh.Add(int64(b.N))) - b.N + 1
			fillStorage(b, s, value, from, from+b.N, 12*time.Hour)
			b.ResetTimer()
			defer reportCPU(b)()
			for i := from; i < from+b.N; i++ {
				k, set := scaleKey("session", i), scaleKey("user", i)
				if m, err := s.Members(ctx, set); err != nil || len(m) != 1 {
					b.Fatal(m, err)
				}
				for _, del := range []string{k, "seen-" + k} {
					if err := s.Delete(ctx, del); err != nil {
						b.Fatal(err)
					}
				}
				if err := s.RemoveMember(ctx, set, k); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Close()
	}
}

// BenchmarkFileReadControl is the file system's own share of pair 7's
// storage userinfo row, with no store code: plain files of a session
// record's size, 1,000 in one folder and 300,000 in another (as the
// storage store keeps records, one folder of files named by key), read
// whole at random with os.ReadFile. The two folders take turns in slices
// of 2,000 reads, the first swapped every turn, and it reports the
// median CPU per read of each and of the ratio of each turn. Compare the
// ratio with the row's: what the two share is the kernel's (the dentries,
// inodes and pages of 300,000 files do not stay in the CPU's caches, those
// of 1,000 do).
//
//	go test -run '^$' -bench FileReadControl -benchtime 1x ./store/
func BenchmarkFileReadControl(b *testing.B) {
	sizes := []int{1_000, 300_000}
	value := make([]byte, sessionRecord)
	dirs := make([]string, len(sizes))
	for j, n := range sizes {
		dirs[j] = b.TempDir()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					if err := os.WriteFile(filepath.Join(dirs[j], scaleKey("session", i)), value, 0o600); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	slice := func(j int) float64 {
		const reads = 2_000
		c0 := cpuTime(b)
		for range reads {
			if _, err := os.ReadFile(filepath.Join(dirs[j], scaleKey("session", rng.IntN(sizes[j])))); err != nil {
				b.Fatal(err)
			}
		}
		return float64(cpuTime(b)-c0) / reads
	}
	for b.Loop() {
		alternate(b, 41, sizes, "cpu-ns/read-at-", slice)
	}
}
