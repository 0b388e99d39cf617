package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"runtime"
	"slices"
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

// fillSpread is fillSessions with the sessions' expiries spread over
// lifetime - spread to lifetime, as logins through a day leave them,
// rather than all at one instant, which would flatten the expiry heaps.
func fillSpread(tb testing.TB, s Store, value []byte, from, to int, lifetime, spread time.Duration) {
	tb.Helper()
	for i := from; i < to; i++ {
		k := scaleKey("session", i)
		// The golden ratio's fractional part spreads consecutive i.
		ttl := lifetime - time.Duration(float64(uint64(i)*0x9E3779B97F4A7C15>>11)/(1<<53)*float64(spread))
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
		fillSpread(b, s, value, 0, n, 12*time.Hour, 11*time.Hour)
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
		b.Run("revoke/"+strconv.Itoa(n), func(b *testing.B) {
			// Users of three sessions each, made for the purpose among
			// the n, a batch at a time so that the table stays near n,
			// each revoked as the session manager revokes: its set read,
			// then per session the ended mark written over the record,
			// its last use deleted and its index entry removed. The
			// ended marks are deleted after each batch, untimed.
			const batch = 100
			runtime.GC()
			b.ResetTimer()
			stop := reportCPU(b)
			for done := 0; done < b.N; done += batch {
				b.StopTimer()
				users := min(batch, b.N-done)
				from := int(fresh.Add(int64(3*users))) - 3*users + 1
				var sets []string
				for u := range users {
					set := scaleKey("revoked", from+u)
					sets = append(sets, set)
					for j := range 3 {
						i := from + 3*u + j
						k := scaleKey("session", i)
						ttl := 12*time.Hour - time.Duration(uint64(i)*0x9E3779B97F4A7C15>>40)%(11*time.Hour)
						if ok, err := s.Create(ctx, k, value, ttl); err != nil || !ok {
							b.Fatal(ok, err)
						}
						if err := s.AddMember(ctx, set, k, ttl); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StartTimer()
				var ended []string
				for _, set := range sets {
					ended = append(ended, revokeUser(b, s, set)...)
				}
				b.StopTimer()
				for _, k := range ended {
					if err := s.Delete(ctx, k); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
			}
			stop()
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

// BenchmarkMemoryRevokeCold times the revocation of a user of three
// sessions as the admin API meets it, with caches cold: the calls come
// after unrelated work, so that whatever they touch in a table of a
// million sessions costs a miss to memory. Two tables, of 1,000 and of
// 1,000,000 sessions, take turns, user by user, the first swapped every
// time, as pair 7's sites do; it reports the medians of the calls' time
// (Members, then per session the ended mark, the last use's Delete and
// RemoveMember) on each and of the ratio of each turn.
//
//	go test -run '^$' -bench MemoryRevokeCold -benchtime 1x ./store/
func BenchmarkMemoryRevokeCold(b *testing.B) {
	value := make([]byte, sessionRecord)
	flush := make([]byte, 256<<20)
	sizes := []int{1_000, 1_000_000}
	var tables []Store
	for _, n := range sizes {
		s := openMemory(b, &Memory{MaxEntries: 2 * n}, randomKey(b))
		defer s.Close()
		fillSpread(b, s, value, 0, n, 12*time.Hour, 11*time.Hour)
		tables = append(tables, s)
	}
	runtime.GC()
	revoke := func(s Store) float64 {
		i := int(fresh.Add(3)) - 2
		set := scaleKey("revoked", i)
		for j := range 3 {
			k := scaleKey("session", i+j)
			ttl := 12*time.Hour - time.Duration(uint64(i+j)*0x9E3779B97F4A7C15>>40)%(11*time.Hour)
			if ok, err := CreateInSet(ctx, s, k, value, ttl, set); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		for p := 0; p < len(flush); p += 64 {
			flush[p]++
		}
		t0 := time.Now()
		ms := revokeUser(b, s, set)
		took := float64(time.Since(t0))
		for _, k := range ms {
			if err := s.Delete(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
		return took
	}
	for b.Loop() {
		alternate(b, 301, sizes, "ns/revoke-at-", func(j int) float64 { return revoke(tables[j]) })
	}
}

// alternate measures the two sides of a scale benchmark (sizes[0] and
// sizes[1]) in turns, the first swapped every turn, and reports the median
// of each side's measures, as unit followed by its size, and the median
// of the turns' ratios of the second to the first.
func alternate(b *testing.B, turns int, sizes []int, unit string, measure func(side int) float64) {
	var per [2][]float64
	var ratios []float64
	for turn := range turns {
		var t [2]float64
		for _, j := range []int{turn % 2, 1 - turn%2} {
			t[j] = measure(j)
			per[j] = append(per[j], t[j])
		}
		ratios = append(ratios, t[1]/t[0])
	}
	for j, n := range sizes {
		slices.Sort(per[j])
		b.ReportMetric(per[j][len(per[j])/2], unit+strconv.Itoa(n))
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
}

// revokeUser makes the store calls the session manager makes to revoke the
// user of set, who has three sessions: the set read, then per session the
// ended mark written over the record, its last use deleted and its index
// entry removed. It returns the sessions' keys.
func revokeUser(b *testing.B, s Store, set string) []string {
	ms, err := s.Members(ctx, set)
	if err != nil || len(ms) != 3 {
		b.Fatal(ms, err)
	}
	for _, k := range ms {
		if err := s.Put(ctx, k, []byte{0}, 10*time.Minute); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, "seen-"+k); err != nil {
			b.Fatal(err)
		}
		if err := s.RemoveMember(ctx, set, k); err != nil {
			b.Fatal(err)
		}
	}
	return ms
}
