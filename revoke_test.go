package caddysgid

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// storageScope opens a fresh scope of the storage store on Caddy's file
// system storage in a temporary folder.
func storageScope(t *testing.T) store.Store {
	t.Helper()
	root, err := caddy.ProvisionContext(&caddy.Config{
		StorageRaw: json.RawMessage(fmt.Sprintf(`{"module":"file_system","root":%q}`, t.TempDir())),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(root)
	t.Cleanup(cancel)
	b := new(store.Storage)
	if err := b.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := b.Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func mustPutSession(t *testing.T, h *Handler, sub string) string {
	t.Helper()
	id, err := h.putSession(t.Context(), session{Sub: sub, Expires: h.now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestIndexKeysSetsWithAKeyedHash: a user's set is named
// HMAC-SHA256(index key, sub), never the sub; the index key is created once
// in the store (two handlers on one store agree), differs between stores,
// and comes from sealing_key when that is set.
func TestIndexKeysSetsWithAKeyedHash(t *testing.T) {
	clk := newTestClock()
	const sub = "u=RE7OB1Y7UN2Y"
	st := memoryScope(t)
	h := idleHandler(t, st, clk, 0)
	mustPutSession(t, h, sub)
	sets, err := st.Sets(t.Context())
	if err != nil || len(sets) != 1 {
		t.Fatalf("sets = %q, %v; want one", sets, err)
	}
	key, err := st.Get(t.Context(), "indexkey")
	if err != nil || len(key) != 32 {
		t.Fatalf("stored index key: %d bytes, %v", len(key), err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sub))
	if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); sets[0] != want {
		t.Fatalf("set name %q, want HMAC-SHA256(index key, sub) %q", sets[0], want)
	}
	same, _ := idleHandler(t, st, clk, 0).index.set(t.Context(), sub)
	other, _ := idleHandler(t, memoryScope(t), clk, 0).index.set(t.Context(), sub)
	if same != sets[0] || other == sets[0] {
		t.Errorf("set names: first %q, same store %q, another store %q; want the first two equal and the third apart", sets[0], same, other)
	}
	withSecret := func() string {
		x := newSessionIndex(memoryScope(t), bytes.Repeat([]byte("s"), 32))
		name, err := x.set(t.Context(), sub)
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	if a, b := withSecret(), withSecret(); a != b || a == sets[0] {
		t.Errorf("with sealing_key: set names %q and %q on two stores, want them equal (and apart from %q)", a, b, sets[0])
	}
}

// TestRevokeSub ends every session of one user and no other, counts them,
// and leaves a count of what remains.
func TestRevokeSub(t *testing.T) {
	for name, open := range map[string]func(*testing.T) store.Store{"memory": memoryScope, "storage": storageScope} {
		t.Run(name, func(t *testing.T) {
			clk := newTestClock()
			h := idleHandler(t, open(t), clk, 0)
			a1, a2 := mustPutSession(t, h, "alice"), mustPutSession(t, h, "alice")
			b := mustPutSession(t, h, "bob")
			if n, _, err := h.countSessions(t.Context()); err != nil || n != 3 {
				t.Fatalf("count = %d, %v; want 3", n, err)
			}
			n, err := h.revokeSub(t.Context(), "alice", nil)
			if err != nil || n != 2 {
				t.Fatalf("revoking alice ended %d, %v; want 2", n, err)
			}
			if loggedIn(t, h, a1) || loggedIn(t, h, a2) {
				t.Error("a revoked session is still accepted")
			}
			if !loggedIn(t, h, b) {
				t.Error("revoking alice ended bob's session")
			}
			if n, err := h.revokeSub(t.Context(), "alice", nil); err != nil || n != 0 {
				t.Errorf("revoking alice again ended %d, %v; want 0", n, err)
			}
			if n, _, _ := h.countSessions(t.Context()); n != 1 {
				t.Errorf("count after the revocation = %d, want 1", n)
			}
			if n, err := h.revokeAll(t.Context(), nil); err != nil || n != 1 {
				t.Errorf("revoking all ended %d, %v; want 1", n, err)
			}
			if loggedIn(t, h, b) {
				t.Error("bob's session outlived revoking all")
			}
		})
	}
}

// TestLogoutLeavesTheIndex: a session ended at the logout route leaves its
// user's index, so the counts do not include it. The storage store keeps
// set members apart from records, so only the handler can take it out.
func TestLogoutLeavesTheIndex(t *testing.T) {
	clk := newTestClock()
	h := idleHandler(t, storageScope(t), clk, 0)
	id := mustPutSession(t, h, "alice")
	mustPutSession(t, h, "alice")
	if err := h.deleteSession(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := h.countSessions(t.Context()); n != 1 {
		t.Errorf("count after a logout = %d, want 1", n)
	}
	if n, _ := h.revokeSub(t.Context(), "alice", nil); n != 1 {
		t.Errorf("revocation after a logout ended %d, want 1", n)
	}
}

// TestRevokeReachesPeerCaches: during a reload the old config's handler
// has its own cache in front of the shared store; a revocation made
// through the new config drops the session from that cache too, rather
// than leaving the old handler to serve it for cache_ttl.
func TestRevokeReachesPeerCaches(t *testing.T) {
	clk := newTestClock()
	shared := memoryScope(t)
	old := idleHandler(t, store.Cached(shared, time.Hour, 0), clk, 0)
	cur := idleHandler(t, store.Cached(shared, time.Hour, 0), clk, 0)
	id := mustPutSession(t, cur, "alice")
	if !loggedIn(t, old, id) {
		t.Fatal("the old handler does not see the session")
	}
	if n, err := cur.revokeSub(t.Context(), "alice", []*Handler{old}); err != nil || n != 1 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	if loggedIn(t, old, id) {
		t.Error("the old handler's cache still serves the revoked session")
	}
}

// TestLoginFailsWithoutIndex: a session that could not be filed in the
// index could not be revoked, so the login fails and leaves no session.
func TestLoginFailsWithoutIndex(t *testing.T) {
	clk := newTestClock()
	st := &failingIndex{Store: memoryScope(t)}
	h := idleHandler(t, st, clk, 0)
	if _, err := h.putSession(t.Context(), session{Sub: "alice", Expires: clk.now().Add(time.Hour)}); err == nil {
		t.Fatal("putSession succeeded without an index entry")
	}
	if st.put == "" {
		t.Fatal("the record was never written; the test proves nothing")
	}
	if _, err := st.Get(t.Context(), st.put); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the session record was left in the store: %v", err)
	}
}

// failingIndex is a store whose index cannot be written; it remembers the
// last key put.
type failingIndex struct {
	store.Store
	put string
}

func (s *failingIndex) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.put = key
	return s.Store.Put(ctx, key, value, ttl)
}

func (s *failingIndex) AddMember(context.Context, string, string, time.Duration) error {
	return errors.New("index unavailable")
}

// TestEvictionsAreCounted: sessions the memory store drops at max_entries
// are counted under the handler's site; key material it keeps is not a
// session and is not counted.
func TestEvictionsAreCounted(t *testing.T) {
	clk := newTestClock()
	st, err := (&store.Memory{MaxEntries: 4}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := idleHandler(t, st, clk, 0)
	h.site = "unit-" + t.Name()
	h.watchEvictions()
	// The index key takes one place; three sessions fill the rest.
	for range 3 {
		mustPutSession(t, h, "alice")
	}
	if got := counterValue(t, evictionsTotal, h.site); got != 0 {
		t.Fatalf("evictions before the bound: %v", got)
	}
	for range 2 {
		mustPutSession(t, h, "bob")
	}
	if got := counterValue(t, evictionsTotal, h.site); got != 2 {
		t.Errorf("evictions counted %v, want 2", got)
	}
	if n, exact, _ := h.countSessions(t.Context()); n != 3 || !exact {
		t.Errorf("count = %d (exact %v), want 3 exact", n, exact)
	}
}
