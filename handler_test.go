package caddysgid

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/badcookies"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
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
// errorBody is the body of the handler's own errors, as a client reads it.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

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

// badCookieRequests is how many requests with bad cookies the in-process
// flood sends: issue 13's 100,000.
const badCookieRequests = 100_000

// 100,000 requests with random and malformed cookies get the answer each
// route gives a stranger (never a 5xx), and the only store reads are for
// session cookies that look like ids the handler makes: the store never
// sees a cookie that cannot be ours. Login cookies, however forged, cost no
// store access but the one-time creation of a sealing key.
func TestBadCookiesCostNoStoreLookups(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood: skipped with -short; run in full by go test and .ci/run")
	}
	t.Parallel()
	_, keyPEM := testKey(t)
	client, err := sgid.New(sgid.Config{ClientID: "c", ClientSecret: "s", PrivateKey: keyPEM, Host: "https://id.example"})
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingStore{Store: memoryScope(t)}
	h := unitHandler(t, &Handler{Guard: &Guard{Protect: caddyhttp.MatchPath{"/private/*"}}}, counted, nil)
	h.client = client

	// The epochs whose login cookies are accepted now: the keyring numbers
	// them by rotation periods since the Unix epoch.
	epoch := uint64(time.Now().UnixNano() / int64(DefaultKeyRotation))
	epochs := []uint64{epoch, epoch + 1}
	logins := make([]badcookies.Login, 32)
	for k := range logins {
		state := session.NewID()
		logins[k] = badcookies.Login{State: state, CookieName: cookie.LoginName(h.CookieName, state)}
	}
	passedOn := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	})

	rng := rand.New(rand.NewPCG(13, 13))
	var lookups, logoutLookups int64
	for n := range badCookieRequests {
		br := badcookies.New(rng, h.CookieName, logins, epochs)
		req := httptest.NewRequest(http.MethodGet, br.Path, nil)
		if br.Cookie != "" {
			req.Header.Set("Cookie", br.Cookie)
		}
		w := httptest.NewRecorder()
		err := h.ServeHTTP(w, withReplacer(req), passedOn)
		status := w.Code
		var he caddyhttp.HandlerError
		if errors.As(err, &he) {
			status = he.StatusCode
		} else if err != nil {
			t.Fatalf("request %d (%s, Cookie %q): %v", n, br.Path, br.Cookie, err)
		}
		want := br.Status
		if want == badcookies.PassedOn {
			want = http.StatusTeapot
		}
		if status != want {
			t.Fatalf("request %d (%s, Cookie %q) answered %d, want %d", n, br.Path, br.Cookie, status, want)
		}
		if br.SessionLookup {
			lookups++
			if br.Logout {
				logoutLookups++
			}
		}
	}
	t.Logf("%d requests, %d with a session cookie shaped like an id", badCookieRequests, lookups)
	if lookups == 0 || lookups == badCookieRequests {
		t.Fatalf("the requests hold %d well-formed session ids of %d; the flood needs both kinds", lookups, badCookieRequests)
	}
	if got := counted.get.Load(); got != lookups {
		t.Errorf("the store was read %d times, want %d: once for each session cookie shaped like an id, never for another cookie", got, lookups)
	}
	if got := counted.del.Load(); got != 0 {
		t.Errorf("the store had %d deletions for %d logouts naming well-formed ids of no session; a logout of no session costs nothing", got, logoutLookups)
	}
	if got := counted.put.Load(); got != 0 {
		t.Errorf("the store was written %d times; no bad cookie may create a session", got)
	}
	// The sealing keys of the epochs accepted now, each created once (by
	// the auth-url calls or by forged login cookies naming the next epoch)
	// and cached.
	if got := counted.putIfAbsent.Load(); got > int64(len(epochs)) {
		t.Errorf("the store was asked for sealing keys %d times, want at most once per epoch (%d)", got, len(epochs))
	}
}

