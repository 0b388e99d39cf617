package session

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// idleManager is a Manager on st with an idle timeout, dated by clk.
func idleManager(st store.Store, clk *testclock.Clock, idle time.Duration, edit func(*Options)) *Manager {
	return newManager(st, clk, func(o *Options) {
		o.IdleTimeout = idle
		if edit != nil {
			edit(o)
		}
	})
}

// TestIdleTimeoutEndsUnusedSession: a session unused for the idle timeout
// (counted from its last recorded use plus the recording interval, so
// never early) ends, the IdleExpired hook is told, and it leaves the store
// and the index; one in use lives on, but not past its absolute lifetime.
func TestIdleTimeoutEndsUnusedSession(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := memoryScope(t, 100)
	var expired, endedKeys atomic.Int64
	m := idleManager(st, clk, 10*time.Minute, func(o *Options) {
		o.Hooks.IdleExpired = func(context.Context) { expired.Add(1) }
		o.Hooks.Ended = func(string) { endedKeys.Add(1) }
	})
	start := clk.Now()
	id := mustCreate(t, m, "idle-user")

	clk.Set(start.Add(10*time.Minute + seenEvery - time.Second))
	if !live(t, m, id) {
		t.Fatal("session ended before idle timeout + the recording interval")
	}
	used := clk.Now()
	clk.Set(used.Add(10*time.Minute + seenEvery - time.Second))
	if !live(t, m, id) {
		t.Fatal("session ended though it was used within the idle timeout")
	}
	if n := expired.Load(); n != 0 {
		t.Fatalf("IdleExpired told %d times while the session lived", n)
	}
	clk.Advance(10*time.Minute + seenEvery)
	if live(t, m, id) {
		t.Fatal("session unused for longer than the idle timeout still found")
	}
	if n := expired.Load(); n != 1 {
		t.Errorf("IdleExpired told %d times, want 1", n)
	}
	if n := endedKeys.Load(); n != 1 {
		t.Errorf("Ended told %d times, want 1", n)
	}
	if _, err := st.Get(t.Context(), Key(id)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the idle session's record is still in the store: %v", err)
	}
	if _, err := st.Get(t.Context(), seenKey(Key(id))); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the idle session's last use is still in the store: %v", err)
	}
	if n := count(t, m); n != 0 {
		t.Errorf("the index still holds %d sessions", n)
	}

	// A session used every 9 minutes still ends at its absolute lifetime.
	clk.Set(start)
	id = mustCreate(t, m, "busy-user")
	for clk.Now().Before(start.Add(time.Hour)) {
		if !live(t, m, id) {
			t.Fatalf("busy session ended at %v, before its lifetime", clk.Now().Sub(start))
		}
		clk.Advance(9 * time.Minute)
	}
	if live(t, m, id) {
		t.Error("the idle timeout extended the session past its absolute lifetime")
	}
}

// TestIdleTimeoutOff: without an idle timeout a session unused for most of
// its lifetime is still found, and no last use is written.
func TestIdleTimeoutOff(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	st.prefix = "seen-"
	m := idleManager(st, clk, 0, nil)
	id := NewID()
	if created, err := m.create(t.Context(), id, Session{Sub: "u", Expires: clk.Now().Add(12 * time.Hour)}, ""); err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	clk.Advance(11 * time.Hour)
	if !live(t, m, id) || st.prefixPuts.Load() != 0 {
		t.Errorf("without an idle timeout: found %v, %d last-use writes", live(t, m, id), st.prefixPuts.Load())
	}
}

