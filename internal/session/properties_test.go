package session

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// TestSecretKeepsKeysOutOfTheStore: with a secret, whoever reads the store
// finds no key material: after logins are sealed and opened and sessions
// are created, used, ended and revoked, the store holds no sealing key and
// no index key, every key written is a session's or its last use's, and no
// value holds the index key.
func TestSecretKeepsKeysOutOfTheStore(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	m := newManager(st, clk, func(o *Options) {
		o.Secret = testSecret
		o.IdleTimeout = time.Hour
	})
	ctx := t.Context()
	var ids []string
	for i := range 3 {
		got := mustSealOpen(t, m, "state")
		if created, err := m.create(ctx, got.SessionID, Session{Sub: "alice", Data: map[string]string{"n": "v"}, Expires: clk.Now().Add(3 * time.Hour)}, ""); err != nil || !created {
			t.Fatalf("create %d: %v, %v", i, created, err)
		}
		ids = append(ids, got.SessionID)
	}
	clk.Advance(2 * time.Minute) // due a last-use write
	if !live(t, m, ids[0]) {
		t.Fatal("the session is not found")
	}
	if err := m.endID(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Revoke(ctx, UserSessions("nobody")); err != nil {
		t.Fatal(err)
	}
	if len(st.keys()) == 0 {
		t.Fatal("nothing was written; the test proves nothing")
	}

	epoch := m.keys.epoch(clk.Now())
	for _, name := range []string{indexKeyName, sealKeyName(epoch - 1), sealKeyName(epoch), sealKeyName(epoch + 1)} {
		if _, err := st.Get(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the store holds %s: %v", name, err)
		}
	}
	sessionKeys := map[string]bool{}
	for _, id := range ids {
		sessionKeys[Key(id)] = true
		sessionKeys[seenKey(Key(id))] = true
	}
	indexKey, err := m.index.loadKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range st.keys() {
		if !sessionKeys[key] {
			t.Errorf("a value was stored under %q, which is neither a session's nor its last use's", key)
		}
		if w, _ := st.lastWrite(key); bytes.Contains(w.value, indexKey) || bytes.Contains(w.value, testSecret) {
			t.Errorf("the value under %q holds key material", key)
		}
	}
}

// sealKeyName is the store key of epoch e's sealing key.
func sealKeyName(e uint64) string { return "sealkey-" + strconv.FormatUint(e, 10) }

// junkLogins are values a browser or an attacker may send as a login
// cookie: none of them sealed by the Manager, several with a well-formed
// header naming an epoch the keyring accepts.
func junkLogins(t *testing.T, m *Manager, real string) []string {
	t.Helper()
	cur := m.keys.epoch(m.now())
	header := func(e uint64) []byte { return binary.AppendUvarint([]byte{binaryLogin}, e) }
	withBody := func(h []byte, n int) string {
		b := make([]byte, n)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(append(h, b...))
	}
	out := []string{"", "x", "!!!", real[:len(real)-4], real[:6], "A" + real}
	for _, e := range []uint64{cur - 1, cur, cur + 1, cur + 2, 0} {
		for _, n := range []int{0, 10, 28, 29, 100} {
			out = append(out, withBody(header(e), n))
		}
	}
	for range 20 {
		out = append(out, withBody(nil, 60))
	}
	return out
}

// TestFloodWritesNothing: requests an attacker can send at will (session
// cookies that name no session, junk login cookies, authentic logins for
// another state, checks whether a login finished) cause no store write
// with a secret; with the keys in the store, at most the key of each
// epoch the keyring accepts, once.
func TestFloodWritesNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		secret []byte
	}{
		{"keys in the store", nil},
		{"keys from a secret", testSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := testclock.New(clockStart)
			clk.Advance(5 * time.Minute) // within the grace of the previous epoch
			st := spy(memoryScope(t, 1000))
			m := newManager(st, clk, func(o *Options) {
				o.Secret = tc.secret
				o.IdleTimeout = time.Hour
				o.MemoTTL = time.Minute
			})
			ctx := t.Context()
			kept := mustCreate(t, m, "alice")
			// A real login, sealed as auth-url does: the first one makes
			// the epoch's key when the keys live in the store.
			real, err := m.sealLogin(ctx, "c", testLogin("state"))
			if err != nil {
				t.Fatal(err)
			}
			flood := func() {
				t.Helper()
				for range 20 {
					for _, id := range []string{NewID(), "junk", "", Key(kept), kept[:42] + "!"} {
						if o, err := m.lookup(ctx, id, Used); o != nil || err != nil {
							t.Fatalf("Lookup(%q) = %+v, %v", id, o, err)
						}
						if finished, err := m.finished(ctx, id); finished || err != nil {
							t.Fatalf("Finished(%q) = %v, %v", id, finished, err)
						}
					}
				}
				for _, v := range junkLogins(t, m, real) {
					if _, err := m.openLogin(ctx, "c", v, "state"); !errors.Is(err, ErrLoginInvalid) && !errors.Is(err, ErrLoginExpired) {
						t.Fatalf("OpenLogin(%q) = %v, want a refusal", v, err)
					}
					if _, err := m.peekLogin(ctx, "c", v); err == nil {
						t.Fatalf("PeekLogin(%q) accepted junk", v)
					}
				}
				for range 100 {
					if _, err := m.openLogin(ctx, "c", real, "another state"); !errors.Is(err, ErrLoginInvalid) {
						t.Fatalf("a login for another state: %v", err)
					}
				}
			}
			before, earlier := st.writes.Load(), map[string]bool{}
			for _, key := range st.keys() {
				earlier[key] = true
			}
			flood()
			// Without a secret, a junk login naming an epoch the keyring
			// accepts but no login was sealed in makes that epoch's key, as
			// the first login of the epoch would have: at most once per
			// accepted epoch, and never anything else.
			cur := m.keys.epoch(clk.Now())
			allowed := map[string]bool{}
			if tc.secret == nil {
				allowed[sealKeyName(cur-1)], allowed[sealKeyName(cur+1)] = true, true
			}
			if n := st.writes.Load() - before; n > int64(len(allowed)) {
				t.Fatalf("the first flood made %d store writes, want at most %d", n, len(allowed))
			}
			for _, key := range st.keys() {
				if !earlier[key] && !allowed[key] {
					t.Errorf("the flood wrote %q", key)
				}
			}
			before = st.writes.Load()
			flood()
			if n := st.writes.Load() - before; n != 0 {
				t.Fatalf("a second flood made %d store writes, want 0", n)
			}
			if !live(t, m, kept) {
				t.Fatal("the live session is gone")
			}
		})
	}
}

// TestLoginsEvictNoSession: starting and checking logins costs the store
// nothing, so in a memory store bounded to 40 records, 100 logins sealed,
// opened and checked (Finished) evict no live session.
func TestLoginsEvictNoSession(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 40), clk, nil)
	ctx := t.Context()
	id := mustCreate(t, m, "alice")
	for i := range 100 {
		got := mustSealOpen(t, m, "state")
		if finished, err := m.finished(ctx, got.SessionID); err != nil || finished {
			t.Fatalf("login %d: Finished = %v, %v; want false", i, finished, err)
		}
	}
	if !live(t, m, id) {
		t.Fatal("100 logins evicted the live session")
	}
	if n := count(t, m); n != 1 {
		t.Fatalf("count = %d, want 1", n)
	}
}

// mustSealOpen seals a fresh login of state for the cookie "c" and opens it
// again, as auth-url and the callback do.
func mustSealOpen(t *testing.T, m *Manager, state string) Login {
	t.Helper()
	v, err := m.sealLogin(t.Context(), "c", testLogin(state))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.openLogin(t.Context(), "c", v, state)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