// A flood of logins that a client starts and then cancels at sgID (or
// sends back with no code) writes nothing to the store, so however far it
// goes past the memory store's bound, a logged-in user stays logged in.
func TestCallbackFloodKeepsSessions(t *testing.T) {
	t.Parallel()
	st, err := (&store.Memory{MaxEntries: 40}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := unitHandler(t, &Handler{}, st, nil)
	h.client = mustTestClient(t)
	id := putTestSession(t, h, session.Session{Sub: "sgidtest:alice", Expires: time.Now().Add(time.Hour)})
	userinfo := func() int {
		req := httptest.NewRequest(http.MethodGet, DefaultUserinfoPath, nil)
		req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
		return serve(t, h, req, okNext)
	}
	for i := range 200 {
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, withReplacer(httptest.NewRequest(http.MethodGet, DefaultAuthURLPath, nil)), okNext); err != nil || w.Code != http.StatusOK {
			t.Fatalf("auth-url %d: %d %v", i, w.Code, err)
		}
		var start struct{ URL string }
		json.Unmarshal(w.Body.Bytes(), &start)
		state := testcaddy.QueryValue(t, start.URL, "state")
		cb := httptest.NewRequest(http.MethodGet, DefaultCallbackPath+"?error=access_denied&state="+url.QueryEscape(state), nil)
		for _, c := range w.Result().Cookies() {
			cb.AddCookie(c)
		}
		w = httptest.NewRecorder()
		if err := h.ServeHTTP(w, withReplacer(cb), okNext); err != nil || w.Header().Get("Location") != "/error?reason=access_denied" {
			t.Fatalf("callback %d: %q %v", i, w.Header().Get("Location"), err)
		}
		if i%20 == 0 {
			if status := userinfo(); status != http.StatusOK {
				t.Fatalf("after %d cancelled logins the user is logged out: %d", i+1, status)
			}
		}
	}
	if status := userinfo(); status != http.StatusOK {
		t.Fatalf("after the flood the user is logged out: %d", status)
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
				if o, err := lookupID(t, h, id); err != nil || o == nil {
					t.Errorf("session %d ended by a refused request: %v", i, err)
				}
			}
		})
	}
}

// Walking the request's cookies, a name counts as ours only in the form
// this request's scheme uses, the way cookie reads one.
func TestCookieBase(t *testing.T) {
	t.Parallel()
	h := &Handler{cookies: cookie.Jar{Name: DefaultCookieName}}
	plain := httptest.NewRequest(http.MethodGet, "http://app.example/", nil)
	secure := httptest.NewRequest(http.MethodGet, "https://app.example/", nil)
	secure.TLS = &tls.ConnectionState{}
	for _, tc := range []struct {
		r    *http.Request
		wire string
		base string
		ok   bool
	}{
		{secure, "__Host-sgid_session_login_AAAAAAAAAAAA", "sgid_session_login_AAAAAAAAAAAA", true},
		{secure, "sgid_session_login_AAAAAAAAAAAA", "sgid_session_login_AAAAAAAAAAAA", false},
		{plain, "sgid_session_login_AAAAAAAAAAAA", "sgid_session_login_AAAAAAAAAAAA", true},
		{plain, "__Host-sgid_session_login_AAAAAAAAAAAA", "__Host-sgid_session_login_AAAAAAAAAAAA", false},
	} {
		base, ok := h.cookies.LoginBase(tc.r, &http.Cookie{Name: tc.wire})
		if base != tc.base || ok != tc.ok {
			t.Errorf("cookieBase(TLS %v, %q) = %q, %v; want %q, %v", tc.r.TLS != nil, tc.wire, base, ok, tc.base, tc.ok)
		}
		// What it accepts is what cookie.Wire sets.
		if ok && cookie.Wire(base, tc.r.TLS != nil) != tc.wire {
			t.Errorf("cookie.Wire(%q) is not %q", base, tc.wire)
		}
	}
}

