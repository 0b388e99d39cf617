package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

var ctx = context.Background()

func openMemory(t testing.TB, m *Memory, scope string) Store {
	t.Helper()
	s, err := m.Open(scope)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// memTableOf returns the table behind a memory store, with a fake clock.
func memTableOf(t testing.TB, s Store) (*memTable, *testclock.Clock) {
	t.Helper()
	tbl := s.(*memoryStore).table
	clk := testclock.New(clockStart)
	tbl.mu.Lock()
	tbl.now = clk.Now
	tbl.mu.Unlock()
	return tbl, clk
}

// boundedMemory opens a fresh scope of a memory store bounded to max,
// with a fake clock, closed when the test ends.
func boundedMemory(t *testing.T, max int) (Store, *memTable, *testclock.Clock) {
	t.Helper()
	s := openMemory(t, &Memory{MaxEntries: max}, randomKey(t))
	t.Cleanup(func() { _ = s.Close() })
	tbl, clk := memTableOf(t, s)
	return s, tbl, clk
}

func TestMemoryEvictsSoonestExpiringFirst(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 3)
	for _, k := range []string{"a", "b", "c"} {
		putValue(t, s, key(k), k, time.Hour)
		clk.Advance(time.Second)
	}
	// Renewing a moves it behind c, so b is now the oldest.
	putValue(t, s, key("a"), "a2", time.Hour)
	putValue(t, s, key("d"), "d", time.Hour)
	if _, err := s.Get(ctx, key("b")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b: %v, want evicted", err)
	}
	for k, want := range map[string]string{"a": "a2", "c": "c", "d": "d"} {
		if got := mustGet(t, s, key(k)); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if n := tbl.len(); n != 3 {
		t.Fatalf("table holds %d records, want the bound 3", n)
	}
}

// TestMemoryKeepsKeyMaterial checks that a flood of ordinary records does
// not evict a record made by PutIfAbsent (shared key material).
func TestMemoryKeepsKeyMaterial(t *testing.T) {
	s, _, _ := boundedMemory(t, 3)
	if _, err := s.PutIfAbsent(ctx, key("sealing"), []byte("K"), time.Minute); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		putValue(t, s, randomKey(t), "x", time.Hour)
	}
	if got := mustGet(t, s, key("sealing")); got != "K" {
		t.Fatalf("key material = %q", got)
	}
}

func TestMemorySweepsExpired(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 10)
	for _, k := range []string{"a", "b", "c"} {
		putValue(t, s, key(k), k, time.Minute)
	}
	putValue(t, s, key("long"), "l", time.Hour)
	clk.Advance(2 * time.Minute)
	// A write sweeps the expired records without anyone reading them.
	putValue(t, s, key("new"), "n", time.Hour)
	if n := tbl.len(); n != 2 {
		t.Fatalf("table holds %d records after the sweep, want 2 (long, new)", n)
	}
}

// TestMemoryReloadKeepsRecords opens a scope as a reloaded config would:
// the new config opens it (with another bound) before the old one is
// cleaned up. Raising the bound keeps everything; lowering it keeps the
// latest records up to the new bound.
func TestMemoryReloadKeepsRecords(t *testing.T) {
	scope := randomKey(t)
	old := &Memory{MaxEntries: 5}
	s1 := openMemory(t, old, scope)
	_, clk := memTableOf(t, s1)
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		putValue(t, s1, key(k), k, time.Hour)
		clk.Advance(time.Second)
	}

	bigger := &Memory{MaxEntries: 50}
	s2 := openMemory(t, bigger, scope)
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if got := mustGet(t, s2, key(k)); got != k {
			t.Fatalf("after reload %s = %q", k, got)
		}
	}
	// The new bound holds: more than the old 5 fit now.
	for _, k := range []string{"f", "g"} {
		putValue(t, s2, key(k), k, time.Hour)
		clk.Advance(time.Second)
	}
	if got := mustGet(t, s2, key("a")); got != "a" {
		t.Fatalf("a evicted under the raised bound")
	}

	smaller := &Memory{MaxEntries: 2}
	s3 := openMemory(t, smaller, scope)
	if err := bigger.Cleanup(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if _, err := s3.Get(ctx, key(k)); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s kept under the lowered bound 2: %v", k, err)
		}
	}
	for _, k := range []string{"f", "g"} {
		if got := mustGet(t, s3, key(k)); got != k {
			t.Errorf("%s = %q after lowering the bound, want kept", k, got)
		}
	}
	if err := smaller.Cleanup(); err != nil {
		t.Fatal(err)
	}
	// The last reference is gone: the pool dropped the table, so a new
	// config starts empty rather than seeing stale records.
	fresh := &Memory{}
	s4 := openMemory(t, fresh, scope)
	defer fresh.Cleanup()
	if _, err := s4.Get(ctx, key("f")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("table outlived its last reference: %v", err)
	}
}

