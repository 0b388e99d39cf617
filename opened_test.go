package caddysgid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// userSeen runs one request with cookie through h and returns the user id
// the next handler saw in the placeholders ("" for nobody).
func userSeen(t *testing.T, h *Handler, cookie *http.Cookie) string {
	t.Helper()
	var id string
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		id, _ = repl.GetString("http.auth.user.id")
		return nil
	})
	req := httptest.NewRequest(http.MethodGet, "/app", nil)
	req.AddCookie(cookie)
	serve(t, h, req, next)
	return id
}

// The opened sessions only spare the opening of a record: the store is
// read on every request, so a record changed or deleted behind the
// handler's back (another instance's logout) counts at once, exactly as
// without them.
func TestOpenedSessionsFollowTheStore(t *testing.T) {
	t.Parallel()
	h, cookie := benchHandler(t)
	ctx := context.Background()
	key := sessionKey(cookie.Value)
	first := userSeen(t, h, cookie)
	if first == "" {
		t.Fatal("the session was not recognised")
	}
	if h.opened.len() != 1 {
		t.Fatalf("%d sessions kept opened, want 1", h.opened.len())
	}
	// Another record under the same id, as a store shared with another
	// instance could hold: it is opened, not the one opened before.
	sealed, err := sealSession(cookie.Value, session{Sub: "sgidtest:other", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.Put(ctx, key, sealed, time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := userSeen(t, h, cookie); got != "sgidtest:other" {
		t.Fatalf("after the record changed the user is %q, want sgidtest:other (was %q)", got, first)
	}
	// The record deleted directly in the store, not through the handler.
	if err := h.store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if got := userSeen(t, h, cookie); got != "" {
		t.Fatalf("after the record was deleted the user is %q, want nobody", got)
	}
	if h.opened.len() != 0 {
		t.Errorf("%d sessions kept opened after the record was deleted, want 0", h.opened.len())
	}
}

// A session kept opened still ends at its expiry, and a logout through the
// handler forgets it.
func TestOpenedSessionsExpiryAndLogout(t *testing.T) {
	t.Parallel()
	h, cookie := benchHandler(t)
	if userSeen(t, h, cookie) == "" {
		t.Fatal("the session was not recognised")
	}
	h.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if got := userSeen(t, h, cookie); got != "" {
		t.Fatalf("past the session's expiry the user is %q, want nobody", got)
	}
	h.now = time.Now
	if userSeen(t, h, cookie) == "" {
		t.Fatal("the session was not recognised again")
	}
	if err := h.deleteSession(context.Background(), cookie.Value); err != nil {
		t.Fatal(err)
	}
	if h.opened.len() != 0 {
		t.Errorf("%d sessions kept opened after a logout, want 0", h.opened.len())
	}
}

// The memo is bounded in size and in time, and cache_ttl 0 keeps nothing.
func TestOpenedSessionsBounds(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newOpenedSessions(time.Minute, 3)
	for i := range 5 {
		c.put(string(rune('a'+i)), &openedSession{sealed: []byte{byte(i)}}, now)
	}
	if n := c.len(); n != 3 {
		t.Errorf("%d entries with a bound of 3", n)
	}
	if c.get("e", []byte{4}, now) == nil {
		t.Error("the last entry put is not found")
	}
	if c.get("e", []byte{5}, now) != nil {
		t.Error("an entry is found for other record bytes")
	}
	if c.get("e", []byte{4}, now.Add(time.Minute)) != nil {
		t.Error("an entry is found past its time")
	}
	// A put a ttl later sweeps the entries past their time.
	c.put("f", &openedSession{}, now.Add(time.Minute))
	if n := c.len(); n != 1 {
		t.Errorf("%d entries after the sweep, want 1", n)
	}

	off := newOpenedSessions(0, 3)
	if off != nil {
		t.Fatal("cache_ttl 0 keeps opened sessions")
	}
	off.put("a", &openedSession{}, now)
	if off.get("a", nil, now) != nil {
		t.Error("a nil memo returned an entry")
	}
	off.drop("a")
}