// On HTTPS a login's cookie goes by its __Host- name: the callback finds
// and opens it (the login goes on to the code exchange, which fails here
// for want of a provider), and a bare-named copy, which a sibling
// subdomain could plant, is not a login of this browser.
func TestLoginCookieOnHTTPS(t *testing.T) {
	t.Parallel()
	h, _ := benchHandler(t)
	h.client = mustTestClient(t)
	serveTLS := func(target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://app.example"+target, nil)
		req.TLS = &tls.ConnectionState{}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := serveTLS("/api/auth-url")
	var start struct{ URL string }
	json.Unmarshal(w.Body.Bytes(), &start)
	state := testcaddy.QueryValue(t, start.URL, "state")
	login := testcaddy.ResponseCookie(w.Result(), "__Host-"+cookie.LoginName(DefaultCookieName, state))
	if login == nil {
		t.Fatalf("no __Host- login cookie: %v", w.Result().Cookies())
	}
	callback := "/api/redirect?code=c&state=" + url.QueryEscape(state)
	bare := &http.Cookie{Name: strings.TrimPrefix(login.Name, "__Host-"), Value: login.Value}
	if loc := serveTLS(callback, bare).Header().Get("Location"); loc != "/error?reason=no_session" {
		t.Errorf("bare-named login cookie on HTTPS: redirected to %q, want no_session", loc)
	}
	if loc := serveTLS(callback, &http.Cookie{Name: login.Name, Value: login.Value}).Header().Get("Location"); loc != "/error?reason=provider_error" {
		t.Errorf("__Host- login cookie: redirected to %q, want the exchange to be tried (provider_error)", loc)
	}
}

// An odd Host header gets 400 with a JSON error at auth-url, and at the
// mock's pages, which derive the callback from it too; never a 500.
func TestOddHostAnswers400(t *testing.T) {
	t.Parallel()
	h := mockHandler(t, nil)
	for _, host := range []string{"localhost:abc", "localhost:-1", "[localhost]:6001", "localhost:0x10", "localhost:+1", "localhost:%36", ""} {
		for _, path := range []string{"/api/auth-url", mockPrefix + "/v2/oauth/authorize?client_id=" + mockClientID + "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3Aabc%2Fapi%2Fredirect"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = host
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
				t.Errorf("Host %q %s: returned %v", host, path, err)
				continue
			}
			if body := checkJSONError(t, w, http.StatusBadRequest); body.Error != "invalid_host" {
				t.Errorf("Host %q %s: error %q", host, path, body.Error)
			}
		}
	}
	// A configured redirect_uri does not depend on the Host header.
	h = mockHandler(t, map[string]any{"redirect_uri": "https://app.example/api/redirect"})
	req := httptest.NewRequest(http.MethodGet, "/api/auth-url", nil)
	req.Host = "localhost:abc"
	if code := serve(t, h, req, okNext); code != http.StatusOK {
		t.Errorf("with redirect_uri, odd Host: %d, want 200", code)
	}
}

// withTrustedProxy marks the request as coming from one of the server's
// trusted_proxies, as Caddy's server does before any handler runs.
func withTrustedProxy(r *http.Request, trusted bool) *http.Request {
	ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: trusted})
	return r.WithContext(ctx)
}

// Secure cookies and an https redirect URI behind a load balancer that ends
// TLS, as Caddy decides for its own cookies: X-Forwarded-Proto counts only
// from a trusted proxy; cookie_secure overrides the request.
func TestSecureFollowsTrustedProxies(t *testing.T) {
	t.Parallel()
	on, off := true, false
	tests := []struct {
		name     string
		tls      bool
		trusted  bool
		xfp      []string
		override *bool
		secure   bool
		scheme   string
	}{
		{"plain http", false, false, nil, nil, false, "http"},
		{"tls", true, false, nil, nil, true, "https"},
		{"trusted proxy, https", false, true, []string{"https"}, nil, true, "https"},
		{"trusted proxy, last value counts", false, true, []string{"http", "https"}, nil, true, "https"},
		{"trusted proxy, http", false, true, []string{"https", "http"}, nil, false, "http"},
		{"untrusted client says https", false, false, []string{"https"}, nil, false, "http"},
		{"cookie_secure on", false, false, nil, &on, true, "https"},
		{"cookie_secure off over tls", true, false, nil, &off, false, "https"},
		{"cookie_secure off behind a trusted proxy", false, true, []string{"https"}, &off, false, "https"},
	}
	for _, tc := range tests {
		h := &Handler{CookieSecure: tc.override}
		applyDefaults(h)
		h.cookies = cookie.NewJar(h.CookieName, h.CookieSecure)
		req := httptest.NewRequest(http.MethodGet, "http://app.example/api/auth-url", nil)
		if tc.tls {
			req.TLS = &tls.ConnectionState{}
		}
		req.Header["X-Forwarded-Proto"] = tc.xfp
		req = withTrustedProxy(req, tc.trusted)
		if got := h.cookies.IsSecure(req); got != tc.secure {
			t.Errorf("%s: secure = %v, want %v", tc.name, got, tc.secure)
		}
		if got, err := cookie.RedirectURI(req, h.RedirectURI, h.CallbackPath, h.CookieSecure); err != nil || got != tc.scheme+"://app.example/api/redirect" {
			t.Errorf("%s: redirect URI %q %v, want scheme %s", tc.name, got, err, tc.scheme)
		}
		w := httptest.NewRecorder()
		h.cookies.Set(w, req, DefaultCookieName, "v", 0)
		if cs := w.Result().Cookies(); len(cs) != 1 || cs[0].Secure != tc.secure {
			t.Errorf("%s: cookies %+v, want one with Secure = %v", tc.name, cs, tc.secure)
		}
	}
}

