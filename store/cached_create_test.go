package store

import (
	"testing"
	"time"
)

// TestCachedCreate checks what a Create through the cache leaves cached:
// the value it created, served without a read of the store behind; and,
// when another instance had created the key, no copy at all, so that the
// next Get reads the record that is really there.
func TestCachedCreate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		before    func(t *testing.T, c *cached, other Store, k string)
		created   bool
		want      string
		wantReads int64
	}{{
		name:      "created here",
		before:    func(*testing.T, *cached, Store, string) {},
		created:   true,
		want:      "mine",
		wantReads: 0,
	}, {
		name: "created by another instance after this one cached an older value",
		before: func(t *testing.T, c *cached, other Store, k string) {
			putValue(t, other, k, "old", time.Hour)
			_ = mustGet(t, c, k) // caches "old"
			if err := other.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			if created, err := other.Create(ctx, k, []byte("theirs"), time.Hour); !created || err != nil {
				t.Fatalf("Create on the other instance = %v, %v", created, err)
			}
		},
		created:   false,
		want:      "theirs",
		wantReads: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, back, other, _ := newCachedOverMemory(t, time.Minute, 10)
			k := randomKey(t)
			tc.before(t, c, other, k)
			back.gets.Store(0)
			created, err := c.Create(ctx, k, []byte("mine"), time.Hour)
			if err != nil || created != tc.created {
				t.Fatalf("Create = %v, %v; want %v", created, err, tc.created)
			}
			if got := mustGet(t, c, k); got != tc.want {
				t.Fatalf("Get after Create = %q, want %q", got, tc.want)
			}
			if n := back.gets.Load(); n != tc.wantReads {
				t.Fatalf("%d reads reached the store behind, want %d", n, tc.wantReads)
			}
		})
	}
}
