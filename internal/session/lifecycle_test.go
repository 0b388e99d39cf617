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

// TestCreateIsTheClaim: the session record's creation is the login's
// claim: a second Create of the same id, sequential or concurrent, is
// refused and changes nothing, and Finished reports the login finished.
func TestCreateIsTheClaim(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, nil)
	id := NewID()
	if finished, err := m.finished(t.Context(), id); err != nil || finished {
		t.Fatalf("Finished before Create: %v, %v; want false", finished, err)
	}
	first := Session{Sub: "first", Expires: clk.Now().Add(time.Hour)}
	if created, err := m.create(t.Context(), id, first, ""); err != nil || !created {
		t.Fatalf("first Create: %v, %v", created, err)
	}
	second := Session{Sub: "second", Expires: clk.Now().Add(time.Hour)}
	if created, err := m.create(t.Context(), id, second, ""); err != nil || created {
		t.Fatalf("second Create: %v, %v; want false", created, err)
	}
	o, err := m.lookup(t.Context(), id, Used)
	if err != nil || o == nil || o.Session.Sub != "first" {
		t.Fatalf("after a refused Create the session is %+v, %v; want the first one", o, err)
	}
	if finished, err := m.finished(t.Context(), id); err != nil || !finished {
		t.Fatalf("Finished after Create: %v, %v; want true", finished, err)
	}
	if n := count(t, m); n != 1 {
		t.Fatalf("count = %d after a refused Create, want 1", n)
	}

	// Many replays of one login at once: exactly one finishes.
	id = NewID()
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			created, err := m.create(context.Background(), id, Session{Sub: "race", Expires: clk.Now().Add(time.Hour)}, "")
			if err == nil && created {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of 20 concurrent Creates of one id succeeded, want 1", n)
	}
}

// TestEndKeepsTheLoginFinished: a session ended while its login could
// still be replayed leaves the ended mark until login_timeout after the
// login, so Create of its id stays refused and Finished true, while
// Lookup finds nothing; a session older than that is simply deleted.
func TestEndKeepsTheLoginFinished(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		age  time.Duration // how long before the End the login was
		// mark is the ttl of the ended mark; 0 for none (deleted).
		mark time.Duration
	}{
		{"just logged in", 0, testLoginTimeout},
		{"logged in 4 minutes ago", 4 * time.Minute, testLoginTimeout - 4*time.Minute},
		{"logged in one login timeout ago", testLoginTimeout, 0},
		{"logged in an hour ago", time.Hour, 0},
	} {
		for _, how := range []string{"End", "EndID"} {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				t.Parallel()
				clk := testclock.New(clockStart)
				st := spy(memoryScope(t, 100))
				m := newManager(st, clk, nil)
				id := NewID()
				login := clk.Now()
				if created, err := m.create(t.Context(), id, Session{Sub: "u", Login: login, Expires: login.Add(2 * time.Hour)}, ""); err != nil || !created {
					t.Fatalf("create: %v, %v", created, err)
				}
				clk.Advance(tc.age)
				var err error
				if how == "End" {
					o, lerr := m.lookup(t.Context(), id, Used)
					if lerr != nil || o == nil {
						t.Fatalf("lookup: %v, %v", o, lerr)
					}
					err = m.end(t.Context(), m.st, o.Key, o.Session, true)
				} else {
					err = m.endID(t.Context(), id)
				}
				if err != nil {
					t.Fatal(err)
				}
				if live(t, m, id) {
					t.Fatal("Lookup finds the ended session")
				}
				v, gerr := st.Get(t.Context(), Key(id))
				switch {
				case tc.mark == 0:
					if !errors.Is(gerr, store.ErrNotFound) {
						t.Fatalf("the record of a session older than the login timeout is %v, %v; want deleted", v, gerr)
					}
				default:
					w, _ := st.lastWrite(Key(id))
					if gerr != nil || string(v) != string(ended) || w.ttl != tc.mark {
						t.Fatalf("the record is %v (%v) for %v; want the ended mark for %v", v, gerr, w.ttl, tc.mark)
					}
				}
				finished, err := m.finished(t.Context(), id)
				if err != nil || finished != (tc.mark > 0) {
					t.Errorf("Finished after the end: %v, %v; want %v", finished, err, tc.mark > 0)
				}
				created, err := m.create(t.Context(), id, Session{Sub: "u", Expires: clk.Now().Add(time.Hour)}, "")
				if err != nil || created != (tc.mark == 0) {
					t.Errorf("Create of the ended session's id: %v, %v; want %v", created, err, tc.mark == 0)
				}
			})
		}
	}
}

