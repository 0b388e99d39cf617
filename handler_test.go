package caddysgid

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

func TestMethodsAndCrossSiteLogout(t *testing.T) {
	t.Parallel()
	h, cookie := benchHandler(t)
	tests := []struct {
		method, path string
		header       [2]string
		want         int
	}{
		{http.MethodPost, "/api/auth-url", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodHead, "/api/auth-url", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodHead, "/api/redirect", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodDelete, "/api/userinfo", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodPut, "/api/logout", [2]string{}, http.StatusMethodNotAllowed},
		{http.MethodGet, "/api/logout", [2]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{http.MethodPost, "/api/logout", [2]string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{http.MethodGet, "/api/auth-url?return_to=%2F%2Fevil.example", [2]string{}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		req.AddCookie(cookie)
		if tc.header[0] != "" {
			req.Header.Set(tc.header[0], tc.header[1])
		}
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
			t.Errorf("%s %s: returned %v, want an answer written by the handler", tc.method, tc.path, err)
		}
		checkJSONError(t, w, tc.want)
	}
	// The refused cross-site logout left the session alone.
	req := httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	req.AddCookie(cookie)
	if code := serve(t, h, req, okNext); code != http.StatusOK {
		t.Errorf("session gone after a refused cross-site logout: %d", code)
	}
	// A same-origin POST logout works.
	req = httptest.NewRequest(http.MethodPost, "/api/logout", nil)
	req.AddCookie(cookie)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if code := serve(t, h, req, okNext); code != http.StatusOK {
		t.Errorf("POST logout: %d", code)
	}
	req = httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	req.AddCookie(cookie)
	if code := serve(t, h, req, okNext); code != http.StatusUnauthorized {
		t.Errorf("userinfo after POST logout: %d", code)
	}
}

func TestSecureCookieAndRedirectURIOnHTTPS(t *testing.T) {
	t.Parallel()
	h := &Handler{}
	applyDefaults(h)
	req := httptest.NewRequest(http.MethodGet, "https://app.example/api/auth-url", nil)
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	h.cookies.Set(w, req, "n", "v", 0)
	if cs := w.Result().Cookies(); len(cs) != 1 || !cs[0].Secure || !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteLaxMode || cs[0].Name != "__Host-n" || cs[0].Path != "/" || cs[0].Domain != "" {
		t.Errorf("cookie on HTTPS: %+v", cs)
	}
	if got, err := cookie.RedirectURI(req, h.RedirectURI, h.CallbackPath, h.CookieSecure); err != nil || got != "https://app.example/api/redirect" {
		t.Errorf("redirect URI = %q, %v", got, err)
	}
	h.RedirectURI = "https://fixed.example/api/redirect"
	if got, _ := cookie.RedirectURI(req, h.RedirectURI, h.CallbackPath, h.CookieSecure); got != h.RedirectURI {
		t.Errorf("configured redirect URI ignored: %q", got)
	}
}

// checkJSONError checks an error the handler answered itself: the status,
// {"error": <code>, "message": <text>} as JSON, and the headers that keep
// it out of caches and from being sniffed as another type.
func checkJSONError(t *testing.T, w *httptest.ResponseRecorder, status int) errorBody {
	t.Helper()
	var body errorBody
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if w.Code != status || dec.Decode(&body) != nil || body.Error == "" || body.Message == "" {
		t.Errorf("answer %d %.300q, want %d with a JSON error and message", w.Code, w.Body.String(), status)
	}
	hdr := w.Header()
	if hdr.Get("Content-Type") != "application/json" || hdr.Get("Cache-Control") != "no-store" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("answer %d headers %v", w.Code, hdr)
	}
	return body
}

// failingStore fails every call, as a store that cannot be reached would.
type failingStore struct{}

var errUnreachable = errors.New("store unreachable")

func (failingStore) Get(context.Context, string) ([]byte, error) { return nil, errUnreachable }
func (failingStore) Put(context.Context, string, []byte, time.Duration) error {
	return errUnreachable
}
func (failingStore) Delete(context.Context, string) error { return errUnreachable }
func (failingStore) PutIfAbsent(context.Context, string, []byte, time.Duration) ([]byte, error) {
	return nil, errUnreachable
}
func (failingStore) AddMember(context.Context, string, string, time.Duration) error {
	return errUnreachable
}
func (failingStore) RemoveMember(context.Context, string, string) error { return errUnreachable }
func (failingStore) Create(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, errUnreachable
}
func (failingStore) Members(context.Context, string) ([]string, error) {
	return nil, errUnreachable
}
func (failingStore) DeleteSet(context.Context, string) error { return errUnreachable }
func (failingStore) Sets(context.Context) ([]string, error)  { return nil, errUnreachable }
func (failingStore) Close() error                            { return nil }

// A failing store gets a JSON 503, and its error goes to the log, not to
// the client.
func TestStoreFailureAnswersJSON(t *testing.T) {
	t.Parallel()
	h, cookie := benchHandler(t)
	h.client = mustTestClient(t)
	unitHandler(t, h, failingStore{}, nil)
	for _, path := range []string{"/api/auth-url", "/api/logout", "/api/userinfo"} {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(cookie)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if body := checkJSONError(t, w, http.StatusServiceUnavailable); strings.Contains(body.Message, "unreachable") {
			t.Errorf("%s: the message repeats the store's error: %q", path, body.Message)
		}
	}
}

// The user's data carries nosniff, like every JSON answer.
func TestUserinfoNoSniff(t *testing.T) {
	t.Parallel()
	h, cookie := benchHandler(t)
	req := httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	req.AddCookie(cookie)
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusOK || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("userinfo %d headers %v", w.Code, w.Header())
	}
}

