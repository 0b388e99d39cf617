package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// Logging out everywhere ends every session of the user, in every
// browser, and no other user's.
func TestLogoutEverywhere(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "store memory")
	personas := e.provider.Personas()
	alice, bob := personas[0].Sub, personas[1].Sub
	var alices []*browser
	for range 2 {
		b := newBrowser(t)
		b.login("")
		alices = append(alices, b)
	}
	if err := e.provider.SelectPersona(bob); err != nil {
		t.Fatal(err)
	}
	bobs := newBrowser(t)
	bobs.login("")
	for i, b := range append(alices, bobs) {
		if status, info, _ := b.userinfo(); status != http.StatusOK || info["sub"] != []string{alice, alice, bob}[i] {
			t.Fatalf("browser %d before: %d %v", i, status, info["sub"])
		}
	}

	req, _ := http.NewRequest(http.MethodPost, testOrigin+"/api/logout?everywhere=1", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, body := alices[0].do(req)
	if resp.StatusCode != http.StatusOK || body != `{"ended":2}` {
		t.Fatalf("logout everywhere: %d %s, want 200 {\"ended\":2}", resp.StatusCode, body)
	}
	for i, b := range alices {
		if status, _, body := b.userinfo(); status != http.StatusUnauthorized {
			t.Errorf("alice's browser %d after logging out everywhere: %d %s", i, status, body)
		}
	}
	if status, info, _ := bobs.userinfo(); status != http.StatusOK || info["sub"] != bob {
		t.Errorf("bob after alice logged out everywhere: %d %v", status, info["sub"])
	}
	if c := alices[0].cookie(DefaultCookieName); c != nil {
		t.Errorf("the session cookie was kept: %v", c)
	}
}

// Logging out everywhere takes POST with everywhere=1 from this site;
// anything else is refused and ends nothing.
func TestLogoutEverywhereRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, query, site string
		want                      int
		wantAllow                 string
	}{
		{"GET", http.MethodGet, "everywhere=1", "same-origin", http.StatusMethodNotAllowed, "POST"},
		{"cross-site", http.MethodPost, "everywhere=1", "cross-site", http.StatusForbidden, ""},
		{"other value", http.MethodPost, "everywhere=0", "same-origin", http.StatusBadRequest, ""},
		{"empty value", http.MethodPost, "everywhere", "same-origin", http.StatusBadRequest, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := unitHandler(t, &Handler{}, nil, nil)
			var ids []string
			for range 2 {
				ids = append(ids, putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)}))
			}
			req := withReplacer(httptest.NewRequest(tc.method, DefaultLogoutPath+"?"+tc.query, nil))
			req.Header.Set("Sec-Fetch-Site", tc.site)
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: ids[0]})
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req, okNext); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.want || w.Header().Get("Allow") != tc.wantAllow {
				t.Errorf("%d Allow %q, want %d Allow %q", w.Code, w.Header().Get("Allow"), tc.want, tc.wantAllow)
			}
			for i, id := range ids {
				if o, err := h.sessions.Lookup(t.Context(), id); err != nil || o == nil {
					t.Errorf("session %d ended by a refused request: %v", i, err)
				}
			}
		})
	}
}
