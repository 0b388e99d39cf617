package session

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// TestRevokeUser ends every session of one user and no other, counts them,
// and leaves a count of what remains; revoking all ends the rest.
func TestRevokeUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wrap func(store.Store) store.Store
	}{
		// The memory store counts its members exactly.
		{"exact count", func(st store.Store) store.Store { return st }},
		// A store that cannot count is counted set by set.
		{"listed count", func(st store.Store) store.Store { return spy(st) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(clockStart)
			m := newManager(tc.wrap(memoryScope(t, 100)), clk, nil)
			a1, a2 := mustCreate(t, m, "alice"), mustCreate(t, m, "alice")
			b := mustCreate(t, m, "bob")
			if n := count(t, m); n != 3 {
				t.Fatalf("count = %d, want 3", n)
			}
			n, err := m.Revoke(t.Context(), UserSessions("alice"))
			if err != nil || n != 2 {
				t.Fatalf("revoking alice ended %d, %v; want 2", n, err)
			}
			if live(t, m, a1) || live(t, m, a2) {
				t.Error("a revoked session is still found")
			}
			if !live(t, m, b) {
				t.Error("revoking alice ended bob's session")
			}
			if n, err := m.Revoke(t.Context(), UserSessions("alice")); err != nil || n != 0 {
				t.Errorf("revoking alice again ended %d, %v; want 0", n, err)
			}
			if n := count(t, m); n != 1 {
				t.Errorf("count after the revocation = %d, want 1", n)
			}
			if n, err := m.Revoke(t.Context(), AllSessions()); err != nil || n != 1 {
				t.Errorf("revoking all ended %d, %v; want 1", n, err)
			}
			if live(t, m, b) {
				t.Error("bob's session outlived revoking all")
			}
			if n := count(t, m); n != 0 {
				t.Errorf("count after revoking all = %d, want 0", n)
			}
		})
	}
}

// TestEndLeavesTheIndex: a session ended by End or EndID leaves its user's
// index, so the count does not include it and a revocation does not count
// it again. (Its ended mark stays under the same store key, so the memory
// store would keep the entry otherwise.)
func TestEndLeavesTheIndex(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		end  func(*testing.T, *Manager, string) error
	}{
		{"End", func(t *testing.T, m *Manager, id string) error {
			o, err := m.lookup(t.Context(), id, Used)
			if err != nil || o == nil {
				t.Fatalf("lookup: %v, %v", o, err)
			}
			return m.end(t.Context(), m.st, o.Key, o.Session, true)
		}},
		{"EndID", func(t *testing.T, m *Manager, id string) error { return m.endID(t.Context(), id) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(clockStart)
			m := newManager(memoryScope(t, 100), clk, nil)
			id := mustCreate(t, m, "alice")
			mustCreate(t, m, "alice")
			if err := tc.end(t, m, id); err != nil {
				t.Fatal(err)
			}
			if live(t, m, id) {
				t.Fatal("the ended session is still found")
			}
			if n := count(t, m); n != 1 {
				t.Errorf("count after an end = %d, want 1", n)
			}
			if n, _ := m.Revoke(t.Context(), UserSessions("alice")); n != 1 {
				t.Errorf("revocation after an end ended %d, want 1", n)
			}
		})
	}
}

// TestRevokeReachesPeerCaches: during a reload the old config's Manager
// has its own cache in front of the shared store; a revocation made
// through the new config drops the session from that cache too, rather
// than leaving the old Manager to serve it for the cache's ttl.
func TestRevokeReachesPeerCaches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		target func(t *testing.T, cur *Manager, id string) Target
	}{
		{"a user", func(*testing.T, *Manager, string) Target { return UserSessions("alice") }},
		{"all", func(*testing.T, *Manager, string) Target { return AllSessions() }},
		{"one session", func(t *testing.T, cur *Manager, id string) Target { return OneSession("alice", handleOfID(t, cur, id)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			old, cur, clk, id := twoPeers(t)
			if n, err := cur.Revoke(t.Context(), tc.target(t, cur, id)); err != nil || n != 1 {
				t.Fatalf("revoke: %d, %v", n, err)
			}
			if live(t, old, id) {
				t.Error("the old Manager's cache still serves the revoked session")
			}
			if created, err := old.create(t.Context(), id, Session{Sub: "alice", Expires: clk.Now().Add(time.Hour)}, ""); err != nil || created {
				t.Errorf("the revoked session's login finished again through the old Manager: %v, %v", created, err)
			}
		})
	}
}

