package caddysgid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
)

// TestAuthURLLoginSizes: a login of any size up to the cookie limit is
// sealed into its cookie, whether or not it fits the buffer on the stack,
// and opens at the callback as it was started; past the limit, auth-url
// answers 400 and sets no cookie.
func TestAuthURLLoginSizes(t *testing.T) {
	t.Parallel()
	h := unitHandler(t, &Handler{AppParams: map[string]string{"a": "a", "b": "b", "c": "c", "d": "d"}}, nil, nil)
	h.client = mustTestClient(t)
	for _, tc := range []struct {
		name     string
		returnTo int // the length of return_to
		apps     int // how many app values of the longest length
		status   int
	}{
		{"short", 2, 0, http.StatusOK},
		{"past the stack buffer", 1000, 0, http.StatusOK},
		{"near the limit", 2048, 1, http.StatusOK},
		{"past the limit", 2048, 4, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			returnTo := "/" + strings.Repeat("r", tc.returnTo-1)
			q := url.Values{"return_to": {returnTo}}
			for _, p := range []string{"a", "b", "c", "d"}[:tc.apps] {
				q.Set(p, strings.Repeat(p, maxAppValue))
			}
			req := withReplacer(httptest.NewRequest(http.MethodGet, "http://app.example"+DefaultAuthURLPath+"?"+q.Encode(), nil))
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != tc.status {
				t.Fatalf("%d %v %s, want %d", w.Code, err, w.Body, tc.status)
			}
			cookies := w.Result().Cookies()
			if tc.status != http.StatusOK {
				if body := checkJSONError(t, w, tc.status); body.Error != "login_too_large" || len(cookies) != 0 {
					t.Fatalf("error %q, cookies %v", body.Error, cookies)
				}
				return
			}
			var answer struct{ URL string }
			if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(answer.URL)
			if err != nil {
				t.Fatal(err)
			}
			state := u.Query().Get("state")
			name := cookie.LoginName(h.CookieName, state)
			if len(cookies) != 1 || cookies[0].Name != name {
				t.Fatalf("cookies %v, want one named %s", cookies, name)
			}
			back := httptest.NewRequest(http.MethodGet, "http://app.example/api/redirect?state="+url.QueryEscape(state), nil)
			back.AddCookie(cookies[0])
			l, err := h.sessions.PendingLogin(t.Context(), httptest.NewRecorder(), back)
			if err != nil || l.ReturnTo != returnTo || len(l.AppValues) != tc.apps || l.Nonce != u.Query().Get("nonce") {
				t.Fatalf("the login opens to %+v, %v", l, err)
			}
		})
	}
}
