package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The memory store at scale: what a session costs it in heap, and whether
// its calls cost more with a million sessions than with a thousand. The
// sessions are stored as the handler stores them (see fillSessions).
//
//	go test -run '^$' -bench 'MemoryBytesPerSession|MemoryAtScale' -benchtime 1x ./store/   # bytes
//	go test -run '^$' -bench MemoryAtScale -benchtime 200000x ./store/                      # calls

// sessionRecord is the size of a sealed session record with the mock
// persona's data (sub, myinfo.name, expiry and login time, nonce and tag).
const sessionRecord = 200

// scaleKey is the i-th key of a kind, a store key's size and form (43
// characters of base64url, a hash).
func scaleKey(kind string, i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	sum := sha256.Sum256(append([]byte(kind), b[:]...))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// fillSessions stores sessions from to to in s as the handler's Create
// does: the record created under its key, then the key filed in its
// user's set, one user per session. The keys are made here, as each
// login makes its own.
func fillSessions(tb testing.TB, s Store, value []byte, from, to int, ttl time.Duration) {
	tb.Helper()
	for i := from; i < to; i++ {
		k := scaleKey("session", i)
		if ok, err := s.Create(ctx, k, value, ttl); err != nil || !ok {
			tb.Fatalf("create %d: %v %v", i, ok, err)
		}
		if err := s.AddMember(ctx, scaleKey("user", i), k, ttl); err != nil {
			tb.Fatal(err)
		}
	}
}

// fresh numbers the sessions the benchmarks add, above every fill's.
var fresh atomic.Int64

func init() { fresh.Store(1 << 40) }

// reportCPU starts counting the process's CPU time, and the function it
// returns reports it per operation: on a shared machine, wall time also
// counts the waits for a core.
func reportCPU(b *testing.B) func() {
	c0 := cpuTime(b)
	return func() {
		b.ReportMetric(float64(cpuTime(b)-c0)/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// liveHeap is the live heap after two collections.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryBytesPerSession reports the heap a memory store holds per
// session, at 100,000 and at 1,000,000 sessions of distinct users.
func BenchmarkMemoryBytesPerSession(b *testing.B) {
	value := make([]byte, sessionRecord)
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				before := liveHeap()
				s := openMemory(b, &Memory{MaxEntries: 2 * n}, randomKey(b))
				fillSessions(b, s, value, 0, n, time.Hour)
				after := liveHeap()
				b.ReportMetric(float64(after-before)/float64(n), "B/session")
				runtime.KeepAlive(s)
				s.Close()
			}
		})
	}
}

// BenchmarkMemoryAtScale times, with 1,000 and with 1,000,000 sessions
// stored: reading a session picked at random (a logged-in request), a
// login's writes (a new session's record and index entry), and the
// removal of an expired session. Compare each 1000000 line with its 1000
// line: the ratio is the cost of scale.
func BenchmarkMemoryAtScale(b *testing.B) {
	value := make([]byte, sessionRecord)
	for _, n := range []int{1_000, 1_000_000} {
		s := openMemory(b, &Memory{MaxEntries: 2*n + 1_000_000}, randomKey(b))
		tbl, clk := memTableOf(b, s)
		fillSessions(b, s, value, 0, n, time.Hour)
		keys := make([]string, n)
		for i := range keys {
			keys[i] = scaleKey("session", i)
		}
		b.Run("read/"+strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			runtime.GC()
			defer reportCPU(b)()
			for b.Loop() {
				if ok, err := s.(Comparer).Same(ctx, keys[rng.IntN(n)], value); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
		b.Run("login/"+strconv.Itoa(n), func(b *testing.B) {
			runtime.GC()
			defer reportCPU(b)()
			for b.Loop() {
				i := int(fresh.Add(1))
				fillSessions(b, s, value, i, i+1, time.Hour)
			}
		})
		b.Run("expire/"+strconv.Itoa(n), func(b *testing.B) {
			// b.N sessions expire among the n; the clock passes their
			// expiry and a count sweeps them.
			from := int(fresh.Add(int64(b.N))) - b.N + 1
			fillSessions(b, s, value, from, from+b.N, time.Minute)
			clk.Advance(2 * time.Minute)
			runtime.GC()
			b.ResetTimer()
			stop := reportCPU(b)
			if got := s.(*memoryStore).MemberCount(); got < n {
				b.Fatalf("%d sessions left of %d", got, n)
			}
			stop()
			b.StopTimer()
			clk.Advance(-2 * time.Minute)
		})
		runtime.KeepAlive(tbl)
		s.Close()
	}
}
