package caddysgid

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func pendingWithState(state string) pendingLogin {
	return pendingLogin{State: state, Expires: time.Now().Add(time.Minute)}
}

func TestPendingLoginsSingleUseAndPerTab(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(10, 10)
	ctx := context.Background()
	for _, s := range []string{"tab1", "tab2", "tab3"} {
		st.AddPending(ctx, "browser", pendingWithState(s), 2)
	}
	// Only the newest two logins of one browser are kept.
	if _, err := st.TakePending(ctx, "browser", "tab1"); !errors.Is(err, errStateMismatch) {
		t.Errorf("oldest tab beyond the per-browser limit: %v", err)
	}
	if p, err := st.TakePending(ctx, "browser", "tab3"); err != nil || p.State != "tab3" {
		t.Fatalf("tab3: %v %v", p, err)
	}
	// Taken once only.
	if _, err := st.TakePending(ctx, "browser", "tab3"); !errors.Is(err, errStateMismatch) {
		t.Errorf("second take of tab3: %v", err)
	}
	if _, err := st.TakePending(ctx, "browser", "tab2"); err != nil {
		t.Errorf("tab2: %v", err)
	}
	// The slot is gone with its last login.
	if _, err := st.TakePending(ctx, "browser", "tab2"); !errors.Is(err, errNotFound) {
		t.Errorf("empty slot: %v", err)
	}
	if _, err := st.TakePending(ctx, "browser", ""); !errors.Is(err, errNotFound) {
		t.Errorf("empty state: %v", err)
	}
}

func TestStoreExpiry(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(10, 10)
	ctx := context.Background()
	st.AddPending(ctx, "b", pendingWithState("s"), 5)
	st.PutSession(ctx, "s", session{Sub: "u", Expires: time.Now().Add(time.Hour)})
	clock := time.Now().Add(2 * time.Minute)
	st.now = func() time.Time { return clock }
	if _, err := st.TakePending(ctx, "b", "s"); !errors.Is(err, errNotFound) {
		t.Errorf("expired pending login: %v", err)
	}
	if _, err := st.GetSession(ctx, "s"); err != nil {
		t.Errorf("live session: %v", err)
	}
	clock = clock.Add(time.Hour)
	st.sweep()
	if p, s := st.len(); p != 0 || s != 0 {
		t.Errorf("after sweep: %d pending, %d sessions; want none", p, s)
	}
}

// A flood of auth-url calls (new browsers, each a new slot) is bounded and
// never pushes out a logged-in user.
func TestFloodOfLoginsKeepsSessions(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(100, 100)
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		st.PutSession(ctx, fmt.Sprint("session", i), session{Sub: "u", Expires: time.Now().Add(time.Hour)})
	}
	for i := 0; i < 10_000; i++ {
		st.AddPending(ctx, fmt.Sprint("browser", i), pendingWithState("s"), 5)
	}
	pending, sessions := st.len()
	if pending != 100 {
		t.Errorf("%d pending logins, want the bound 100", pending)
	}
	if sessions != 50 {
		t.Errorf("%d sessions after the flood, want all 50", sessions)
	}
	// The newest logins survive the flood; the oldest were dropped.
	if _, err := st.TakePending(ctx, "browser9999", "s"); err != nil {
		t.Errorf("newest login: %v", err)
	}
	if _, err := st.TakePending(ctx, "browser0", "s"); !errors.Is(err, errNotFound) {
		t.Errorf("oldest login: %v", err)
	}
	// Sessions have their own bound.
	for i := 0; i < 150; i++ {
		st.PutSession(ctx, fmt.Sprint("more", i), session{Sub: "u", Expires: time.Now().Add(time.Hour)})
	}
	if _, sessions := st.len(); sessions != 100 {
		t.Errorf("%d sessions, want the bound 100", sessions)
	}
}

func TestDeleteSessionAndPending(t *testing.T) {
	t.Parallel()
	st := newMemoryStore(10, 10)
	ctx := context.Background()
	st.PutSession(ctx, "s", session{Sub: "u", Expires: time.Now().Add(time.Hour)})
	st.AddPending(ctx, "b", pendingWithState("x"), 5)
	st.DeleteSession(ctx, "s")
	st.DeletePending(ctx, "b")
	if _, err := st.GetSession(ctx, "s"); !errors.Is(err, errNotFound) {
		t.Errorf("deleted session: %v", err)
	}
	if _, err := st.TakePending(ctx, "b", "x"); !errors.Is(err, errNotFound) {
		t.Errorf("deleted pending: %v", err)
	}
}
