package session

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

var testSecret = bytes.Repeat([]byte("s"), 32)

// TestIndexKeysSetsWithAKeyedHash: a user's set is named
// HMAC-SHA256(index key, sub), never the sub; the index key is created once
// in the store (two Managers on one store agree), differs between stores,
// and comes from the secret when one is set.
func TestIndexKeysSetsWithAKeyedHash(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	const sub = "u=RE7OB1Y7UN2Y"
	st := memoryScope(t, 100)
	mustCreate(t, newManager(st, clk, nil), sub)
	sets, err := st.Sets(t.Context())
	if err != nil || len(sets) != 1 {
		t.Fatalf("sets = %q, %v; want one", sets, err)
	}
	key, err := st.Get(t.Context(), indexKeyName)
	if err != nil || len(key) != 32 {
		t.Fatalf("stored index key: %d bytes, %v", len(key), err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sub))
	if want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); sets[0] != want {
		t.Fatalf("set name %q, want HMAC-SHA256(index key, sub) %q", sets[0], want)
	}
	setOf := func(st store.Store, secret []byte) string {
		t.Helper()
		name, err := newManager(st, clk, func(o *Options) { o.Secret = secret }).index.set(t.Context(), sub)
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	for _, tc := range []struct {
		name  string
		got   string
		equal bool
	}{
		{"another Manager on the same store", setOf(st, nil), true},
		{"another store", setOf(memoryScope(t, 100), nil), false},
		{"a secret", setOf(memoryScope(t, 100), testSecret), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.got == sets[0]) != tc.equal {
				t.Fatalf("set name %q against the first %q: want equal %v", tc.got, sets[0], tc.equal)
			}
		})
	}
	if a, b := setOf(memoryScope(t, 100), testSecret), setOf(memoryScope(t, 100), testSecret); a != b {
		t.Errorf("with one secret: set names %q and %q on two stores, want them equal", a, b)
	}
	if a, b := setOf(memoryScope(t, 100), testSecret), setOf(memoryScope(t, 100), []byte("another secret")); a == b {
		t.Errorf("two secrets name the set alike: %q", a)
	}
}

// TestIndexKeyLost: when the stored index key is gone while sets with live
// members remain, no new key is made (it would name every set anew and
// revocation would miss the old sessions): filing and revoking a user fail
// with ErrIndexKeyLost and StoreFailed is told. Revoke of all sessions needs no key and
// ends the old sessions, after which a new key is made.
func TestIndexKeyLost(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := memoryScope(t, 100)
	first := newManager(st, clk, nil)
	old := []string{mustCreate(t, first, "alice"), mustCreate(t, first, "bob")}
	if err := st.Delete(t.Context(), indexKeyName); err != nil {
		t.Fatal(err)
	}
	var told []error
	m := newManager(st, clk, func(o *Options) {
		o.Hooks.StoreFailed = func(_ context.Context, op string, err error) {
			if op != "index" {
				t.Errorf("StoreFailed told op %q, want index", op)
			}
			told = append(told, err)
		}
	})
	id := NewID()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Create", func() error {
			_, err := m.create(t.Context(), id, Session{Sub: "carol", Expires: clk.Now().Add(time.Hour)}, "")
			return err
		}},
		{"revoke a user", func() error { _, err := m.Revoke(t.Context(), UserSessions("alice")); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			told = nil
			if err := tc.call(); !errors.Is(err, ErrIndexKeyLost) {
				t.Fatalf("got %v, want ErrIndexKeyLost", err)
			}
			if len(told) != 1 || !errors.Is(told[0], ErrIndexKeyLost) {
				t.Fatalf("StoreFailed told %v, want ErrIndexKeyLost once", told)
			}
		})
	}
	if _, err := st.Get(t.Context(), indexKeyName); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a new index key was stored while old sets remain: %v", err)
	}
	if finished, _ := m.finished(t.Context(), id); finished {
		t.Fatal("the session that could not be filed was left in the store")
	}
	for _, id := range old {
		if !live(t, m, id) {
			t.Fatal("an old session ended without a revocation")
		}
	}

	if n, err := m.Revoke(t.Context(), AllSessions()); err != nil || n != 2 {
		t.Fatalf("revoking all with the key lost ended %d, %v; want 2", n, err)
	}
	for _, id := range old {
		if live(t, m, id) {
			t.Fatal("an old session outlived revoking all")
		}
	}
	carol := mustCreate(t, m, "carol")
	if _, err := st.Get(t.Context(), indexKeyName); err != nil {
		t.Fatalf("no new index key after the old sets were emptied: %v", err)
	}
	if n, err := m.Revoke(t.Context(), UserSessions("carol")); err != nil || n != 1 || live(t, m, carol) {
		t.Fatalf("revocation under the new key ended %d, %v", n, err)
	}
}

// TestIndexKeyFromSecret: with a secret the index key is derived from it
// and nothing named indexkey is ever stored, so the key cannot be lost: a
// fresh Manager with the same secret finds and revokes the sessions an
// earlier one filed.
func TestIndexKeyFromSecret(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := spy(memoryScope(t, 100))
	withSecret := func(o *Options) { o.Secret = testSecret }
	first := newManager(st, clk, withSecret)
	a1, a2 := mustCreate(t, first, "alice"), mustCreate(t, first, "alice")
	if _, err := first.Revoke(t.Context(), UserSessions("nobody")); err != nil {
		t.Fatal(err)
	}
	if _, ok := st.lastWrite(indexKeyName); ok {
		t.Fatal("an index key was written to the store although a secret is set")
	}
	if _, err := st.Get(t.Context(), indexKeyName); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the store holds an index key although a secret is set: %v", err)
	}
	fresh := newManager(st, clk, withSecret)
	if n, err := fresh.Revoke(t.Context(), UserSessions("alice")); err != nil || n != 2 {
		t.Fatalf("a fresh Manager with the secret ended %d, %v; want 2", n, err)
	}
	if live(t, fresh, a1) || live(t, fresh, a2) {
		t.Fatal("a revoked session is still found")
	}
}