// TestLastUseWrittenAtMostOncePerMinute: many lookups of one session
// within a minute, one after another or all at once, write its last use
// once; another Manager on the store sees that write and does not write
// again within the minute; after a minute the next lookup writes.
func TestLastUseWrittenAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	st.prefix = "seen-"
	m := idleManager(st, clk, 30*time.Minute, nil)
	start := clk.Now()
	id := NewID()
	if created, err := m.create(t.Context(), id, Session{Sub: "u", Expires: start.Add(12 * time.Hour)}, ""); err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	// The login itself dates the session: no write in its first minute.
	for i := range 30 {
		clk.Set(start.Add(time.Duration(i) * 2 * time.Second))
		live(t, m, id)
	}
	if n := st.prefixPuts.Load(); n != 0 {
		t.Fatalf("%d last-use writes within the login's minute, want 0", n)
	}

	// Fifty lookups at once, a minute and a half in, all read the old
	// last use before any of them writes.
	clk.Set(start.Add(90 * time.Second))
	const concurrent = 50
	var wg, gate sync.WaitGroup
	gate.Add(concurrent)
	st.gate = &gate
	for range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.lookup(context.Background(), id, Used)
		}()
	}
	wg.Wait()
	st.gate = nil
	if n := st.prefixPuts.Load(); n != 1 {
		t.Fatalf("50 concurrent lookups wrote the last use %d times, want 1", n)
	}
	// More lookups in the same minute, on this Manager and on another one
	// sharing the store.
	other := idleManager(st, clk, 30*time.Minute, nil)
	for i := range 20 {
		clk.Set(start.Add(90*time.Second + time.Duration(i)*2*time.Second))
		live(t, m, id)
		live(t, other, id)
	}
	if n := st.prefixPuts.Load(); n != 1 {
		t.Fatalf("lookups within the minute after a write wrote %d times in all, want 1", n)
	}
	clk.Set(start.Add(151 * time.Second))
	live(t, other, id)
	live(t, m, id)
	if n := st.prefixPuts.Load(); n != 2 {
		t.Fatalf("a minute after the write: %d writes in all, want 2", n)
	}
}

// TestLastUseWriteDoesNotBringBackAnEndedSession: a Manager holding an old
// copy of a session that another one ended writes its last use; the
// session stays ended in the store, because the last use lives under a
// key of its own rather than in a rewritten record.
func TestLastUseWriteDoesNotBringBackAnEndedSession(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	shared := memoryScope(t, 100)
	a := idleManager(shared, clk, 30*time.Minute, nil)
	b := idleManager(store.Cached(shared, time.Hour, 0), clk, 30*time.Minute, nil)
	id := mustCreate(t, a, "u")
	if !live(t, b, id) {
		t.Fatal("B does not see the session")
	}
	if n, err := a.Revoke(t.Context(), UserSessions("u")); err != nil || n != 1 {
		t.Fatalf("revoke on A: %d, %v", n, err)
	}
	clk.Advance(2 * time.Minute)
	if !live(t, b, id) {
		t.Fatal("B's cache no longer serves the session; the test proves nothing")
	}
	if _, err := shared.Get(t.Context(), seenKey(Key(id))); err != nil {
		t.Fatalf("B wrote no last use; the test proves nothing: %v", err)
	}
	if live(t, a, id) {
		t.Fatal("B's last-use write brought the revoked session back into the store")
	}
	if v, err := shared.Get(t.Context(), Key(id)); err == nil {
		if _, err := open(id, v); err == nil {
			t.Fatal("the store holds the revoked session's record again")
		}
	}
}

// TestIdleDecidedOnTheStoresCopy: a Manager whose cached copy of a
// session's last use is old asks the store before ending the session for
// idleness, so a use another instance recorded since keeps it alive.
func TestIdleDecidedOnTheStoresCopy(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	shared := memoryScope(t, 100)
	a := idleManager(shared, clk, 10*time.Minute, nil)
	b := idleManager(store.Cached(shared, time.Hour, 0), clk, 10*time.Minute, func(o *Options) { o.Raw = shared })
	start := clk.Now()
	id := NewID()
	if created, err := a.create(t.Context(), id, Session{Sub: "u", Expires: start.Add(12 * time.Hour)}, ""); err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	// B records a use at 2m and keeps that copy in its cache; A records
	// later uses.
	for _, step := range []struct {
		m  *Manager
		at time.Duration
	}{{b, 2 * time.Minute}, {a, 3 * time.Minute}, {a, 8 * time.Minute}, {a, 12 * time.Minute}} {
		clk.Set(start.Add(step.at))
		if !live(t, step.m, id) {
			t.Fatalf("session ended at %v", step.at)
		}
	}
	// 13m01s: B's copy says 11m unused; the store says 1m.
	clk.Set(start.Add(13*time.Minute + time.Second))
	if !live(t, b, id) {
		t.Fatal("B ended a session in use on A, on its cache's old last use")
	}
	if !live(t, a, id) {
		t.Fatal("the session is gone from the store")
	}
}