// TestCreateFailsWithoutIndex: a session that could not be filed in the
// index could not be revoked, so Create fails, leaves no record and tells
// StoreFailed.
func TestCreateFailsWithoutIndex(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := &failingIndex{spyStore: spy(memoryScope(t, 100))}
	var told []string
	m := newManager(st, clk, func(o *Options) {
		o.Hooks.StoreFailed = func(_ context.Context, op string, _ error) { told = append(told, op) }
	})
	id := NewID()
	if _, err := m.create(t.Context(), id, Session{Sub: "alice", Expires: clk.Now().Add(time.Hour)}, ""); err == nil {
		t.Fatal("Create succeeded without an index entry")
	}
	if _, ok := st.lastWrite(Key(id)); !ok {
		t.Fatal("the record was never written; the test proves nothing")
	}
	if _, err := st.Get(t.Context(), Key(id)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session record was left in the store: %v", err)
	}
	if len(told) != 1 || told[0] != "index" {
		t.Errorf("StoreFailed told %q, want [index]", told)
	}
}

// setCreator is a store with its own CreateInSet, which fails as told
// (after creating the record when created is set), and counts its calls.
type setCreator struct {
	*spyStore
	fail                     error
	created                  bool
	calls, creates, addsMade int
}

func (s *setCreator) CreateInSet(ctx context.Context, key string, value []byte, ttl time.Duration, set string) (bool, error) {
	s.calls++
	if s.fail == nil {
		return store.CreateInSet(ctx, s.spyStore.Store, key, value, ttl, set)
	}
	if s.created {
		_, err := s.spyStore.Store.Create(ctx, key, value, ttl)
		return err == nil, s.fail
	}
	return false, s.fail
}

func (s *setCreator) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	s.creates++
	return s.spyStore.Create(ctx, key, value, ttl)
}

func (s *setCreator) AddMember(ctx context.Context, set, member string, ttl time.Duration) error {
	s.addsMade++
	return s.spyStore.AddMember(ctx, set, member, ttl)
}

// A login's session goes to a store that creates records in sets through
// that one call, not through Create and AddMember, and is filed in its
// user's set; when the call fails after creating the record (not filed),
// the record goes, and StoreFailed hears of the index; when it fails
// before, nothing is deleted and StoreFailed hears of the write.
func TestCreateThroughSetCreator(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	for _, tc := range []struct {
		name    string
		fail    error
		created bool
		told    string
	}{
		{"filed", nil, false, ""},
		{"failed after the record", errors.New("index unavailable"), true, "index"},
		{"failed before the record", errors.New("store unavailable"), false, "put"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &setCreator{spyStore: spy(memoryScope(t, 100)), fail: tc.fail, created: tc.created}
			var told []string
			m := newManager(st, clk, func(o *Options) {
				o.Hooks.StoreFailed = func(_ context.Context, op string, _ error) { told = append(told, op) }
			})
			id := NewID()
			created, err := m.create(t.Context(), id, Session{Sub: "alice", Expires: clk.Now().Add(time.Hour)}, "")
			if st.calls != 1 || st.creates != 0 || st.addsMade != 0 {
				t.Fatalf("CreateInSet %d, Create %d, AddMember %d calls; want CreateInSet alone", st.calls, st.creates, st.addsMade)
			}
			if tc.fail == nil {
				if !created || err != nil || !live(t, m, id) {
					t.Fatalf("create = %v, %v", created, err)
				}
				if n, err := m.Revoke(t.Context(), UserSessions("alice")); n != 1 || err != nil {
					t.Fatalf("the session is not in its user's set: revoked %d, %v", n, err)
				}
				return
			}
			if created || err == nil {
				t.Fatalf("create = %v, %v; want the failure", created, err)
			}
			_, getErr := st.Store.Get(t.Context(), Key(id))
			if !errors.Is(getErr, store.ErrNotFound) {
				t.Errorf("the unfiled record was left in the store: %v", getErr)
			}
			if len(told) != 1 || told[0] != tc.told {
				t.Errorf("StoreFailed told %q, want [%s]", told, tc.told)
			}
		})
	}
}

// failingIndex is a store whose index cannot be written.
type failingIndex struct{ *spyStore }