func TestMemoryOpenRefusesBadScope(t *testing.T) {
	for _, scope := range []string{"", "a/b", "..", "a:b"} {
		if _, err := (&Memory{}).Open(scope); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", scope, err)
		}
	}
}

func TestMemoryValidate(t *testing.T) {
	if err := (&Memory{MaxEntries: -1}).Validate(); err == nil {
		t.Fatal("negative max_entries accepted")
	}
	m := &Memory{}
	if err := m.Provision(caddyCtx(t)); err != nil || m.MaxEntries != DefaultMaxEntries {
		t.Fatalf("Provision: %v, MaxEntries %d, want %d", err, m.MaxEntries, DefaultMaxEntries)
	}
}

// TestMemoryCountsAndReportsEvictions: MemberCount is the number of set
// members, which leave with their records; the eviction hook hears of each
// evicted record that is a set member (not of other records), once, from
// the latest handle only.
func TestMemoryCountsAndReportsEvictions(t *testing.T) {
	scope := randomKey(t)
	m := &Memory{MaxEntries: 3}
	old := openMemory(t, m, scope)
	s := openMemory(t, m, scope)
	t.Cleanup(func() { _ = s.Close() })
	_, clk := memTableOf(t, s)
	counter := s.(interface{ MemberCount() int })
	var oldHeard, heard int
	old.(*memoryStore).OnEvict(func() { oldHeard++ })
	s.(*memoryStore).OnEvict(func() { heard++ })
	session := func(k string, ttl time.Duration) {
		t.Helper()
		putValue(t, s, key(k), k, ttl)
		if err := s.AddMember(ctx, key("user"), key(k), ttl); err != nil {
			t.Fatal(err)
		}
	}
	session("a", time.Minute)
	putValue(t, s, key("plain"), "not a member", 2*time.Minute)
	session("b", time.Hour)
	if n := counter.MemberCount(); n != 2 {
		t.Fatalf("MemberCount = %d, want 2", n)
	}
	session("c", time.Hour) // evicts plain, not a member, before any session
	session("d", time.Hour) // evicts a, the soonest-expiring session
	if heard != 1 || oldHeard != 0 {
		t.Fatalf("eviction hook heard %d (old handle %d), want 1 (0)", heard, oldHeard)
	}
	if n := counter.MemberCount(); n != 3 {
		t.Fatalf("MemberCount at the bound = %d, want 3", n)
	}
	clk.Advance(2 * time.Hour)
	if n := counter.MemberCount(); n != 0 {
		t.Fatalf("MemberCount after every record expired = %d, want 0", n)
	}
	// Closing the old handle leaves the latest handle's hook in place.
	_ = old.Close()
	for _, k := range []string{"e", "f", "g", "h"} {
		session(k, time.Hour)
	}
	if heard != 2 {
		t.Fatalf("after the old handle closed the hook heard %d, want 2", heard)
	}
}

// TestMemoryMemberLeavesWithItsRecord: a member naming a record of the
// scope leaves its sets when the record is deleted, expires or is evicted,
// so the sets stay within the records' bound.
func TestMemoryMemberLeavesWithItsRecord(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 2)
	set := key("user")
	for _, k := range []string{"deleted", "expired", "evicted", "kept"} {
		if err := s.AddMember(ctx, set, key(k), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	putValue(t, s, key("deleted"), "v", time.Hour)
	if err := s.Delete(ctx, key("deleted")); err != nil {
		t.Fatal(err)
	}
	putValue(t, s, key("expired"), "v", time.Minute)
	putValue(t, s, key("evicted"), "v", 30*time.Minute)
	clk.Advance(2 * time.Minute)
	putValue(t, s, key("kept"), "v", time.Hour) // sweeps "expired"
	putValue(t, s, key("other"), "v", time.Hour)
	got, err := s.Members(ctx, set)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != key("kept") {
		t.Fatalf("members = %q, want only %q", got, key("kept"))
	}
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	// A member's first set is in its record's entry, or in memberOf when
	// it names no record.
	members := len(tbl.memberOf)
	for _, e := range tbl.items {
		if e.set != "" {
			members++
		}
	}
	if members != 1 || tbl.items[key("kept")].set != set {
		t.Errorf("the table keeps %d members (memberOf %v), want 1, kept's, in its record", members, tbl.memberOf)
	}
}
