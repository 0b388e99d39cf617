package store_test

import (
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// loginKeys hands out distinct keys cheaply, so that making them weighs
// the same on every backend.
type loginKeys struct {
	prefix string
	n      atomic.Uint64
}

func (k *loginKeys) next() string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], k.n.Add(1))
	return k.prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLogin runs login, one login's writes, from parallel goroutines on
// each backend, and reports the process's CPU time per login (cpu-ns/op)
// next to the wall time: on a loaded machine the CPU cost is the figure
// that compares backends. Redis's own CPU, in its server process, is not
// counted.
func benchLogin(b *testing.B, login func(b *testing.B, s store.Store, keys *loginKeys, value []byte)) {
	v := sessionValue(b)
	for _, bs := range benchStores(b) {
		if bs.name == "cached-redis" {
			continue
		}
		b.Run(bs.name, func(b *testing.B) {
			keys := &loginKeys{prefix: storetest.RandomKey(b)[:20]}
			b.ReportAllocs()
			start := cpuTime(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					login(b, bs.s, keys, v)
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkLoginWrites is what a login writes: its session record, whose
// creation is also the login's single-use claim, and one entry in its
// user's index, in one call (store.CreateInSet, as the session manager
// makes it).
func BenchmarkLoginWrites(b *testing.B) {
	benchLogin(b, func(b *testing.B, s store.Store, keys *loginKeys, v []byte) {
		created, err := store.CreateInSet(b.Context(), s, keys.next(), v, time.Hour, keys.next())
		if err != nil || !created {
			b.Fatalf("CreateInSet = %v, %v", created, err)
		}
	})
}

// BenchmarkLoginWritesApart is the same writes as two calls, Create and
// AddMember, as a login made them before CreateInSet.
func BenchmarkLoginWritesApart(b *testing.B) {
	benchLogin(b, func(b *testing.B, s store.Store, keys *loginKeys, v []byte) {
		ctx := b.Context()
		session := keys.next()
		created, err := s.Create(ctx, session, v, time.Hour)
		if err != nil || !created {
			b.Fatalf("Create = %v, %v", created, err)
		}
		if err := s.AddMember(ctx, keys.next(), session, time.Hour); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkLoginWritesOld is what a login wrote before Create: a separate
// claim record made by PutIfAbsent, then the session record and its index
// entry.
func BenchmarkLoginWritesOld(b *testing.B) {
	claim := make([]byte, 16)
	benchLogin(b, func(b *testing.B, s store.Store, keys *loginKeys, v []byte) {
		ctx := b.Context()
		if _, err := s.PutIfAbsent(ctx, keys.next(), claim, 11*time.Minute); err != nil {
			b.Fatal(err)
		}
		session := keys.next()
		if err := s.Put(ctx, session, v, time.Hour); err != nil {
			b.Fatal(err)
		}
		if err := s.AddMember(ctx, keys.next(), session, time.Hour); err != nil {
			b.Fatal(err)
		}
	})
}
