package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

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
