package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// TestLogoutEverywhereReachesPeers: logging out everywhere also drops the
// cached copies that the other live handlers of the scope (an older config
// during a reload) hold of the user's sessions; a handler already cleaned
// up is not reached. The handlers of one scope find each other through
// their session managers, without the admin registry.
func TestLogoutEverywhereReachesPeers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		registered bool
		wantLive   bool // whether the older handler still serves the session
	}{
		{"a live peer", true, false},
		{"a peer cleaned up", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := memoryScope(t)
			scope := "peers-" + t.Name()
			older := unitHandler(t, &Handler{scope: scope}, store.Cached(raw, time.Hour, 0), nil)
			newer := unitHandler(t, &Handler{scope: scope}, raw, nil)
			if !tc.registered {
				// As the older config's Cleanup does.
				older.sessions.Close()
			}
			s := session.Session{Sub: "alice", Expires: time.Now().Add(time.Hour)}
			here, there := putTestSession(t, newer, s), putTestSession(t, newer, s)
			if o, err := lookupID(t, older, there); err != nil || o == nil {
				t.Fatalf("the older handler does not see the session: %v", err)
			}

			req := withReplacer(httptest.NewRequest(http.MethodPost, DefaultLogoutPath+"?everywhere=1", nil))
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: here})
			w := httptest.NewRecorder()
			if err := newer.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusOK {
				t.Fatalf("logout everywhere: %d %v", w.Code, err)
			}
			o, err := lookupID(t, older, there)
			if err != nil || (o != nil) != tc.wantLive {
				t.Errorf("the older handler serves the ended session: %v (%v), want %v", o != nil, err, tc.wantLive)
			}
		})
	}
}
