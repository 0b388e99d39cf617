package store_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// benchStores opens each backend, and the cache in front of Redis, for the
// benchmarks. The memory store is the baseline the others compare to.
func benchStores(b *testing.B) []struct {
	name string
	s    store.Store
} {
	b.Helper()
	scope := storetest.RandomKey(b)
	open := func(be store.Backend) store.Store {
		s, err := be.Open(scope)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		return s
	}
	srv := testredis.Start(b, testredis.Options{})
	r := redisBackend(b, &store.Redis{Addresses: []string{srv.Addr}})
	return []struct {
		name string
		s    store.Store
	}{
		{"memory", open(provisioned(b, &store.Memory{}))},
		{"storage", open(loadBackend(b, b.TempDir(), `{"module":"storage"}`))},
		{"redis", open(r)},
		{"cached-redis", store.Cached(open(r), 10*time.Second, 0)},
	}
}

// sessionValue is about the size of a sealed session record.
func sessionValue(b *testing.B) []byte {
	v := make([]byte, 600)
	if _, err := rand.Read(v); err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkGet(b *testing.B) {
	v := sessionValue(b)
	for _, bs := range benchStores(b) {
		b.Run(bs.name, func(b *testing.B) {
			k := storetest.RandomKey(b)
			if err := bs.s.Put(b.Context(), k, v, time.Hour); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := bs.s.Get(b.Context(), k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPut(b *testing.B) {
	v := sessionValue(b)
	for _, bs := range benchStores(b) {
		b.Run(bs.name, func(b *testing.B) {
			k := storetest.RandomKey(b)
			for b.Loop() {
				if err := bs.s.Put(b.Context(), k, v, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