// pipeWriter is a ResponseWriter whose Hijack hands over one end of a
// pipe; the test holds the other end, as the client would.
type pipeWriter struct {
	*httptest.ResponseRecorder
	server, client net.Conn
}

func (p *pipeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return p.server, bufio.NewReadWriter(bufio.NewReader(p.server), bufio.NewWriter(p.server)), nil
}

// The handler holds an upgrade passed on through a protected path with a
// session, and the session manager's ending of that session closes it;
// any other request passes as it came.
func TestUpgradeEndsWithSession(t *testing.T) {
	t.Parallel()
	h := unitHandler(t, &Handler{Guard: &Guard{Protect: caddyhttp.MatchPath{"/ws/*"}}}, nil, nil)
	tests := []struct {
		name       string
		path       string
		upgrade    bool
		wantClosed bool
	}{
		{"upgrade of a protected path", "/ws/chat", true, true},
		{"no upgrade", "/ws/chat", false, false},
		{"upgrade of an open path", "/open/chat", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)})
			req := withReplacer(httptest.NewRequest(http.MethodGet, tc.path, nil))
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
			if tc.upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
			}
			server, client := net.Pipe()
			t.Cleanup(func() { server.Close(); client.Close() })
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				_, _, err := http.NewResponseController(w).Hijack()
				return err
			})
			if err := h.ServeHTTP(&pipeWriter{httptest.NewRecorder(), server, client}, req, next); err != nil {
				t.Fatal(err)
			}
			o, err := lookupID(t, h, id)
			if err != nil || o == nil {
				t.Fatalf("lookup: %v %v", o, err)
			}
			if err := h.sessions.Logout(t.Context(), httptest.NewRecorder(), req, o); err != nil {
				t.Fatal(err)
			}
			// Ending closes the held connections before it returns, so a
			// write tells at once: a closed pipe refuses it, an open one
			// hands it to the reader.
			go io.ReadFull(server, make([]byte, 1))
			_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, err = client.Write([]byte{1})
			if closed := err != nil; closed != tc.wantClosed {
				t.Errorf("closed = %v (%v), want %v", closed, err, tc.wantClosed)
			}
		})
	}
}

// discardWriter is a ResponseWriter that keeps nothing but its header
// map, reused between requests, so that an allocation count is the
// handler's own.
type discardWriter struct {
	hdr  http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.hdr }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// TestAllocBudgets pins the allocations of the requests every user makes
// all the time, counted in ServeHTTP alone (the request, its replacer and
// the writer are made once, as Caddy makes them per request, outside
// what is counted): a change that allocates more on one of these paths
// must raise its budget here, knowingly. The no-op row is the harness's
// own count, 0.
func TestAllocBudgets(t *testing.T) {
	h, sessionCookie := benchHandler(t)
	guarded := unitHandler(t, &Handler{Guard: &Guard{Protect: []string{"/api/*"}, IdentityHeaders: map[string]string{"X-Sgid-Sub": "sub", "X-Sgid-Name": "myinfo.name"}}}, nil, nil)
	id := putTestSession(t, guarded, session.Session{Sub: "s1", Data: map[string]string{"myinfo.name": "TAN"}, Expires: time.Now().Add(time.Hour)})
	guardedCookie := (&http.Cookie{Name: DefaultCookieName, Value: id}).String()
	h.client = mustTestClient(t)
	noop := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil })
	type row struct {
		name   string
		h      *Handler
		method string
		target string
		cookie string
		want   int // status
		budget float64
	}
	{
		req := httptest.NewRequest("GET", "http://app.example/app/page", nil)
		req = req.WithContext(contextWithReplacer(req))
		w := &discardWriter{hdr: http.Header{}}
		if got := testing.AllocsPerRun(200, func() { _ = noop.ServeHTTP(w, req) }); got != 0 {
			t.Fatalf("the harness allocates %.0f per request", got)
		}
	}
	for _, tc := range []row{
		{"pass-on, no session cookie", guarded, "GET", "/app/page", "", 204, 0},
		{"guarded pass-on, memo hit, identity headers", guarded, "GET", "/api/orders", guardedCookie, 204, 2},
		{"userinfo, memo hit", h, "GET", DefaultUserinfoPath, sessionCookie.String(), 200, 2},
		{"auth-url", h, "GET", DefaultAuthURLPath, "", 200, 9},
	} {
		req := httptest.NewRequest(tc.method, "http://app.example"+tc.target, nil)
		req = req.WithContext(contextWithReplacer(req))
		w := &discardWriter{hdr: http.Header{}}
		run := func() {
			clear(w.hdr)
			if tc.cookie != "" {
				req.Header.Set("Cookie", tc.cookie)
			}
			req.Header.Del("X-Sgid-Sub")
			req.Header.Del("X-Sgid-Name")
			if err := tc.h.ServeHTTP(w, req, noop); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if w.code != tc.want {
			t.Fatalf("%s: status %d, want %d", tc.name, w.code, tc.want)
		}
		if tc.cookie == guardedCookie && req.Header.Get("X-Sgid-Sub") != "s1" {
			t.Fatalf("%s: no identity header", tc.name)
		}
		got := testing.AllocsPerRun(200, run)
		t.Logf("%-45s %4.0f allocations (budget %.0f)", tc.name, got, tc.budget)
		if got > tc.budget {
			t.Errorf("%s: %.0f allocations per request, over its budget of %.0f", tc.name, got, tc.budget)
		}
	}
}