// TestEndIDOfNothing: EndID of an id that is malformed, unknown or already
// ended does no harm and reports no error; a malformed or unknown one
// writes nothing.
func TestEndIDOfNothing(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	m := newManager(st, clk, nil)
	keep := mustCreate(t, m, "u")
	gone := mustCreate(t, m, "u")
	if err := m.endID(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		id     string
		writes bool
	}{
		{"malformed", "not-an-id", false},
		{"empty", "", false},
		{"unknown", NewID(), false},
		{"already ended", gone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := st.writes.Load()
			if err := m.endID(t.Context(), tc.id); err != nil {
				t.Fatalf("EndID: %v", err)
			}
			if wrote := st.writes.Load() != before; wrote && !tc.writes {
				t.Errorf("EndID wrote %d times", st.writes.Load()-before)
			}
			if finished, _ := m.finished(t.Context(), gone); !finished {
				t.Error("the ended session's login is no longer finished")
			}
		})
	}
	if !live(t, m, keep) || count(t, m) != 1 {
		t.Fatalf("another session was touched: found %v, count %d", live(t, m, keep), count(t, m))
	}
}

// TestLookupRefusesBadRecords: Lookup finds nothing, and reports no error,
// for a malformed id, an expired session, and a record that does not open
// with the id; it reports the store's error when the store fails, so the
// caller does not say "logged out".
func TestLookupRefusesBadRecords(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := memoryScope(t, 100)
	var told []string
	m := newManager(st, clk, func(o *Options) {
		o.Hooks.StoreFailed = func(_ context.Context, op string, _ error) { told = append(told, op) }
	})
	id := mustCreate(t, m, "u")
	foreign := NewID()
	sealed, err := seal(NewID(), Session{Sub: "u", Expires: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(t.Context(), Key(foreign), sealed, time.Hour); err != nil {
		t.Fatal(err)
	}
	expired := NewID()
	if created, err := m.create(t.Context(), expired, Session{Sub: "u", Expires: clk.Now().Add(time.Minute)}, ""); err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	clk.Advance(time.Minute)
	for _, tc := range []struct {
		name string
		id   string
	}{
		{"malformed", id[:20]},
		{"unknown", NewID()},
		{"sealed for another id", foreign},
		{"expired", expired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if o, err := m.lookup(t.Context(), tc.id, Used); o != nil || err != nil {
				t.Fatalf("got %+v, %v; want nothing and no error", o, err)
			}
		})
	}
	if len(told) != 0 {
		t.Fatalf("StoreFailed told %q with a working store", told)
	}
	down := newManager(&failingStore{Store: st, err: errors.New("store down")}, clk, func(o *Options) {
		o.Hooks.StoreFailed = func(_ context.Context, op string, _ error) { told = append(told, op) }
	})
	if o, err := down.lookup(t.Context(), id, Used); o != nil || err == nil {
		t.Fatalf("with the store down: %+v, %v; want its error", o, err)
	}
	if finished, err := down.finished(t.Context(), id); finished || err == nil {
		t.Fatalf("Finished with the store down: %v, %v; want its error", finished, err)
	}
	if len(told) != 2 || told[0] != "get" || told[1] != "get" {
		t.Fatalf("StoreFailed told %q, want [get get]", told)
	}
}
