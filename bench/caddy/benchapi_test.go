package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/bench/scale"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/sessiontest"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// memoryTarget is a fresh memory store scope, held open for the test as a
// site holds its own.
func memoryTarget(t *testing.T) (scale.Target, store.Store) {
	t.Helper()
	tg := scale.Target{Store: json.RawMessage(`{"module":"memory","max_entries":10000}`), Scope: storetest.RandomKey(t)}
	st, release, err := open(tg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return tg, st
}

// call sends body to route h and decodes a 200 answer into out; it returns
// the status and the API error's message otherwise.
func call(t *testing.T, h caddy.AdminHandler, body any, out any) (int, string) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	err = h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/sgid-bench/x", bytes.NewReader(b)))
	if err != nil {
		var api caddy.APIError
		if !errors.As(err, &api) {
			t.Fatalf("error %v is not an API error", err)
		}
		return api.HTTPStatus, api.Err.Error()
	}
	if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
		t.Fatalf("answer %q: %v", w.Body, err)
	}
	return http.StatusOK, ""
}

var data = map[string]string{"myinfo.name": "TAN XIAO HUI"}

// A fill leaves sessions the site's manager finds by the ids the load
// generator derives, for the users and with the data asked for, filed in
// the users' index; filling the same sessions again fails.
func TestFill(t *testing.T) {
	tg, st := memoryTarget(t)
	req := scale.Fill{Target: tg, Seed: "s", From: 0, To: 50, PerUser: 2, Data: data,
		Lifetime: 12 * time.Hour, Spread: 11 * time.Hour, Concurrency: 4}
	var got scale.FillAnswer
	if status, msg := call(t, post(serveFill), req, &got); status != http.StatusOK || got.Created != 50 {
		t.Fatalf("fill: %d %s, %+v", status, msg, got)
	}
	m := manager(st)
	now := time.Now()
	for i := range 50 {
		o, err := sessiontest.Lookup(t.Context(), m, cookieName, scale.ID("s", i))
		if err != nil || o == nil {
			t.Fatalf("session %d: %v, %v", i, o, err)
		}
		s := o.Session
		if s.Sub != scale.Sub("s", i/2) || s.Data["myinfo.name"] != data["myinfo.name"] {
			t.Errorf("session %d: sub %q data %v", i, s.Sub, s.Data)
		}
		if s.Expires.Sub(s.Login) != 12*time.Hour || s.Expires.Before(now.Add(time.Hour-time.Minute)) || s.Login.After(now) {
			t.Errorf("session %d: login %s, expires %s", i, s.Login, s.Expires)
		}
	}
	if n, exact, err := m.Count(t.Context(), true); err != nil || !exact || n != 50 {
		t.Errorf("count %d %v %v, want 50 filed in the index", n, exact, err)
	}
	if status, msg := call(t, post(serveFill), req, &got); status != http.StatusInternalServerError || !strings.Contains(msg, "exists already") {
		t.Errorf("filling again: %d %q, want 500 exists already", status, msg)
	}
}

// slowStore takes its time over each Create, as a loaded machine does
// over a fill.
type slowStore struct {
	store.Store
	delay time.Duration
}

func (s slowStore) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	time.Sleep(s.delay)
	return s.Store.Create(ctx, key, value, ttl)
}

// A fill that takes longer than its sessions' lifetime (the expiry
// measure's sessions live a second) still makes every one, each living
// its lifetime from when it was made.
func TestFillLongerThanLifetime(t *testing.T) {
	_, st := memoryTarget(t)
	m := manager(slowStore{st, 30 * time.Millisecond})
	t0 := time.Now()
	n, err := fill(t.Context(), m, &scale.Fill{Seed: "slow", To: 8, PerUser: 1, Lifetime: 100 * time.Millisecond, Concurrency: 1})
	if err != nil || n != 8 {
		t.Fatalf("filled %d: %v", n, err)
	}
	if took := time.Since(t0); took < 200*time.Millisecond {
		t.Fatalf("the fill took %s, not longer than the lifetime", took)
	}
	o, err := sessiontest.Lookup(t.Context(), manager(st), cookieName, scale.ID("slow", 7))
	if err != nil || o == nil {
		t.Fatalf("the last session: %v, %v", o, err)
	}
}

