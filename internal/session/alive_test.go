package session

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// alive is Alive for a test that stops on a store error.
func alive(t *testing.T, m *Manager, id string) bool {
	t.Helper()
	ok, err := m.Alive(t.Context(), id)
	if err != nil {
		t.Fatalf("alive: %v", err)
	}
	return ok
}

func TestAlive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// end does something to the session of id, of the Manager m, or of
		// other, a second Manager on the same raw store (another instance).
		end  func(t *testing.T, m, other *Manager, clk *testclock.Clock, id string)
		want bool
	}{
		{"live", func(*testing.T, *Manager, *Manager, *testclock.Clock, string) {}, true},
		{"logged out here", func(t *testing.T, m, _ *Manager, _ *testclock.Clock, id string) {
			if err := m.endID(t.Context(), id); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"logged out on another instance", func(t *testing.T, _, other *Manager, _ *testclock.Clock, id string) {
			if err := other.endID(t.Context(), id); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"revoked on another instance", func(t *testing.T, _, other *Manager, _ *testclock.Clock, _ string) {
			if _, err := other.Revoke(t.Context(), UserSessions("u")); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"expired", func(_ *testing.T, _, _ *Manager, clk *testclock.Clock, _ string) { clk.Advance(2 * time.Hour) }, false},
		{"unknown id", func(*testing.T, *Manager, *Manager, *testclock.Clock, string) {}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := testclock.New(clockStart)
			raw := memoryScope(t, 100)
			// This instance reads through a cache that would keep serving
			// the session for a minute after another instance ended it.
			m := newManager(store.Cached(raw, time.Minute, 0), clk, func(o *Options) { o.Raw = raw })
			other := newManager(raw, clk, nil)
			id := mustCreate(t, m, "u")
			if !live(t, m, id) {
				t.Fatal("new session not found")
			}
			tc.end(t, m, other, clk, id)
			if tc.name == "unknown id" {
				id = NewID()
			}
			if got := alive(t, m, id); got != tc.want {
				t.Errorf("Alive = %v, want %v", got, tc.want)
			}
		})
	}
}

// Alive records no use: a session only checked by Alive idles out, and is
// ended (the Ended hook told) by the check that finds it idle.
func TestAliveRecordsNoUse(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	var ended atomic.Int64
	m := idleManager(memoryScope(t, 100), clk, 10*time.Minute, func(o *Options) {
		o.Hooks.Ended = func(string) { ended.Add(1) }
	})
	id := mustCreate(t, m, "u")
	// Checked every 3 minutes: Lookup would record a use each time, and
	// keep the session alive at 12 minutes; the timeout (10m, plus the
	// recording interval) counts from the login.
	for range 3 {
		clk.Advance(3 * time.Minute)
		if !alive(t, m, id) {
			t.Fatalf("ended %v after the login, before the idle timeout", clk.Now().Sub(clockStart))
		}
	}
	clk.Advance(3 * time.Minute)
	if alive(t, m, id) {
		t.Fatal("a session checked only by Alive outlived its idle timeout")
	}
	if ended.Load() != 1 {
		t.Errorf("Ended told %d times, want 1", ended.Load())
	}
	if live(t, m, id) {
		t.Error("Lookup still finds the session Alive found idle")
	}
}
