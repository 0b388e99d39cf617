package sites

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// TestAdminRefusals: calls the admin API cannot act on get the status and
// text they always had, and end nothing.
func TestAdminRefusals(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxSubLen+1)
	for _, tc := range []struct {
		name, method, target string
		status               int
		allow, err           string
	}{
		{"unknown path", http.MethodGet, "/sgid/other", http.StatusNotFound, "", "resource not found: /sgid/other"},
		{"sessions with another method", http.MethodPost, "/sgid/sessions", http.StatusMethodNotAllowed, "GET, DELETE", "method not allowed: POST"},
		{"health with another method", http.MethodPost, "/sgid/health", http.StatusMethodNotAllowed, "GET", "method not allowed: POST"},
		{"neither sub nor confirm", http.MethodDelete, "/sgid/sessions", http.StatusBadRequest, "",
			"give sub=<sub> to end a user's sessions, or confirm=all-sessions to end every session"},
		{"a wrong confirmation", http.MethodDelete, "/sgid/sessions?confirm=yes", http.StatusBadRequest, "",
			"give sub=<sub> to end a user's sessions, or confirm=all-sessions to end every session"},
		{"both sub and confirm", http.MethodDelete, "/sgid/sessions?sub=alice&confirm=all-sessions", http.StatusBadRequest, "",
			"give either sub or confirm, not both"},
		{"empty sub", http.MethodDelete, "/sgid/sessions?sub=", http.StatusBadRequest, "", "sub must be 1 to 256 bytes"},
		{"sub too long", http.MethodDelete, "/sgid/sessions?sub=" + long, http.StatusBadRequest, "", "sub must be 1 to 256 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			var reg Registry
			m := newManager(t, nil, nil)
			reg.Register(Site{Scope: "s", Server: "srv", Sessions: m, Hooks: rec.hooks()})
			id := putSession(t, m, "alice")
			status, w, msg := call(t, &reg, tc.method, tc.target)
			if status != tc.status || msg != tc.err {
				t.Errorf("%d %q, want %d %q", status, msg, tc.status, tc.err)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if !live(t, m, id) || len(rec.revoked) != 0 {
				t.Errorf("a refused call ended sessions (revoked %v)", rec.revoked)
			}
		})
	}
}

// adminAnswer is the JSON of /sgid/sessions.
type adminAnswer struct {
	Ended *int           `json:"ended"`
	Sites []siteSessions `json:"sites"`
}