// A write from another origin to a path that is not protected passes on
// as from nobody: no identity header, no placeholder of the user.
func TestCrossOriginWriteElsewhereIsAnonymous(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/api/*"}, IdentityHeaders: map[string]string{"X-Sub": "sub"}})
	id := putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)})
	for _, b := range []browser{siblingFetch, sameOriginFetch} {
		req := withReplacer(httptest.NewRequest("POST", "http://app.example/public/comment", nil))
		b.set(req)
		req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
		w, sub := passOn(t, h, req, "X-Sub")
		if want := map[bool]string{true: "", false: "s1"}[b == siblingFetch]; w.Code != 204 || sub != want {
			t.Errorf("%+v: %d, X-Sub %q, want 204 and %q", b, w.Code, sub, want)
		}
	}
}

// Logout, GET or POST, and logout everywhere end a session only for a
// request from this origin, from the user (a typed address), or without
// browser headers (curl, sgID's demo SPA's fetch sends same-origin): an
// image, a frame or a fetch from a sibling subdomain ends nothing and
// gets 403.
func TestLogoutOnlyFromThisOrigin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		query  string
		b      browser
		ends   bool
	}{
		{"GET same-origin fetch", "GET", "", sameOriginFetch, true},
		{"GET typed address", "GET", "", typedAddress, true},
		{"GET curl", "GET", "", curl, true},
		{"GET sibling image", "GET", "", siblingImage, false},
		{"GET sibling fetch", "GET", "", siblingFetch, false},
		{"GET cross-site frame", "GET", "", crossSiteFrame, false},
		{"GET old browser, other origin", "GET", "", oldBrowserPost, false},
		{"POST same-origin", "POST", "", sameOriginFetch, true},
		{"POST sibling", "POST", "", siblingFetch, false},
		{"POST sibling form", "POST", "", siblingForm, false},
		{"POST old browser, other origin", "POST", "", oldBrowserPost, false},
		{"POST curl", "POST", "", curl, true},
		{"everywhere same-origin", "POST", "?everywhere=1", sameOriginFetch, true},
		{"everywhere sibling", "POST", "?everywhere=1", browser{site: "same-site", mode: "cors", dest: "empty", origin: "https://evil.example"}, false},
		{"everywhere old browser", "POST", "?everywhere=1", oldBrowserPost, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := unitHandler(t, &Handler{}, nil, nil)
			id := putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)})
			req := withReplacer(httptest.NewRequest(tc.method, "http://app.example"+DefaultLogoutPath+tc.query, nil))
			tc.b.set(req)
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req, okNext); err != nil {
				t.Fatal(err)
			}
			o, err := lookupID(t, h, id)
			if err != nil {
				t.Fatal(err)
			}
			if ended := o == nil; ended != tc.ends {
				t.Errorf("ended %v, want %v (answer %d %s)", ended, tc.ends, w.Code, w.Body)
			}
			if !tc.ends && (w.Code != http.StatusForbidden || w.Header().Get("Set-Cookie") != "") {
				t.Errorf("refused logout answered %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
			}
		})
	}
}
