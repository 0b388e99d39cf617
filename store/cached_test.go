package store

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// countingStore counts the reads that reach the store behind a cache, and
// can hold a Get until the test releases it.
type countingStore struct {
	Store
	gets    atomic.Int64
	holdGet chan chan struct{} // when set, Get waits on the channel it is sent
}

func (c *countingStore) Get(ctx context.Context, k string) ([]byte, error) {
	c.gets.Add(1)
	v, err := c.Store.Get(ctx, k)
	if c.holdGet != nil {
		release := make(chan struct{})
		c.holdGet <- release
		<-release
	}
	return v, err
}

// newCachedOverMemory returns a cache with a fake clock in front of a
// fresh memory scope, and a second handle on that scope standing for
// another instance.
func newCachedOverMemory(t *testing.T, ttl time.Duration, max int) (*cached, *countingStore, Store, *testclock.Clock) {
	t.Helper()
	m := &Memory{}
	t.Cleanup(func() { _ = m.Cleanup() })
	scope := randomKey(t)
	back := &countingStore{Store: openMemory(t, m, scope)}
	other := openMemory(t, m, scope)
	c := Cached(back, ttl, max).(*cached)
	clk := testclock.New(clockStart)
	c.now = clk.Now
	return c, back, other, clk
}

func TestCachedServesFromMemoryWithinTTL(t *testing.T) {
	c, back, _, clk := newCachedOverMemory(t, 10*time.Second, 10)
	putValue(t, c, key("s"), "v", time.Hour)
	for i := 0; i < 5; i++ {
		if got := mustGet(t, c, key("s")); got != "v" {
			t.Fatalf("Get = %q", got)
		}
		clk.Advance(time.Second)
	}
	if n := back.gets.Load(); n != 0 {
		t.Fatalf("%d reads reached the store within the ttl, want 0", n)
	}
}

// TestCachedLogoutBound deletes a record through another instance's
// handle: the cache serves it for at most ttl, then reports it gone.
func TestCachedLogoutBound(t *testing.T) {
	const ttl = 10 * time.Second
	c, _, other, clk := newCachedOverMemory(t, ttl, 10)
	putValue(t, other, key("s"), "v", time.Hour)
	if got := mustGet(t, c, key("s")); got != "v" {
		t.Fatalf("Get = %q", got)
	}
	if err := other.Delete(ctx, key("s")); err != nil {
		t.Fatal(err)
	}
	clk.Advance(ttl - time.Millisecond)
	if got := mustGet(t, c, key("s")); got != "v" {
		t.Fatalf("within the bound Get = %q, want the cached v", got)
	}
	clk.Advance(time.Millisecond)
	if _, err := c.Get(ctx, key("s")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at the bound Get = %v, want ErrNotFound", err)
	}
}

// TestCachedLocalDeleteIsImmediate: a logout on this instance is seen here
// at once, and a Put here replaces the cached value at once.
func TestCachedLocalWritesAreImmediate(t *testing.T) {
	c, _, _, _ := newCachedOverMemory(t, time.Hour, 10)
	putValue(t, c, key("s"), "v1", time.Hour)
	mustGet(t, c, key("s"))
	putValue(t, c, key("s"), "v2", time.Hour)
	if got := mustGet(t, c, key("s")); got != "v2" {
		t.Fatalf("after Put Get = %q, want v2", got)
	}
	if err := c.Delete(ctx, key("s")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, key("s")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Delete Get = %v, want ErrNotFound", err)
	}
}

// TestCachedDoesNotCacheMisses: a login made on another instance is seen
// here at once, even right after a miss.
func TestCachedDoesNotCacheMisses(t *testing.T) {
	c, _, other, _ := newCachedOverMemory(t, time.Hour, 10)
	if _, err := c.Get(ctx, key("s")); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	putValue(t, other, key("s"), "v", time.Hour)
	if got := mustGet(t, c, key("s")); got != "v" {
		t.Fatalf("Get = %q, want v", got)
	}
}

// TestCachedShortRecordTTL: a value written here is not served past its
// own ttl when that is shorter than the cache's.
func TestCachedShortRecordTTL(t *testing.T) {
	c, back, _, clk := newCachedOverMemory(t, time.Hour, 10)
	putValue(t, c, key("s"), "v", time.Minute)
	clk.Advance(time.Minute)
	mustGet(t, c, key("s")) // the memory store runs on the real clock
	if n := back.gets.Load(); n != 1 {
		t.Fatalf("reads reaching the store = %d, want 1: the cache outlived the record's ttl", n)
	}
}

func TestCachedBound(t *testing.T) {
	c, back, _, _ := newCachedOverMemory(t, time.Hour, 3)
	for _, k := range []string{"a", "b", "c", "d"} {
		putValue(t, c, key(k), k, time.Hour)
	}
	if n := c.len(); n != 3 {
		t.Fatalf("cache holds %d, want the bound 3", n)
	}
	mustGet(t, c, key("a")) // the oldest was dropped: read through
	if n := back.gets.Load(); n != 1 {
		t.Fatalf("reads reaching the store = %d, want 1", n)
	}
	mustGet(t, c, key("d"))
	if n := back.gets.Load(); n != 1 {
		t.Fatalf("the newest entry was not cached")
	}
}

// TestCachedGetRacingDelete: a Get that read the record just before a
// Delete on this instance must not put it back into the cache.
func TestCachedGetRacingDelete(t *testing.T) {
	c, back, _, _ := newCachedOverMemory(t, time.Hour, 10)
	putValue(t, back.Store, key("s"), "v", time.Hour)
	back.holdGet = make(chan chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, key("s"))
		done <- err
	}()
	release := <-back.holdGet // the Get has read v and waits
	back.holdGet = nil
	if err := c.Delete(ctx, key("s")); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the racing Get: %v", err)
	}
	if _, err := c.Get(ctx, key("s")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the logout Get = %v, want ErrNotFound: the racing read was cached", err)
	}
}

func TestCachedZeroTTLIsUncached(t *testing.T) {
	m := &Memory{}
	defer m.Cleanup()
	s := openMemory(t, m, randomKey(t))
	if got := Cached(s, 0, 10); got != s {
		t.Fatalf("Cached with ttl 0 = %T, want the store itself", got)
	}
}
