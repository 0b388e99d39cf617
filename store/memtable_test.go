package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// A write removes at most sweepPerWrite expired records, however many
// expired at once, so that no request pays for a burst of expiries; a
// count removes the rest.
func TestMemoryWriteSweepIsBounded(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 10_000)
	const expiring = 5 * sweepPerWrite
	for i := range expiring {
		session(t, s, fmt.Sprint("s", i), time.Minute)
	}
	session(t, s, "live", time.Hour)
	clk.Advance(2 * time.Minute)
	putValue(t, s, key("write"), "w", time.Hour)
	// The write removed sweepPerWrite and added itself.
	if n, want := tbl.len(), expiring+1-sweepPerWrite+1; n != want {
		t.Fatalf("after one write the table holds %d records, want %d", n, want)
	}
	// Expired records left behind are never served.
	for i := range expiring {
		if _, err := s.Get(ctx, key(fmt.Sprint("s", i))); err == nil {
			t.Fatalf("expired record s%d served", i)
		}
	}
	// The count sweeps the rest, in steps.
	session(t, s, "later", time.Minute)
	clk.Advance(2 * time.Minute)
	for i := range 3 * sweepPerCount {
		putValue(t, s, key(fmt.Sprint("plain", i)), "p", time.Hour)
	}
	for i := range 2*sweepPerCount + 7 {
		session(t, s, fmt.Sprint("burst", i), time.Minute)
	}
	clk.Advance(2 * time.Minute)
	if got := s.(*memoryStore).MemberCount(); got != 1 {
		t.Fatalf("count %d after the burst expired, want 1 (live)", got)
	}
	if n, want := tbl.len(), 2+3*sweepPerCount; n != want {
		t.Fatalf("after the count the table holds %d records, want %d (live, write, the plain ones)", n, want)
	}
}

// Lowering the bound drops expired records before live ones, whatever
// their class.
func TestMemoryLowerBoundDropsExpiredFirst(t *testing.T) {
	scope := randomKey(t)
	m := &Memory{MaxEntries: 6}
	s := openMemory(t, m, scope)
	defer m.Cleanup()
	_, clk := memTableOf(t, s)
	for _, k := range []string{"e1", "e2", "e3"} {
		session(t, s, k, time.Minute)
	}
	for _, k := range []string{"p1", "p2", "p3"} {
		putValue(t, s, key(k), k, time.Hour)
	}
	clk.Advance(2 * time.Minute)
	smaller := &Memory{MaxEntries: 3}
	openMemory(t, smaller, scope)
	defer smaller.Cleanup()
	wantPresent(t, s, "p1", "p2", "p3")
}

// A key may be a member of several sets: it leaves each when asked, its
// record is a session while it is in any, and it leaves all of them with
// its record.
func TestMemoryMemberOfSeveralSets(t *testing.T) {
	s, tbl, _ := boundedMemory(t, 3)
	sets := []string{key("u1"), key("u2"), key("u3")}
	for _, set := range sets {
		if err := s.AddMember(ctx, set, key("k"), time.Hour); err != nil {
			t.Fatal(err)
		}
		// Adding again renews, and does not file it twice.
		if err := s.AddMember(ctx, set, key("k"), 2*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	putValue(t, s, key("k"), "k", time.Hour)
	if got := s.(*memoryStore).MemberCount(); got != 3 {
		t.Fatalf("count %d, want 3 memberships", got)
	}
	if err := s.RemoveMember(ctx, sets[0], key("k")); err != nil {
		t.Fatal(err)
	}
	members := func(set string) []string {
		t.Helper()
		got, err := s.Members(ctx, set)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if len(members(sets[0])) != 0 || !slices.Equal(members(sets[1]), []string{key("k")}) {
		t.Fatalf("after leaving u1: u1 %q, u2 %q", members(sets[0]), members(sets[1]))
	}
	// Still a session: two plain records and a third evict the plain.
	putValue(t, s, key("p1"), "p", time.Minute)
	putValue(t, s, key("p2"), "p", time.Minute)
	putValue(t, s, key("p3"), "p", time.Minute)
	wantPresent(t, s, "k")
	if err := s.Delete(ctx, key("k")); err != nil {
		t.Fatal(err)
	}
	for _, set := range sets {
		if got := members(set); len(got) != 0 {
			t.Errorf("%s keeps %q after the record went", set, got)
		}
	}
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	if len(tbl.memberOf) != 0 || len(tbl.memberMore) != 0 || len(tbl.sets) != 0 || tbl.nMembers != 0 {
		t.Errorf("left behind: memberOf %v, memberMore %v, sets %v, count %d", tbl.memberOf, tbl.memberMore, tbl.sets, tbl.nMembers)
	}
}

// A record whose key left its last set is plain again and goes before
// sessions; one in a set it never left stays a session.
func TestMemoryLeavingOneOfTwoSetsKeepsASession(t *testing.T) {
	s, _, _ := boundedMemory(t, 2)
	for _, set := range []string{key("u1"), key("u2")} {
		if err := s.AddMember(ctx, set, key("two"), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	putValue(t, s, key("two"), "two", time.Hour)
	if err := s.RemoveMember(ctx, key("u2"), key("two")); err != nil {
		t.Fatal(err)
	}
	putValue(t, s, key("plain"), "plain", 2*time.Hour)
	putValue(t, s, key("new"), "new", 2*time.Hour)
	wantPresent(t, s, "two", "new")
	wantEvicted(t, s, "plain")
	if err := s.DeleteSet(ctx, key("u1")); err != nil {
		t.Fatal(err)
	}
	putValue(t, s, key("newer"), "newer", 2*time.Hour)
	wantEvicted(t, s, "two")
}
