package session

import (
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
)

// BenchmarkLookupHit is a logged-in request's Lookup of a session the memo
// holds, on the memory store: the store is still asked whether the record
// is the one opened, but the id is neither hashed nor its record opened.
//
//	go test -run '^$' -bench LookupHit -benchmem ./internal/session/
func BenchmarkLookupHit(b *testing.B) {
	for _, tc := range []struct {
		name string
		memo time.Duration
	}{
		{"memo_on", time.Minute},
		{"memo_off", 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := New(Options{Store: memoryScope(b, 100), LoginTimeout: testLoginTimeout, KeyRotation: testRotation, MemoTTL: tc.memo})
			id := NewID()
			if created, err := m.create(b.Context(), id, Session{Sub: "u", Expires: time.Now().Add(time.Hour)}, ""); err != nil || !created {
				b.Fatalf("create: %v, %v", created, err)
			}
			b.ReportAllocs()
			// CPU time as well as wall time: on a shared machine it counts
			// this work and not the waits for a core.
			cpu := loginbench.CPUTime(b)
			for b.Loop() {
				o, err := m.lookup(b.Context(), id, Used)
				if err != nil || o == nil {
					b.Fatalf("lookup: %v, %v", o, err)
				}
			}
			b.ReportMetric(float64((loginbench.CPUTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkList is a user's list of their three sessions on the memory
// store: the index set, then each record read and its info opened.
//
//	go test -run '^$' -bench List -benchmem ./internal/session/
func BenchmarkList(b *testing.B) {
	m := New(Options{Store: memoryScope(b, 100), LoginTimeout: testLoginTimeout, KeyRotation: testRotation, MemoTTL: time.Minute})
	var id string
	for range 3 {
		id = NewID()
		if created, err := m.create(b.Context(), id, Session{Sub: "u", Expires: time.Now().Add(time.Hour)}, "Chrome on macOS"); err != nil || !created {
			b.Fatalf("create: %v, %v", created, err)
		}
	}
	o, err := m.lookup(b.Context(), id, Used)
	if err != nil || o == nil {
		b.Fatalf("lookup: %v, %v", o, err)
	}
	b.ReportAllocs()
	cpu := loginbench.CPUTime(b)
	for b.Loop() {
		if entries, _, err := m.List(b.Context(), o); err != nil || len(entries) != 3 {
			b.Fatalf("List: %d, %v", len(entries), err)
		}
	}
	b.ReportMetric(float64((loginbench.CPUTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