func TestFillRefusals(t *testing.T) {
	tg, _ := memoryTarget(t)
	good := scale.Fill{Target: tg, Seed: "s", To: 1, PerUser: 1, Lifetime: time.Hour, Concurrency: 1}
	for _, tc := range []struct {
		name string
		edit func(*scale.Fill)
		want string
	}{
		{"no seed", func(f *scale.Fill) { f.Seed = "" }, "seed is empty"},
		{"no range", func(f *scale.Fill) { f.From = 2 }, "is no range"},
		{"no users", func(f *scale.Fill) { f.PerUser = 0 }, "per_user"},
		{"spread as long as the lifetime", func(f *scale.Fill) { f.Spread = time.Hour }, "spread < lifetime"},
		{"no concurrency", func(f *scale.Fill) { f.Concurrency = 0 }, "concurrency"},
		{"no store", func(f *scale.Fill) { f.Store = json.RawMessage(`{}`) }, "want {\"module\""},
		{"an unknown store", func(f *scale.Fill) { f.Store = json.RawMessage(`{"module":"nope"}`) }, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.edit(&f)
			var got scale.FillAnswer
			if status, msg := call(t, post(serveFill), f, &got); status != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
				t.Errorf("%d %q, want 400 with %q", status, msg, tc.want)
			}
		})
	}
	w := httptest.NewRecorder()
	err := post(serveFill).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/sgid-bench/fill", nil))
	var api caddy.APIError
	if !errors.As(err, &api) || api.HTTPStatus != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v, want 405", err)
	}
}

// A revocation ends the user's sessions only, and its answer counts the
// store calls it made: one read of the user's index, then for each
// session its ended mark, the removal of its last use and of its index
// entry.
func TestRevoke(t *testing.T) {
	tg, st := memoryTarget(t)
	var filled scale.FillAnswer
	if status, msg := call(t, post(serveFill), scale.Fill{Target: tg, Seed: "r", To: 6, PerUser: 3, Data: data,
		Lifetime: time.Hour, Concurrency: 2}, &filled); status != http.StatusOK {
		t.Fatalf("fill: %d %s", status, msg)
	}
	var got scale.RevokeAnswer
	if status, msg := call(t, post(serveRevoke), scale.Revoke{Target: tg, Sub: scale.Sub("r", 0)}, &got); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, msg)
	}
	want := map[string]int64{"Members": 1, "Put": 3, "Delete": 3, "RemoveMember": 3}
	if got.Ended != 3 || len(got.Calls) != len(want) {
		t.Fatalf("ended %d, calls %v; want 3 and %v", got.Ended, got.Calls, want)
	}
	for op, n := range want {
		if got.Calls[op] != n {
			t.Errorf("calls %v, want %v", got.Calls, want)
		}
	}
	m := manager(st)
	for i := range 6 {
		o, err := sessiontest.Lookup(t.Context(), m, cookieName, scale.ID("r", i))
		if err != nil || (o != nil) != (i >= 3) {
			t.Errorf("session %d after revoking user 0: %v, %v", i, o, err)
		}
	}
}

// Expired sessions leave the memory store; the answer says how long the
// write and the count took.
func TestExpire(t *testing.T) {
	tg, _ := memoryTarget(t)
	var got scale.ExpireAnswer
	if status, msg := call(t, post(serveExpire), scale.Expire{Target: tg, Seed: "e", Count: 20, TTL: 100 * time.Millisecond, Data: data}, &got); status != http.StatusOK {
		t.Fatalf("expire: %d %s", status, msg)
	}
	if got.Before != 0 || got.After != 0 || got.PutSeconds <= 0 || got.SweepSeconds <= 0 {
		t.Errorf("%+v, want no session before or after, and times", got)
	}
	if status, _ := call(t, post(serveExpire), scale.Expire{Target: tg, Seed: "e", Count: 1, TTL: time.Millisecond}, &got); status != http.StatusBadRequest {
		t.Errorf("a ttl of 1ms: %d, want 400", status)
	}
}
