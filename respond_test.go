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

// TestURLAnswer: auth-url's answer is byte for byte what encoding/json
// writes for {"url": u}, for URLs as sgID's are and for any string.
func TestURLAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, url string }{
		{"authorization URL", "https://api.id.gov.sg/v2/oauth/authorize?client_id=a&redirect_uri=https%3A%2F%2Fx&scope=openid+myinfo.name"},
		{"empty", ""},
		{"html characters", `<a href="x">&amp;</a>`},
		{"backslash and quote", `a\b"c`},
		{"control characters", "a\x00b\nc\td\x1f\x7f"},
		{"non-ASCII", "https://x/é?q=中文\u2028\u2029"},
		{"invalid UTF-8", "a\xffb\xc3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(struct {
				URL string `json:"url"`
			}{tc.url})
			if err != nil {
				t.Fatal(err)
			}
			got := urlAnswer(tc.url)
			defer got.release()
			if string(got.body) != string(want) {
				t.Errorf("urlAnswer(%q) = %s, want %s", tc.url, got.body, want)
			}
		})
	}
}

// TestURLAnswerReuse: an answer handed back and reused, longer or
// shorter than the one before, leaves the next one as encoding/json
// writes it.
func TestURLAnswerReuse(t *testing.T) {
	t.Parallel()
	for i, u := range []string{"https://api.id.gov.sg/v2/oauth/authorize?state=" + strings.Repeat("s", 300), "https://x/a", "https://x/<b>&c", "https://x/\u00e9" + strings.Repeat("q", 5000), "https://y/"} {
		want, _ := json.Marshal(struct {
			URL string `json:"url"`
		}{u})
		a := urlAnswer(u)
		if string(a.body) != string(want) {
			t.Errorf("answer %d: %s\nwant %s", i+1, a.body, want)
		}
		a.release()
	}
}

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
			back := httptest.NewRequest(http.MethodGet, "http://app.example/api/redirect", nil)
			back.AddCookie(cookies[0])
			l, err := h.sessions.PendingLogin(t.Context(), back, state)
			if err != nil || l.ReturnTo != returnTo || len(l.AppValues) != tc.apps || l.Nonce != u.Query().Get("nonce") {
				t.Fatalf("the login opens to %+v, %v", l, err)
			}
		})
	}
}
