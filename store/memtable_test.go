package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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

// queued is the number of entries of the table's queues, stale or not.
func queued(tbl *memTable) int {
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	n := 0
	for c := range tbl.order {
		n += len(tbl.order[c].nodes)
	}
	return n
}

// What a revocation does to a session among many (the ended mark written
// over its record with a shorter lifetime, its last use deleted, its key
// taken out of its user's set) moves no entry of the sessions' queue:
// with a million sessions each step of a heap is a miss to memory. The
// record then waits among plain records, and goes at its new expiry.
func TestMemoryRevocationMovesNoQueueEntry(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 10_000)
	for i := range 1000 {
		if created, err := s.(SetCreator).CreateInSet(ctx, key(fmt.Sprint("s", i)), []byte("v"), time.Hour+time.Duration(i)*time.Second, key(fmt.Sprint("u", i))); !created || err != nil {
			t.Fatal(created, err)
		}
	}
	if n := queued(tbl); n != 1000 {
		t.Fatalf("1,000 sessions made in their sets queued %d entries, want one each", n)
	}
	tbl.mu.Lock()
	before := slices.Clone(tbl.order[classMember].nodes)
	tbl.mu.Unlock()

	k, set := key("s500"), key("u500")
	if err := s.Put(ctx, k, []byte{0}, 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "seen-"+k); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveMember(ctx, set, k); err != nil {
		t.Fatal(err)
	}
	tbl.mu.Lock()
	after := slices.Clone(tbl.order[classMember].nodes)
	plain := len(tbl.order[classPlain].nodes)
	tbl.mu.Unlock()
	if !slices.Equal(before, after) {
		t.Fatal("the sessions' queue changed")
	}
	if plain != 1 {
		t.Fatalf("%d entries among plain records, want the ended mark's", plain)
	}
	clk.Advance(11 * time.Minute)
	putValue(t, s, key("write"), "w", time.Hour) // sweeps
	if _, err := s.Get(ctx, k); err == nil {
		t.Fatal("the ended mark outlived its lifetime")
	}
	if n := tbl.len(); n != 1000 {
		t.Fatalf("the table holds %d records, want 999 sessions and the write", n)
	}
}

// A record renewed with a later expiry is not swept at its first one: its
// queue entry comes up early and is queued again. One whose expiry was
// shortened is refused from its new expiry on, and goes by its first.
func TestMemoryRenewedAndShortenedRecords(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 10_000)
	putValue(t, s, key("renewed"), "a", time.Minute)
	putValue(t, s, key("renewed"), "b", time.Hour)
	putValue(t, s, key("shortened"), "a", time.Hour)
	putValue(t, s, key("shortened"), "b", time.Minute)
	clk.Advance(2 * time.Minute)
	putValue(t, s, key("write"), "w", 3*time.Hour)
	if got := mustGet(t, s, key("renewed")); got != "b" {
		t.Fatalf("renewed = %q", got)
	}
	if _, err := s.Get(ctx, key("shortened")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the shortened record is served after its expiry: %v", err)
	}
	clk.Advance(2 * time.Hour)
	putValue(t, s, key("write"), "w", 3*time.Hour)
	if n := tbl.len(); n != 1 {
		t.Fatalf("%d records left two hours on, want the write alone", n)
	}
	if n := queued(tbl); n != 1 {
		t.Fatalf("%d queue entries left, want the write's", n)
	}
}