// TestSeenWritesClaim: a key is claimed once per seenEvery; a released
// claim may be taken again at once; entries a minute old are pruned.
func TestSeenWritesClaim(t *testing.T) {
	t.Parallel()
	w := newSeenWrites()
	now := clockStart
	for _, tc := range []struct {
		name string
		key  string
		at   time.Duration
		want bool
	}{
		{"first claim", "a", 0, true},
		{"again at once", "a", 0, false},
		{"within the minute", "a", seenEvery - time.Second, false},
		{"another key", "b", time.Second, true},
		{"a minute later", "a", seenEvery, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.claim(tc.key, now.Add(tc.at)); got != tc.want {
				t.Fatalf("claim = %v, want %v", got, tc.want)
			}
		})
	}
	w.release("a")
	if !w.claim("a", now.Add(seenEvery)) {
		t.Fatal("a released claim cannot be taken again")
	}
	// Two minutes on, the old entries decide nothing and are pruned.
	w.claim("c", now.Add(3*seenEvery))
	w.mu.Lock()
	n := len(w.at)
	w.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d entries after the prune, want 1", n)
	}
}

// TestIdleEndFailureReportedOnce: when the store fails to end a session the
// idle timeout ended, StoreFailed is told once, not once by the ending and
// again by the idle check; the session is still not handed out.
func TestIdleEndFailureReportedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		op   string
		st   func(store.Store) store.Store
	}{
		{"record", "delete", func(st store.Store) store.Store { return &deleteFails{Store: st} }},
		{"index", "index", func(st store.Store) store.Store { return &removeMemberFails{Store: st} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(clockStart)
			var told []string
			m := idleManager(tc.st(memoryScope(t, 100)), clk, 10*time.Minute, func(o *Options) {
				o.Hooks.StoreFailed = func(_ context.Context, op string, _ error) { told = append(told, op) }
			})
			id := mustCreate(t, m, "u")
			clk.Advance(30 * time.Minute)
			if live(t, m, id) {
				t.Fatal("a session idle too long was handed out")
			}
			if len(told) != 1 || told[0] != tc.op {
				t.Fatalf("StoreFailed told %q, want [%s]", told, tc.op)
			}
		})
	}
}

// deleteFails is a store whose Delete fails.
type deleteFails struct{ store.Store }

func (s *deleteFails) Delete(context.Context, string) error { return errors.New("delete failed") }

// removeMemberFails is a store whose RemoveMember fails.
type removeMemberFails struct{ store.Store }

func (s *removeMemberFails) RemoveMember(context.Context, string, string) error {
	return errors.New("remove member failed")
}

// TestPeekAndExtend: a Peek lookup records no use, so a session only
// peeked at ends at its idle end, which it reports; an Extend records the
// use at once (within seenEvery of the last one too) and moves the end.
func TestPeekAndExtend(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := idleManager(memoryScope(t, 100), clk, 10*time.Minute, nil)
	start := clk.Now()
	id := mustCreate(t, m, "peeker")
	if !live(t, m, id) { // records the first use, at start
		t.Fatal("new session not found")
	}
	wantEnd := start.Add(10*time.Minute + seenEvery)
	for clk.Now().Before(wantEnd) {
		o, err := m.lookup(t.Context(), id, Peek)
		if err != nil || o == nil {
			t.Fatalf("peek at %v: %v, %v", clk.Now().Sub(start), o, err)
		}
		if !o.IdleUntil.Equal(wantEnd) {
			t.Fatalf("IdleUntil = %v, want %v", o.IdleUntil, wantEnd)
		}
		clk.Advance(30 * time.Second)
	}
	if o, err := m.lookup(t.Context(), id, Peek); o != nil || err != nil {
		t.Fatalf("a session only peeked at outlived its idle end: %v, %v", o, err)
	}

	id = mustCreate(t, m, "extender")
	live(t, m, id)
	clk.Advance(20 * time.Second) // within seenEvery: a plain use is not written
	o, err := m.lookup(t.Context(), id, Extend)
	if err != nil || o == nil {
		t.Fatalf("extend: %v, %v", o, err)
	}
	if want := clk.Now().Add(10*time.Minute + seenEvery); !o.IdleUntil.Equal(want) {
		t.Fatalf("extended IdleUntil = %v, want %v", o.IdleUntil, want)
	}
	if p, _ := m.lookup(t.Context(), id, Peek); p == nil || !p.IdleUntil.Equal(o.IdleUntil) {
		t.Fatalf("the extension was not recorded: %v", p)
	}
	if u, _ := m.lookup(t.Context(), id, Used); u == nil || !u.IdleUntil.IsZero() {
		t.Fatalf("a plain use filled IdleUntil or failed: %v", u)
	}
}
