package store

import (
	"errors"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// session stores a record under k and files it in a set, as the handler
// stores a session: a record whose key is a set member.
func session(t *testing.T, s Store, k string, ttl time.Duration) {
	t.Helper()
	if created, err := s.Create(ctx, key(k), []byte(k), ttl); !created || err != nil {
		t.Fatalf("Create(%s) = %v, %v; want true", k, created, err)
	}
	if err := s.AddMember(ctx, key("user"), key(k), ttl); err != nil {
		t.Fatal(err)
	}
}

func wantPresent(t *testing.T, s Store, names ...string) {
	t.Helper()
	for _, k := range names {
		if got := mustGet(t, s, key(k)); got != k {
			t.Errorf("%s = %q, want %q", k, got, k)
		}
	}
}

func wantEvicted(t *testing.T, s Store, names ...string) {
	t.Helper()
	for _, k := range names {
		if _, err := s.Get(ctx, key(k)); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want evicted", k, err)
		}
	}
}

// TestMemoryEvictionOrder checks who makes room when the bound is reached:
// a record that is not a session goes before any session, even one that
// expires sooner; sessions go soonest-expiring first; key material last.
func TestMemoryEvictionOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     int
		fill    func(t *testing.T, s Store, clk *testclock.Clock)
		kept    []string
		evicted []string
	}{{
		name: "a plain record goes before a session that expires sooner",
		max:  3,
		fill: func(t *testing.T, s Store, _ *testclock.Clock) {
			session(t, s, "soon", time.Minute)
			putValue(t, s, key("plain"), "plain", time.Hour)
			session(t, s, "late", time.Hour)
			session(t, s, "new", time.Hour)
		},
		kept:    []string{"soon", "late", "new"},
		evicted: []string{"plain"},
	}, {
		name: "a created record that joins no set is a plain record",
		max:  2,
		fill: func(t *testing.T, s Store, _ *testclock.Clock) {
			session(t, s, "soon", time.Minute)
			if created, err := s.Create(ctx, key("plain"), []byte("plain"), time.Hour); !created || err != nil {
				t.Fatalf("Create = %v, %v", created, err)
			}
			session(t, s, "new", time.Hour)
		},
		kept:    []string{"soon", "new"},
		evicted: []string{"plain"},
	}, {
		name: "sessions alone go soonest-expiring first",
		max:  2,
		fill: func(t *testing.T, s Store, _ *testclock.Clock) {
			session(t, s, "late", time.Hour)
			session(t, s, "soon", time.Minute)
			session(t, s, "new", time.Hour)
		},
		kept:    []string{"late", "new"},
		evicted: []string{"soon"},
	}, {
		name: "a record that left its set is plain again",
		max:  2,
		fill: func(t *testing.T, s Store, _ *testclock.Clock) {
			session(t, s, "revoked", time.Hour)
			session(t, s, "soon", time.Minute)
			if err := s.RemoveMember(ctx, key("user"), key("revoked")); err != nil {
				t.Fatal(err)
			}
			session(t, s, "new", time.Hour)
		},
		kept:    []string{"soon", "new"},
		evicted: []string{"revoked"},
	}, {
		name: "an expired session is swept before a live plain record is evicted",
		max:  2,
		fill: func(t *testing.T, s Store, clk *testclock.Clock) {
			session(t, s, "expired", time.Minute)
			putValue(t, s, key("plain"), "plain", time.Hour)
			clk.Advance(2 * time.Minute)
			session(t, s, "new", time.Hour)
		},
		kept:    []string{"plain", "new"},
		evicted: []string{"expired"},
	}, {
		name: "key material outlasts a flood of sessions",
		max:  3,
		fill: func(t *testing.T, s Store, _ *testclock.Clock) {
			if _, err := s.PutIfAbsent(ctx, key("sealing"), []byte("sealing"), time.Minute); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"s1", "s2", "s3", "s4", "s5"} {
				session(t, s, k, time.Hour)
			}
		},
		kept:    []string{"sealing", "s4", "s5"},
		evicted: []string{"s1", "s2", "s3"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s, tbl, clk := boundedMemory(t, tc.max)
			tc.fill(t, s, clk)
			wantPresent(t, s, tc.kept...)
			wantEvicted(t, s, tc.evicted...)
			if n := tbl.len(); n > tc.max {
				t.Errorf("table holds %d records, over the bound %d", n, tc.max)
			}
		})
	}
}

// TestMemoryFloodKeepsSessions fills a table with sessions and key
// material and then writes many records that are not sessions, as a flood
// of requests that store something would: no session and no key material
// is evicted, and the table stays within its bound.
func TestMemoryFloodKeepsSessions(t *testing.T) {
	s, tbl, _ := boundedMemory(t, 8)
	if _, err := s.PutIfAbsent(ctx, key("sealing"), []byte("sealing"), time.Hour); err != nil {
		t.Fatal(err)
	}
	sessions := []string{"a", "b", "c", "d", "e", "f"}
	for _, k := range sessions {
		session(t, s, k, time.Hour)
	}
	// The one free slot is taken by the flood, which then only ever
	// evicts its own records, even those that expire later than every
	// session.
	for i := 0; i < 200; i++ {
		if _, err := s.Create(ctx, randomKey(t), []byte("x"), 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		putValue(t, s, randomKey(t), "x", 3*time.Hour)
	}
	wantPresent(t, s, append(sessions, "sealing")...)
	if n := tbl.len(); n != 8 {
		t.Fatalf("table holds %d records, want the bound 8", n)
	}
}