// TestAdminSessions: GET counts the sessions of every scope once, DELETE
// ends one user's sessions (a sub of the longest length too) or, with the
// confirmation, every session, in every scope, through the newest site of
// each; the older sites of a scope drop their cached copies, and the
// sessions ended are told under the scope's first server.
func TestAdminSessions(t *testing.T) {
	t.Parallel()
	longSub := strings.Repeat("y", maxSubLen)
	for _, tc := range []struct {
		name, target string
		ended        map[string]int // by first server; absent for GET
		counts       map[string]int // by first server, after the call
		aliceEnded   bool           // alice's sessions in scope a
	}{
		{"count", "/sgid/sessions", nil, map[string]int{"a1": 4, "b": 1}, false},
		{"one user", "/sgid/sessions?sub=alice", map[string]int{"a1": 2, "b": 1}, map[string]int{"a1": 2, "b": 0}, true},
		{"the longest sub", "/sgid/sessions?sub=" + longSub, map[string]int{"a1": 1, "b": 0}, map[string]int{"a1": 3, "b": 1}, false},
		{"a user without sessions", "/sgid/sessions?sub=carol", map[string]int{"a1": 0, "b": 0}, map[string]int{"a1": 4, "b": 1}, false},
		{"everyone", "/sgid/sessions?confirm=all-sessions", map[string]int{"a1": 4, "b": 1}, map[string]int{"a1": 0, "b": 0}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The older site's hooks are told nothing: a call acts, and
			// tells, through the newest site of a scope.
			rec, stale := newRecorder(), newRecorder()
			var reg Registry
			// Scope a: an older config reading through a cache, and the
			// newer one on the same records, served by two servers.
			rawA := memoryScope(t)
			older := newScopedManager(t, store.Cached(rawA, time.Hour, 0), rawA, t.Name())
			newer := newScopedManager(t, rawA, nil, t.Name())
			reg.Register(Site{Scope: "a", Server: "a2", Sessions: older, Hooks: stale.hooks()})
			reg.Register(Site{Scope: "a", Server: "a1", Sessions: newer, Hooks: rec.hooks()})
			b := newManager(t, nil, nil)
			reg.Register(Site{Scope: "b", Server: "b", Sessions: b, Hooks: rec.hooks()})
			alice := []string{putSession(t, newer, "alice"), putSession(t, newer, "alice")}
			putSession(t, newer, "bob")
			putSession(t, newer, longSub)
			putSession(t, b, "alice")
			for _, id := range alice {
				if !live(t, older, id) {
					t.Fatal("the older site does not see a session")
				}
			}

			method := http.MethodDelete
			if tc.ended == nil {
				method = http.MethodGet
			}
			status, w, msg := call(t, &reg, method, tc.target)
			if status != http.StatusOK || msg != "" || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q (%s), want 200 JSON", status, msg, w.Header().Get("Content-Type"))
			}
			var got adminAnswer
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Sites) != 2 || got.Sites[0].Scope != "a" || !reflect.DeepEqual(got.Sites[0].Servers, []string{"a1", "a2"}) ||
				got.Sites[1].Scope != "b" || !reflect.DeepEqual(got.Sites[1].Servers, []string{"b"}) {
				t.Fatalf("sites %s", w.Body)
			}
			if tc.ended == nil {
				for i, srv := range []string{"a1", "b"} {
					s := got.Sites[i]
					if s.Sessions == nil || *s.Sessions != tc.counts[srv] || s.Exact == nil || !*s.Exact || s.Ended != nil || got.Ended != nil {
						t.Errorf("%s: %s, want %d sessions, exact", srv, w.Body, tc.counts[srv])
					}
				}
				return
			}
			total := 0
			for i, srv := range []string{"a1", "b"} {
				s := got.Sites[i]
				if s.Ended == nil || *s.Ended != tc.ended[srv] || s.Sessions != nil {
					t.Errorf("%s: %s, want %d ended", srv, w.Body, tc.ended[srv])
				}
				total += tc.ended[srv]
				if rec.revoked[srv] != tc.ended[srv] {
					t.Errorf("told %v, want %d ended under %s", rec.revoked, tc.ended[srv], srv)
				}
			}
			if got.Ended == nil || *got.Ended != total {
				t.Errorf("%s, want %d ended in all", w.Body, total)
			}
			if len(rec.revoked) != 2 {
				t.Errorf("told %v, want the first servers only", rec.revoked)
			}
			if len(stale.revoked) != 0 {
				t.Errorf("the older site's hooks were told %v, want nothing", stale.revoked)
			}
			for _, id := range alice {
				if live(t, older, id) == tc.aliceEnded {
					t.Errorf("the older site sees alice's session: %v, want %v", !tc.aliceEnded, !tc.aliceEnded)
				}
			}
			for srv, m := range map[string]*session.Manager{"a1": newer, "b": b} {
				if n, _, err := m.Count(t.Context(), true); err != nil || n != tc.counts[srv] {
					t.Errorf("%s holds %d sessions (%v) after the call, want %d", srv, n, err, tc.counts[srv])
				}
			}
		})
	}
}

// TestAdminStoreFailure: a store that fails during a call gets a 503
// naming the scope's servers and the store's error, never a sub.
func TestAdminStoreFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, target, err string
	}{
		{"count", http.MethodGet, "/sgid/sessions", "counting in the session store of [x y]: store unreachable"},
		{"one user", http.MethodDelete, "/sgid/sessions?sub=alice",
			"ending sessions in the session store of [x y]: loading the session index key: store unreachable"},
		{"everyone", http.MethodDelete, "/sgid/sessions?confirm=all-sessions", "ending sessions in the session store of [x y]: store unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var reg Registry
			reg.Register(Site{Scope: "s", Server: "y", Sessions: newManager(t, failingStore{}, nil)})
			reg.Register(Site{Scope: "s", Server: "x", Sessions: newManager(t, failingStore{}, nil)})
			status, w, msg := call(t, &reg, tc.method, tc.target)
			if status != http.StatusServiceUnavailable || msg != tc.err || w.Body.Len() != 0 {
				t.Errorf("%d %q %q, want 503 %q", status, msg, w.Body, tc.err)
			}
		})
	}
}

// TestStoreAPIErrorKeepsTheCause: the admin API's error for a failing
// store wraps the store's error, for errors.Is.
func TestStoreAPIErrorKeepsTheCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("store unreachable")
	var apiErr caddy.APIError
	if err := storeAPIError(&group{servers: []string{"x"}}, "counting", cause); !errors.As(err, &apiErr) || !errors.Is(apiErr.Err, cause) {
		t.Errorf("storeAPIError = %v, want a caddy.APIError wrapping the store's error", err)
	}
}