// Records that go leave stale entries in their queues, dropped as they
// come up, a bounded number per write: a write looks at no more than
// sweepSteps entries per record it may remove, however many are stale at
// the front, and a count drops them all.
func TestMemoryStaleEntriesAreDroppedBoundedly(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 10_000)
	const n = 500
	for i := range n {
		putValue(t, s, key(fmt.Sprint("p", i)), "v", time.Minute)
		if err := s.Delete(ctx, key(fmt.Sprint("p", i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := queued(tbl); got != n {
		t.Fatalf("%d entries queued, want %d stale ones", got, n)
	}
	clk.Advance(2 * time.Minute)
	putValue(t, s, key("write"), "w", time.Hour)
	if got, want := queued(tbl), n-sweepSteps*sweepPerWrite+1; got != want {
		t.Fatalf("after one write %d entries queued, want %d (%d looked at)", got, want, sweepSteps*sweepPerWrite)
	}
	s.(*memoryStore).MemberCount()
	if got := queued(tbl); got != 1 {
		t.Fatalf("after a count %d entries queued, want the write's", got)
	}
}

// Evicting meets stale and early entries at the front of a queue and
// passes them: the record evicted is the soonest-expiring one of the
// lowest class.
func TestMemoryEvictionPassesStaleEntries(t *testing.T) {
	s, _, _ := boundedMemory(t, 3)
	putValue(t, s, key("gone"), "v", time.Minute)
	if err := s.Delete(ctx, key("gone")); err != nil {
		t.Fatal(err)
	}
	putValue(t, s, key("renewed"), "renewed", 2*time.Minute)
	putValue(t, s, key("renewed"), "renewed", 3*time.Hour)
	putValue(t, s, key("soon"), "soon", time.Hour)
	putValue(t, s, key("late"), "late", 2*time.Hour)
	putValue(t, s, key("new"), "new", 4*time.Hour)
	wantEvicted(t, s, "soon")
	wantPresent(t, s, "renewed", "late", "new")
}

// A count right after records expired counts none of them, to the
// nanosecond: the queues order by exact expiries.
func TestMemoryCountRightAfterExpiry(t *testing.T) {
	s, _, clk := boundedMemory(t, 10_000)
	for i := range 10 {
		session(t, s, fmt.Sprint("s", i), 1500*time.Millisecond+time.Duration(i)*time.Millisecond)
	}
	clk.Advance(1509*time.Millisecond + 1)
	if n := s.(*memoryStore).MemberCount(); n != 0 {
		t.Fatalf("count %d right after every session expired, want 0", n)
	}
}

// A session made as the handler made it before CreateInSet (its record,
// then its key filed in its user's set) leaves one queue entry, not a
// stale one among plain records as well; and a session's membership is
// kept in its record's entry, not in memberOf, a map of every session,
// whose lookups and entries a million sessions would pay for.
func TestMemorySessionCostsOneEntry(t *testing.T) {
	s, tbl, _ := boundedMemory(t, 10_000)
	for i := range 100 {
		session(t, s, fmt.Sprint("s", i), time.Hour)
	}
	if n := queued(tbl); n != 100 {
		t.Fatalf("100 sessions queued %d entries, want 100", n)
	}
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	if len(tbl.memberOf) != 0 || len(tbl.order[classPlain].nodes) != 0 {
		t.Fatalf("memberOf holds %d members, the plain queue %d entries; want none", len(tbl.memberOf), len(tbl.order[classPlain].nodes))
	}
}

// The count of records by key length, which spares a lookup of a key no
// record is as long as (a session's last use, without an idle timeout),
// follows every way a record comes and goes: a write, a create, a delete,
// an expiry swept or met by a read, an eviction; and records of a length
// it counts are found.
func TestMemoryCountsRecordsByKeyLength(t *testing.T) {
	s, tbl, clk := boundedMemory(t, 60)
	rng := rand.New(rand.NewPCG(3, 4))
	live := map[string]bool{}
	for i := range 2000 {
		k := strings.Repeat("k", 1+rng.IntN(8)) + fmt.Sprint(rng.IntN(40))
		switch rng.IntN(5) {
		case 0, 1:
			putValue(t, s, k, k, time.Duration(1+rng.IntN(120))*time.Second)
		case 2:
			if _, err := s.Create(ctx, k, []byte(k), time.Duration(1+rng.IntN(120))*time.Second); err != nil {
				t.Fatal(err)
			}
		case 3:
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		case 4:
			_, _ = s.Get(ctx, k)
		}
		if i%50 == 0 {
			clk.Advance(time.Duration(rng.IntN(30)) * time.Second)
		}
	}
	tbl.mu.Lock()
	var want [MaxKeyLen + 1]int32
	for k := range tbl.items {
		want[len(k)]++
		live[k] = true
	}
	got := tbl.byLen
	tbl.mu.Unlock()
	if got != want {
		t.Fatalf("counted by length %v, want %v", got[:16], want[:16])
	}
	for k := range live {
		if v, err := s.Get(ctx, k); err == nil && string(v) != k {
			t.Fatalf("%s = %q", k, v)
		}
	}
	if len(live) == 0 {
		t.Fatal("no record left; the test proves nothing")
	}
}

// An expired session goes before a live record is evicted even when more
// stale queue entries come first than a write's sweep and a sweep step
// look at together.
func TestMemoryEvictionSweepsPastStaleEntries(t *testing.T) {
	s, _, clk := boundedMemory(t, 2)
	for i := range sweepSteps*(sweepPerWrite+1) + 4 {
		putValue(t, s, key(fmt.Sprint("gone", i)), "v", time.Second)
		if err := s.Delete(ctx, key(fmt.Sprint("gone", i))); err != nil {
			t.Fatal(err)
		}
	}
	session(t, s, "expired", 2*time.Second)
	putValue(t, s, key("live"), "live", time.Hour)
	clk.Advance(3 * time.Second)
	putValue(t, s, key("new"), "new", time.Hour)
	wantPresent(t, s, "live", "new")
}
