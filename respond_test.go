package caddysgid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/sgid"
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
			if got := urlAnswer(tc.url); string(got) != string(want) {
				t.Errorf("urlAnswer(%q) = %s, want %s", tc.url, got, want)
			}
		})
	}
}

// TestAuthURLAnswer: auth-url's answer is urlAnswer of the authorization
// URL the client returns, rewritten for the browser in mock mode, and an
// answer handed back and reused leaves the next one as it should be.
func TestAuthURLAnswer(t *testing.T) {
	t.Parallel()
	plain := unitHandler(t, &Handler{}, nil, nil)
	plain.client = mustTestClient(t)
	for _, tc := range []struct {
		name string
		h    *Handler
		p    sgid.AuthParams
	}{
		{"sgID", plain, sgid.AuthParams{State: "state-1", Nonce: "nonce-1", RedirectURI: "http://app.example/api/redirect"}},
		{"sgID, another redirect URI", plain, sgid.AuthParams{State: "state-2", Nonce: "nonce-2", RedirectURI: "https://other.example/api/redirect?a=<b>&c"}},
		{"mock", mockHandler(t, nil), sgid.AuthParams{State: "state-3", Nonce: "nonce-3", RedirectURI: "http://localhost/api/redirect"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tc.p.CodeChallenge = sgid.GeneratePKCEPair()
			u, _, err := tc.h.client.AuthorizationURL(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if tc.h.mock != nil {
				u = mockBrowserURL(u)
			}
			want := urlAnswer(u)
			for i := range 3 {
				a, err := tc.h.authURLAnswer(tc.p)
				if err != nil {
					t.Fatal(err)
				}
				if string(a.body) != string(want) {
					t.Fatalf("answer %d: %s\nwant %s", i+1, a.body, want)
				}
				a.release()
			}
		})
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
			l, err := h.sessions.OpenLogin(t.Context(), name, cookies[0].Value, state)
			if err != nil || l.ReturnTo != returnTo || len(l.AppValues) != tc.apps || l.Nonce != u.Query().Get("nonce") {
				t.Fatalf("the login opens to %+v, %v", l, err)
			}
		})
	}
}
