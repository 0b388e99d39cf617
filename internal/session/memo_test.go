package session

import (
	"sync/atomic"
	"testing"
	"time"
)

// memoManager is a Manager that keeps opened sessions for a minute and
// counts the calls of its Prepare.
func memoManager(t *testing.T, clk *testClock) (*Manager, *atomic.Int64) {
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
	clk := newTestClock()
	m, prepared := memoManager(t, clk)
	ctx := t.Context()
	id := mustCreate(t, m, "first")
	lookup := func() *Opened {
		t.Helper()
		o, err := m.Lookup(ctx, id)
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
	sealed, err := seal(id, Session{Sub: "other", Expires: clk.now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.st.Put(ctx, Key(id), sealed, time.Hour); err != nil {
		t.Fatal(err)
	}
	if o := lookup(); o == nil || o.Session.Sub != "other" || o.View != "view of other" {
		t.Fatalf("after the record changed: %+v, want the other user", o)
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
	clk := newTestClock()
	m, _ := memoManager(t, clk)
	id := mustCreate(t, m, "u")
	if !live(t, m, id) {
		t.Fatal("the session was not found")
	}
	clk.add(2 * time.Hour)
	if live(t, m, id) {
		t.Fatal("past the session's expiry it is still found")
	}
	clk.set(clockStart)
	o, err := m.Lookup(t.Context(), id)
	if err != nil || o == nil {
		t.Fatalf("the session was not found again: %v", err)
	}
	if m.memo.len() != 1 {
		t.Fatalf("%d sessions kept opened, want 1", m.memo.len())
	}
	if err := m.End(t.Context(), o); err != nil {
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
	for i := range 5 {
		c.put(string(rune('a'+i)), &Opened{sealed: []byte{byte(i)}}, now)
	}
	if n := c.len(); n != 3 {
		t.Errorf("%d entries with a bound of 3", n)
	}
	for _, tc := range []struct {
		name   string
		sealed []byte
		at     time.Time
		found  bool
	}{
		{"the last entry put", []byte{4}, now, true},
		{"other record bytes", []byte{5}, now, false},
		{"no record bytes", nil, now, false},
		{"past its time", []byte{4}, now.Add(time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.get("e", tc.sealed, tc.at) != nil; got != tc.found {
				t.Fatalf("found %v, want %v", got, tc.found)
			}
		})
	}
	// A put a ttl later sweeps the entries past their time.
	c.put("f", &Opened{}, now.Add(time.Minute))
	if n := c.len(); n != 1 {
		t.Errorf("%d entries after the sweep, want 1", n)
	}

	off := newMemo(0, 3)
	if off != nil {
		t.Fatal("a ttl of 0 keeps opened sessions")
	}
	off.put("a", &Opened{}, now)
	if off.get("a", nil, now) != nil || off.len() != 0 {
		t.Error("a nil memo returned an entry")
	}
	off.drop("a")
}

// TestNoMemo: without a memo every Lookup opens the record and runs
// Prepare, and still finds the session.
func TestNoMemo(t *testing.T) {
	t.Parallel()
	clk := newTestClock()
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
