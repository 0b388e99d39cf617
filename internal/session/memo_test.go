package session

import (
	"hash/maphash"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// memoManager is a Manager that keeps opened sessions for a minute and
// counts the calls of its Prepare.
func memoManager(t *testing.T, clk *testclock.Clock) (*Manager, *atomic.Int64) {
	t.Helper()
	prepared := new(atomic.Int64)
	m := newManager(memoryScope(t, 100), clk, func(o *Options) {
		o.MemoTTL = time.Minute
		o.Prepare = func(s Session) any { prepared.Add(1); return "view of " + s.Sub }
	})
	return m, prepared
}

// TestMemoFollowsTheStore: the memo only spares the opening of a record
// and the Prepare: the store is read on every Lookup, so a record changed
// or deleted behind the Manager's back (another instance) counts at once.
func TestMemoFollowsTheStore(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m, prepared := memoManager(t, clk)
	ctx := t.Context()
	id := mustCreate(t, m, "first")
	lookup := func() *Opened {
		t.Helper()
		o, err := m.lookup(ctx, id, Used)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for range 3 {
		if o := lookup(); o == nil || o.Session.Sub != "first" || o.View != "view of first" || o.ID != id || o.Key != Key(id) {
			t.Fatalf("lookup: %+v", o)
		}
	}
	if n := prepared.Load(); n != 1 {
		t.Fatalf("Prepare ran %d times for three lookups of one record, want 1", n)
	}
	if m.memo.len() != 1 {
		t.Fatalf("%d sessions kept opened, want 1", m.memo.len())
	}
	// Another record under the same id, as a store shared with another
	// instance could hold: it is opened, not the one opened before.
	mustPutRecord(t, m, id, "other")
	if o := lookup(); o == nil || o.Session.Sub != "other" || o.View != "view of other" {
		t.Fatalf("after the record changed: %+v, want the other user", o)
	}
	// The ended mark another instance leaves at a logout: it opens to
	// nothing, and what the memo kept of the session is let go.
	if err := m.st.Put(ctx, Key(id), ended, time.Hour); err != nil {
		t.Fatal(err)
	}
	if o := lookup(); o != nil {
		t.Fatalf("after the record was ended: %+v, want nobody", o)
	}
	if m.memo.len() != 0 {
		t.Errorf("%d sessions kept opened after the record was ended, want 0", m.memo.len())
	}
	mustPutRecord(t, m, id, "other")
	if o := lookup(); o == nil || o.Session.Sub != "other" {
		t.Fatalf("the record back: %+v", o)
	}
	// The record deleted directly in the store, not through the Manager.
	if err := m.st.Delete(ctx, Key(id)); err != nil {
		t.Fatal(err)
	}
	if o := lookup(); o != nil {
		t.Fatalf("after the record was deleted: %+v, want nobody", o)
	}
	if m.memo.len() != 0 {
		t.Errorf("%d sessions kept opened after the record was deleted, want 0", m.memo.len())
	}
}

// TestMemoExpiryAndEnd: a session kept opened still ends at its expiry,
// and an End forgets it.
func TestMemoExpiryAndEnd(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m, _ := memoManager(t, clk)
	id := mustCreate(t, m, "u")
	if !live(t, m, id) {
		t.Fatal("the session was not found")
	}
	clk.Advance(2 * time.Hour)
	if live(t, m, id) {
		t.Fatal("past the session's expiry it is still found")
	}
	clk.Set(clockStart)
	o, err := m.lookup(t.Context(), id, Used)
	if err != nil || o == nil {
		t.Fatalf("the session was not found again: %v", err)
	}
	if m.memo.len() != 1 {
		t.Fatalf("%d sessions kept opened, want 1", m.memo.len())
	}
	if err := m.end(t.Context(), m.st, o.Key, o.Session, true); err != nil {
		t.Fatal(err)
	}
	if m.memo.len() != 0 {
		t.Errorf("%d sessions kept opened after End, want 0", m.memo.len())
	}
	if live(t, m, id) {
		t.Error("the ended session is still found")
	}
}

// TestMemoBounds: the memo is bounded in size and in time, and a ttl of 0
// keeps nothing.
func TestMemoBounds(t *testing.T) {
	t.Parallel()
	now := clockStart
	c := newMemo(time.Minute, 3)
	ids := make([]string, 6)
	for i := range ids {
		ids[i] = NewID()
	}
	for _, id := range ids[:5] {
		c.put(&Opened{ID: id, Key: Key(id)}, now)
	}
	if n := c.len(); n != 3 {
		t.Errorf("%d entries with a bound of 3", n)
	}
	wantConsistent(t, c)
	for _, tc := range []struct {
		name  string
		id    string
		at    time.Time
		found bool
	}{
		{"the last entry put", ids[4], now, true},
		{"an id never put", ids[5], now, false},
		{"past its time", ids[4], now.Add(time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.get(tc.id, tc.at) != nil; got != tc.found {
				t.Fatalf("found %v, want %v", got, tc.found)
			}
		})
	}
	// A put a ttl later sweeps the entries past their time.
	c.put(&Opened{ID: ids[5], Key: Key(ids[5])}, now.Add(time.Minute))
	if n := c.len(); n != 1 {
		t.Errorf("%d entries after the sweep, want 1", n)
	}
	wantConsistent(t, c)

	off := newMemo(0, 3)
	if off != nil {
		t.Fatal("a ttl of 0 keeps opened sessions")
	}
	off.put(&Opened{ID: ids[0], Key: Key(ids[0])}, now)
	if off.get(ids[0], now) != nil || off.len() != 0 {
		t.Error("a nil memo returned an entry")
	}
	off.drop(Key(ids[0]))
}

// TestMemoTwoIndexes: an entry is found by its id, forgotten by its store
// key, and replaced by a later one of the same session, and the two maps
// it lives in never disagree.
func TestMemoTwoIndexes(t *testing.T) {
	t.Parallel()
	now := clockStart
	c := newMemo(time.Minute, 10)
	a, b := NewID(), NewID()
	first := &Opened{ID: a, Key: Key(a)}
	c.put(first, now)
	c.put(&Opened{ID: b, Key: Key(b)}, now)
	second := &Opened{ID: a, Key: Key(a)}
	c.put(second, now)
	if got := c.get(a, now); got != second {
		t.Fatalf("after a second put of one session the memo returns %p, want the second %p", got, second)
	}
	if n := c.len(); n != 2 {
		t.Fatalf("%d entries for two sessions", n)
	}
	wantConsistent(t, c)
	c.drop(Key(a))
	if c.get(a, now) != nil {
		t.Fatal("the session dropped by its store key is still found by its id")
	}
	if c.get(b, now) == nil {
		t.Fatal("dropping one session lost the other")
	}
	wantConsistent(t, c)
}

// TestMemoChecksTheID: a request's id that lands on another session's slot
// (a collision of the keyed hash) does not get that session.
func TestMemoChecksTheID(t *testing.T) {
	t.Parallel()
	now := clockStart
	c := newMemo(time.Minute, 10)
	owner, guess := NewID(), NewID()
	o := &Opened{ID: owner, Key: Key(owner)}
	c.put(o, now)
	c.byID[maphash.String(c.seed, guess)] = o
	if c.get(guess, now) != nil {
		t.Fatal("an id colliding with a kept session's slot got that session")
	}
	if c.get(owner, now) != o {
		t.Fatal("the owner's id does not find its session")
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{owner, owner, true},
		{owner, guess, false},
		{owner, owner[:42], false},
		{owner, owner[:42] + "!", false},
		{"", "", true},
	} {
		if got := sameID(tc.a, tc.b); got != tc.same {
			t.Errorf("sameID(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
}

// wantConsistent fails unless every entry is in both maps, under its own
// key and slot.
func wantConsistent(t *testing.T, c *memo) {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.byKey) != len(c.byID) {
		t.Fatalf("%d entries by key, %d by id", len(c.byKey), len(c.byID))
	}
	for key, o := range c.byKey {
		if o.Key != key || c.byID[o.slot] != o || o.slot != maphash.String(c.seed, o.ID) {
			t.Fatalf("the entry of %s is not under its id", key)
		}
	}
}

// TestNoMemo: without a memo every Lookup opens the record and runs
// Prepare, and still finds the session.
func TestNoMemo(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	var prepared atomic.Int64
	m := newManager(memoryScope(t, 100), clk, func(o *Options) {
		o.Prepare = func(Session) any { prepared.Add(1); return nil }
	})
	id := mustCreate(t, m, "u")
	for range 3 {
		if !live(t, m, id) {
			t.Fatal("the session was not found")
		}
	}
	if n := prepared.Load(); n != 3 {
		t.Fatalf("Prepare ran %d times for three lookups without a memo, want 3", n)
	}
}

// mustPutRecord seals a session of sub for id and puts it straight into
// m's store, as another instance sharing it could.
func mustPutRecord(t *testing.T, m *Manager, id, sub string) {
	t.Helper()
	sealed, err := seal(id, Session{Sub: sub, Expires: m.now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.st.Put(t.Context(), Key(id), sealed, time.Hour); err != nil {
		t.Fatal(err)
	}
}