// mustTestClient is an sgID client for handler tests that never reach a
// provider: it only builds authorization URLs.
func mustTestClient(t testing.TB) *sgid.Client {
	t.Helper()
	_, pemKey := testKey(t)
	c, err := sgid.New(sgid.Config{ClientID: "id", ClientSecret: "secret", PrivateKey: pemKey, Host: "https://sgid.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// App values are kept only when they are UTF-8 without control characters:
// a CR LF in one would split a header or log line downstream.
func TestAppValuesRefuseControlCharacters(t *testing.T) {
	t.Parallel()
	h, _ := benchHandler(t)
	h.client = mustTestClient(t)
	h.AppParams = map[string]string{"uid": "uid"}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Vanilla", true},
		{"TAN%20WEI%20MING%20(%E9%99%88)", true},
		{"%0D%0AX-Sgid-Sub:sgidtest:forged", false},
		{"a%00b", false},
		{"a%09b", false},
		{"a%7Fb", false},
		{"a%C2%85b", false}, // NEL, a C1 control
		{"a%FFb", false},    // not UTF-8
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, ok := tc.name, tc.ok
			req := httptest.NewRequest(http.MethodGet, "/api/auth-url?uid="+raw, nil)
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if ok {
				if w.Code != http.StatusOK {
					t.Errorf("uid=%s: %d %s, want 200", raw, w.Code, w.Body)
				}
				return
			}
			if body := checkJSONError(t, w, http.StatusBadRequest); body.Error != "invalid_app_param" {
				t.Errorf("uid=%s: error %q", raw, body.Error)
			}
		})
	}
}

// On HTTPS the session is read from the __Host- cookie only: a bare
// sgid_session cookie, which a sibling subdomain can plant, is ignored even
// when it comes first; on plain HTTP the documented name works.
func TestHostPrefixedCookieWinsOnHTTPS(t *testing.T) {
	t.Parallel()
	h, victim := benchHandler(t)
	planted, err := testPut(h, session.Session{Sub: "sgidtest:attacker", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	userinfo := func(tlsOn bool, cookie string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
		if tlsOn {
			req.TLS = &tls.ConnectionState{}
		}
		req.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
			t.Fatal(err)
		}
		var out struct{ Sub string }
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out.Sub
	}
	bare := DefaultCookieName + "=" + planted
	prefixed := "__Host-" + DefaultCookieName + "=" + victim.Value
	if code, sub := userinfo(true, bare+"; "+prefixed); code != http.StatusOK || sub == "sgidtest:attacker" {
		t.Errorf("HTTPS, planted bare cookie first: %d as %q, want the __Host- session", code, sub)
	}
	if code, _ := userinfo(true, bare); code != http.StatusUnauthorized {
		t.Errorf("HTTPS, bare cookie only: %d, want 401", code)
	}
	if code, sub := userinfo(false, bare); code != http.StatusOK || sub != "sgidtest:attacker" {
		t.Errorf("plain HTTP, documented name: %d as %q", code, sub)
	}
	if code, _ := userinfo(false, prefixed); code != http.StatusUnauthorized {
		t.Errorf("plain HTTP, __Host- name: %d, want 401", code)
	}

	// auth-url on HTTPS sets the login cookie under its __Host- name.
	h.client = mustTestClient(t)
	req := httptest.NewRequest(http.MethodGet, "https://app.example/api/auth-url", nil)
	req.TLS = &tls.ConnectionState{}
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
		t.Fatal(err)
	}
	var start struct{ URL string }
	json.Unmarshal(w.Body.Bytes(), &start)
	name := "__Host-" + cookie.LoginName(DefaultCookieName, testcaddy.QueryValue(t, start.URL, "state"))
	if c := testcaddy.ResponseCookie(w.Result(), name); c == nil || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Errorf("login cookie on HTTPS: %v", w.Result().Cookies())
	}
}