func (s *failingIndex) AddMember(context.Context, string, string, time.Duration) error {
	return errors.New("index unavailable")
}

// TestRevokeKeepsSessionsFiledMeanwhile: a session created and filed in
// the user's set while a revocation of that user runs (after it read the
// set's members) is not in its list, so it is not ended; it must keep its
// index entry, so that the next revocation ends it.
func TestRevokeKeepsSessionsFiledMeanwhile(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	m := newManager(st, clk, nil)
	before := mustCreate(t, m, "alice")
	var during string
	st.afterMembers = func() { during = mustCreate(t, m, "alice") }

	n, err := m.Revoke(t.Context(), UserSessions("alice"))
	if err != nil || n != 1 {
		t.Fatalf("first revocation ended %d, %v; want 1", n, err)
	}
	if during == "" {
		t.Fatal("no session was created during the revocation; the test proves nothing")
	}
	if live(t, m, before) {
		t.Fatal("the session listed by the revocation is still found")
	}
	if !live(t, m, during) {
		t.Fatal("the session created after the listing was ended; the interleaving was not the one meant")
	}
	n, err = m.Revoke(t.Context(), UserSessions("alice"))
	if err != nil || n != 1 {
		t.Fatalf("second revocation ended %d, %v; want 1 (the session filed meanwhile lost its index entry)", n, err)
	}
	if live(t, m, during) {
		t.Fatal("the session filed during the first revocation outlived the second")
	}
}

// TestRevocationLeavesEndedMark: a revoked session's login cannot finish
// again for the login timeout: its record is replaced by the ended mark,
// which Create refuses and Finished reports, for exactly login_timeout.
func TestRevocationLeavesEndedMark(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	m := newManager(st, clk, nil)
	id := mustCreate(t, m, "alice")
	if n, err := m.Revoke(t.Context(), AllSessions()); err != nil || n != 1 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	w, ok := st.lastWrite(Key(id))
	if !ok || string(w.value) != string(ended) || w.ttl != testLoginTimeout {
		t.Fatalf("after revocation the record is %v for %v (written %v), want the ended mark for %v", w.value, w.ttl, ok, testLoginTimeout)
	}
	if finished, err := m.finished(t.Context(), id); err != nil || !finished {
		t.Errorf("Finished after revocation: %v, %v; want true", finished, err)
	}
	if created, err := m.create(t.Context(), id, Session{Sub: "alice", Expires: clk.Now().Add(time.Hour)}, ""); err != nil || created {
		t.Errorf("Create of a revoked session's id: %v, %v; want false", created, err)
	}
	if live(t, m, id) {
		t.Error("the revoked session is found")
	}
}

// A closed Manager is no longer a peer: a revocation through another one
// leaves its cache alone, and the scope's entry in the pool goes with the
// last Manager.
func TestClosedManagerIsNoPeer(t *testing.T) {
	t.Parallel()
	old, cur, _, id := twoPeers(t)
	old.Close()
	if got := cur.peers.others(cur); len(got) != 0 {
		t.Fatalf("peers after Close: %d", len(got))
	}
	if n, err := cur.Revoke(t.Context(), UserSessions("alice")); err != nil || n != 1 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	if !live(t, old, id) {
		t.Error("a closed Manager's cache was reached")
	}
	cur.Close()
	if _, loaded := scopes.References(t.Name()); loaded { // twoPeers names the scope after the test
		t.Error("the scope outlived its last Manager")
	}
}

// twoPeers are two Managers of one scope on one shared store, each behind
// a cache of its own, as an old and a new config during a reload: a
// session of alice, id, made through cur is seen, and cached, by old.
func twoPeers(t *testing.T) (old, cur *Manager, clk *testclock.Clock, id string) {
	t.Helper()
	clk = testclock.New(clockStart)
	shared := memoryScope(t, 100)
	scope := t.Name()
	memo := func(o *Options) { o.Raw, o.MemoTTL, o.Scope = shared, time.Hour, scope }
	old = newManager(store.Cached(shared, time.Hour, 0), clk, memo)
	cur = newManager(store.Cached(shared, time.Hour, 0), clk, memo)
	id = mustCreate(t, cur, "alice")
	if !live(t, old, id) {
		t.Fatal("the old Manager does not see the session")
	}
	return old, cur, clk, id
}
