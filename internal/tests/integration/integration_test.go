package integration

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func TestDemoContract(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	persona := e.provider.Personas()[0]
	b := newBrowser(t)

	// Not logged in: 401 whose body is not a JSON object.
	status, obj, body := b.Userinfo()
	if status != http.StatusUnauthorized || obj != nil || strings.HasPrefix(strings.TrimSpace(body), "{") {
		t.Fatalf("userinfo without session: %d %q", status, body)
	}
	// Logout without a session: 200 {}.
	resp, body := b.Get(testOrigin + "/api/logout")
	if resp.StatusCode != http.StatusOK || body != "{}" {
		t.Fatalf("logout without session: %d %q", resp.StatusCode, body)
	}

	authURL := b.StartLogin("icecream=Chocolate")
	u, _ := url.Parse(authURL)
	if !strings.HasPrefix(authURL, e.provider.URL+"/v2/oauth/authorize?") {
		t.Fatalf("auth url %q", authURL)
	}
	if got := u.Query().Get("redirect_uri"); got != testOrigin+"/api/redirect" {
		t.Errorf("redirect_uri = %q, want it derived from the request", got)
	}
	if st := u.Query().Get("state"); len(st) < 43 || strings.Contains(st, "Chocolate") {
		t.Errorf("state %q must be random, not app data", st)
	}
	if loc := b.Callback(b.AtProvider(authURL)); loc != "/logged-in" {
		t.Fatalf("callback redirected to %q", loc)
	}

	status, obj, body = b.Userinfo()
	if status != http.StatusOK {
		t.Fatalf("userinfo: %d %s", status, body)
	}
	data, _ := obj["data"].(map[string]any)
	if obj["sub"] != persona.Sub || data["myinfo.name"] != persona.Data["myinfo.name"] ||
		data["myinfo.email"] != persona.Data["myinfo.email"] || data["iceCream"] != "Chocolate" || len(obj) != 2 {
		t.Errorf("userinfo = %s", body)
	}
	// Served from the session: no userinfo call to sgID per request.
	before := e.provider.Stats().Userinfo
	for i := 0; i < 3; i++ {
		b.Userinfo()
	}
	if after := e.provider.Stats().Userinfo; after != before {
		t.Errorf("userinfo called sgID %d times for 3 requests", after-before)
	}

	// Requests passed on carry the identity placeholders.
	_, body = b.Get(testOrigin + "/anything")
	if want := "next: /anything user=" + persona.Sub + " name=" + persona.Data["myinfo.name"]; body != want {
		t.Errorf("pass-through body %q, want %q", body, want)
	}

	resp, body = b.Get(testOrigin + "/api/logout")
	if resp.StatusCode != http.StatusOK || body != "{}" {
		t.Fatalf("logout: %d %q", resp.StatusCode, body)
	}
	if c := b.Cookie(caddysgid.DefaultCookieName); c != nil {
		t.Errorf("session cookie still set after logout")
	}
	if status, _, _ = b.Userinfo(); status != http.StatusUnauthorized {
		t.Errorf("userinfo after logout: %d", status)
	}
}

func TestCookies(t *testing.T) {
	newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)
	resp, body := b.Get(testOrigin + "/api/auth-url")
	checkCookie := func(resp *http.Response, name string) {
		t.Helper()
		c := testcaddy.ResponseCookie(resp, name)
		if c == nil {
			t.Errorf("no %s cookie", name)
			return
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
			t.Errorf("%s: HttpOnly=%v SameSite=%v Path=%q Secure=%v", name, c.HttpOnly, c.SameSite, c.Path, c.Secure)
		}
	}
	var out struct{ URL string }
	json.Unmarshal([]byte(body), &out)
	u, _ := url.Parse(out.URL)
	state := u.Query().Get("state")
	login := loginCookieOf(resp)
	if login == nil {
		t.Fatalf("auth-url set no login cookie: %v", resp.Cookies())
	}
	checkCookie(resp, login.Name)
	// The login cookie is sealed: nothing of the login shows in it.
	if c := login; strings.Contains(c.Value, state) {
		t.Errorf("login cookie shows the state in clear: %q", c.Value)
	}
	resp, _ = b.Get(b.AtProvider(out.URL))
	checkCookie(resp, caddysgid.DefaultCookieName)
	if c := testcaddy.ResponseCookie(resp, caddysgid.DefaultCookieName); c == nil || !session.ValidID(c.Value) {
		t.Errorf("session cookie %+v is not a bare random id", c)
	}
}

func TestCallbackFailures(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	reasonOf := func(loc string) string {
		u, err := url.Parse(loc)
		if err != nil || u.Path != "/error" {
			t.Fatalf("redirected to %q, want /error", loc)
		}
		return u.Query().Get("reason")
	}
	withQuery := func(cb string, set map[string]string) string {
		u, _ := url.Parse(cb)
		q := u.Query()
		for k, v := range set {
			if v == "" {
				q.Del(k)
			} else {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name   string
		faults sgidtest.Faults
		mangle func(b *testcaddy.Browser, cb string) string
		reason string
	}{
		{"no cookie", sgidtest.Faults{}, func(_ *testcaddy.Browser, cb string) string { return cb }, "no_session"},
		{"state mismatch", sgidtest.Faults{}, func(_ *testcaddy.Browser, cb string) string { return withQuery(cb, map[string]string{"state": "x"}) }, "state_mismatch"},
		{"user cancelled", sgidtest.Faults{}, func(_ *testcaddy.Browser, cb string) string {
			return withQuery(cb, map[string]string{"code": "", "error": "access_denied"})
		}, "access_denied"},
		{"missing code", sgidtest.Faults{}, func(_ *testcaddy.Browser, cb string) string { return withQuery(cb, map[string]string{"code": ""}) }, "missing_code"},
		{"code rejected", sgidtest.Faults{}, func(_ *testcaddy.Browser, cb string) string {
			return withQuery(cb, map[string]string{"code": "forged"})
		}, "code_rejected"},
		{"provider 500", sgidtest.Faults{TokenStatus: 500}, nil, "provider_error"},
		{"malformed token JSON", sgidtest.Faults{MalformedTokenJSON: true}, nil, "provider_error"},
		{"bad ID token", sgidtest.Faults{WrongIssuer: true}, nil, "invalid_token"},
		{"bad signature", sgidtest.Faults{WrongSignature: true}, nil, "invalid_token"},
		{"undecryptable field", sgidtest.Faults{UndecryptableField: true}, nil, "userinfo_failed"},
		{"userinfo sub mismatch", sgidtest.Faults{UserinfoSubMismatch: true}, nil, "userinfo_failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.provider.SetFaults(tc.faults)
			defer e.provider.SetFaults(sgidtest.Faults{})
			b := newBrowser(t)
			cb := b.AtProvider(b.StartLogin(""))
			target := cb
			if tc.mangle != nil {
				if tc.name == "no cookie" {
					b = newBrowser(t) // another browser: no login cookie
				}
				target = tc.mangle(b, cb)
			}
			if got := reasonOf(b.Callback(target)); got != tc.reason {
				t.Errorf("reason = %q, want %q", got, tc.reason)
			}
			if status, _, _ := b.Userinfo(); status != http.StatusUnauthorized {
				t.Errorf("userinfo after a failed login: %d", status)
			}
		})
	}

	t.Run("odd query strings", func(t *testing.T) {
		b := newBrowser(t)
		b.StartLogin("")
		for _, q := range []string{"", "?state=%zz", "?code=a&code=b&state=", "?" + strings.Repeat("x", 4000)} {
			resp, _ := b.Get(testOrigin + "/api/redirect" + q)
			if resp.StatusCode >= 500 {
				t.Errorf("callback%s answered %d", q, resp.StatusCode)
			}
		}
	})
	t.Run("malformed cookies", func(t *testing.T) {
		b := newBrowser(t)
		// A real login's state and the name of its login cookie, so that
		// the malformed values below arrive under the name the callback
		// looks up.
		resp, body := b.Get(testOrigin + "/api/auth-url")
		var start struct{ URL string }
		json.Unmarshal([]byte(body), &start)
		state := testcaddy.QueryValue(t, start.URL, "state")
		login := loginCookieOf(resp)
		if state == "" || login == nil {
			t.Fatalf("auth-url: %d %s, cookies %v", resp.StatusCode, body, resp.Cookies())
		}
		for _, v := range []string{"x", strings.Repeat("a", 4000), "%00", "a.b.c"} {
			req, _ := http.NewRequest(http.MethodGet, testOrigin+"/api/userinfo", nil)
			req.Header.Set("Cookie", caddysgid.DefaultCookieName+"="+v+"; "+login.Name+"="+v)
			if resp, _ := b.Do(req); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("cookie %.10q: userinfo %d", v, resp.StatusCode)
			}
			req, _ = http.NewRequest(http.MethodGet, testOrigin+"/api/redirect?code=a&state="+url.QueryEscape(state), nil)
			req.Header.Set("Cookie", login.Name+"="+v)
			if resp, _ := b.Do(req); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/error?reason=state_mismatch" {
				t.Errorf("cookie %.10q: callback %d to %q, want the state_mismatch redirect", v, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
}

func TestTwoTabsReplayAndFixation(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)

	// An attacker-chosen session cookie planted before the login...
	u, _ := url.Parse(testOrigin)
	planted := session.NewID()
	b.Jar.SetCookies(u, []*http.Cookie{{Name: caddysgid.DefaultCookieName, Value: planted, Path: "/"}})

	// ...two tabs start logins, and finish in the other order.
	cb1 := b.AtProvider(b.StartLogin("icecream=Vanilla"))
	cb2 := b.AtProvider(b.StartLogin("icecream=Strawberry"))
	if loc := b.Callback(cb2); loc != "/logged-in" {
		t.Fatalf("tab 2: %q", loc)
	}
	if _, obj, _ := b.Userinfo(); obj["data"].(map[string]any)["iceCream"] != "Strawberry" {
		t.Errorf("tab 2 data: %v", obj)
	}
	if c := b.Cookie(caddysgid.DefaultCookieName); c == nil || c.Value == planted {
		t.Errorf("session id after login = planted id: session fixation")
	}
	if loc := b.Callback(cb1); loc != "/logged-in" {
		t.Fatalf("tab 1: %q", loc)
	}
	if _, obj, _ := b.Userinfo(); obj["data"].(map[string]any)["iceCream"] != "Vanilla" {
		t.Errorf("tab 1 data: %v", obj)
	}

	// The browser replays the callback it finished last (some machines
	// fetch it twice): it lands where it did, keeping its session.
	before := b.Cookie(caddysgid.DefaultCookieName).Value
	if loc := b.Callback(cb1); loc != "/logged-in" {
		t.Errorf("replay of the finished callback redirected to %q, want /logged-in", loc)
	}
	if c := b.Cookie(caddysgid.DefaultCookieName); c == nil || c.Value != before {
		t.Errorf("the replay changed the session cookie")
	}
	if _, obj, _ := b.Userinfo(); obj["data"].(map[string]any)["iceCream"] != "Vanilla" {
		t.Errorf("after the replay: %v", obj)
	}
	// Tab 2's login made a session that tab 1's replaced: its replay is
	// refused, and does not bring that session back.
	if loc := b.Callback(cb2); loc != "/error?reason=login_expired" {
		t.Errorf("replay of a replaced login redirected to %q", loc)
	}
	// Another browser replaying the finished callback gets no session.
	other := newBrowser(t)
	if loc := other.Callback(cb1); !strings.HasPrefix(loc, "/error?reason=") {
		t.Errorf("another browser's replay redirected to %q", loc)
	}
	if status, _, _ := other.Userinfo(); status != http.StatusUnauthorized {
		t.Errorf("another browser after replaying: %d, want 401", status)
	}
	// The fake provider counted one token call per login, none for the
	// replays.
	if n := e.provider.Stats().Token; n != 2 {
		t.Errorf("token endpoint called %d times, want 2", n)
	}
}

// A copy of the login cookie, replayed with the callback in another
// browser after the login finished, is refused without calling sgID: the
// login's session exists, and creating it was the login's single-use
// claim.
func TestCopiedLoginCookieIsRefused(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)
	cb := b.AtProvider(b.StartLogin(""))
	u, _ := url.Parse(testOrigin)
	thief := newBrowser(t)
	thief.Jar.SetCookies(u, b.Jar.Cookies(u))
	if loc := b.Callback(cb); loc != "/logged-in" {
		t.Fatalf("login: %q", loc)
	}
	if loc := thief.Callback(cb); loc != "/error?reason=login_expired" {
		t.Errorf("replay with a copied login cookie redirected to %q", loc)
	}
	if status, _, _ := thief.Userinfo(); status != http.StatusUnauthorized {
		t.Errorf("the copy got a session: %d", status)
	}
	// After a logout, the login cannot be finished again either.
	b.Get(testOrigin + "/api/logout")
	if loc := thief.Callback(cb); loc != "/error?reason=login_expired" {
		t.Errorf("replay after the logout redirected to %q", loc)
	}
	if n := e.provider.Stats().Token; n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}
}

func TestReturnTo(t *testing.T) {
	newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)
	if loc := b.Login("return_to=" + url.QueryEscape("/app/orders?id=7")); loc != "/app/orders?id=7" {
		t.Errorf("return_to: redirected to %q", loc)
	}
	for _, bad := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "evil", "/a\x00b"} {
		resp, _ := b.Get(testOrigin + "/api/auth-url?return_to=" + url.QueryEscape(bad))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("return_to %q: %d, want 400", bad, resp.StatusCode)
		}
	}
}

func TestReloadKeepsSessions(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)
	b.Login("")
	pendingCB := b.AtProvider(b.StartLogin("icecream=Vanilla"))
	e.load(" (reloaded)")
	_, body := b.Get(testOrigin + "/logged-in")
	if !strings.HasSuffix(body, "(reloaded)") {
		t.Fatalf("config was not reloaded: %q", body)
	}
	if status, _, _ := b.Userinfo(); status != http.StatusOK {
		t.Errorf("session lost on reload: %d", status)
	}
	if loc := b.Callback(pendingCB); loc != "/logged-in" {
		t.Errorf("pending login lost on reload: %q", loc)
	}
	// The sgID client, with its JWKS cache, was kept too.
	if n := e.provider.Stats().JWKS; n != 1 {
		t.Errorf("JWKS fetched %d times across a reload, want 1", n)
	}
}

func TestAccessLogRecordsUserIDAndNoSecrets(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	persona := e.provider.Personas()[0]
	b := newBrowser(t)
	cb := b.AtProvider(b.StartLogin("icecream=Vanilla"))
	b.Callback(cb)
	b.Get(testOrigin + "/somewhere")
	var logText string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		raw, _ := os.ReadFile(e.logFile)
		logText = string(raw)
		if strings.Contains(logText, `"uri":"/somewhere"`) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	found := false
	for _, line := range strings.Split(logText, "\n") {
		if strings.Contains(line, `"uri":"/somewhere"`) {
			found = strings.Contains(line, `"user_id":"`+persona.Sub+`"`)
		}
	}
	if !found {
		t.Errorf("access log has no user_id for /somewhere:\n%s", logText)
	}
	// Caddy logs request URIs; the log filter (as in Caddyfile.example)
	// keeps the callback's code and state out. Cookies are never logged.
	code := url.QueryEscape(testcaddy.QueryValue(t, cb, "code"))
	for name, secret := range map[string]string{
		"client secret": e.provider.ClientSecret(),
		"session id":    b.Cookie(caddysgid.DefaultCookieName).Value,
		"code":          code,
		"name":          persona.Data["myinfo.name"],
	} {
		if strings.Contains(logText, secret) {
			t.Errorf("access log contains the %s", name)
		}
	}
	if !strings.Contains(logText, "code=REDACTED") {
		t.Errorf("the callback is not in the log with its code redacted:\n%s", logText)
	}
}

// An app value never overrides a field sgID returned under the same key.
func TestAppValueCannotOverrideSgIDData(t *testing.T) {
	persona := sgidtest.Persona{Sub: "sgidtest:flavour", Data: map[string]string{"myinfo.name": "A", "flavour": "from sgID"}}
	newEnv(t, sgidtest.Options{Personas: []sgidtest.Persona{persona}}, "scopes flavour\n\t\tapp_param flavour")
	b := newBrowser(t)
	b.Login("flavour=forged")
	if _, obj, body := b.Userinfo(); obj["data"].(map[string]any)["flavour"] != "from sgID" {
		t.Errorf("app value overrode sgID data: %s", body)
	}
}

// TestFailuresAreLoggedWithoutSecrets: each failed callback logs its reason
// at a level fitting whose fault it is, and no log line holds the code, the
// state, the client secret, a cookie or the user's data.
func TestFailuresAreLoggedWithoutSecrets(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	persona := e.provider.Personas()[0]
	var secrets []string

	b := newBrowser(t)
	cb := b.AtProvider(b.StartLogin("icecream=Vanilla"))
	secrets = append(secrets, testcaddy.QueryValue(t, cb, "code"), testcaddy.QueryValue(t, cb, "state"), loginCookie(b).Value)
	e.provider.SetFaults(sgidtest.Faults{TokenStatus: 500})
	b.Callback(cb) // provider_error: sgID's fault, logged as an error
	e.provider.SetFaults(sgidtest.Faults{})

	cb = b.AtProvider(b.StartLogin(""))
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", "forged")
	u.RawQuery = q.Encode()
	secrets = append(secrets, testcaddy.QueryValue(t, cb, "code"))
	b.Callback(u.String()) // state_mismatch: a warning

	// A code sgID refuses (here a forged one; a replayed or expired one
	// alike) is the browser's doing: a warning, without the hint about the
	// client's credentials that a refused client gets.
	cb = b.AtProvider(b.StartLogin(""))
	secrets = append(secrets, testcaddy.QueryValue(t, cb, "code"), testcaddy.QueryValue(t, cb, "state"))
	u, _ = url.Parse(cb)
	q = u.Query()
	q.Set("code", "forged-code-value")
	u.RawQuery = q.Encode()
	b.Callback(u.String())

	b.Login("") // and one success, and its logout
	secrets = append(secrets, b.Cookie(caddysgid.DefaultCookieName).Value, e.provider.ClientSecret(), persona.Data["myinfo.name"], persona.Data["myinfo.email"])
	b.Get(testOrigin + "/api/logout")
	newBrowser(t).Get(testOrigin + "/api/logout") // without a session: not logged

	want := map[string]string{"provider_error": "error", "state_mismatch": "warn", "code_rejected": "warn"}
	var text string
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		raw, _ := os.ReadFile(e.caddyLog)
		text = string(raw)
		if strings.Contains(text, "user logged out") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	audit := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		switch entry["msg"] {
		case "user logged in", "user logged out":
			// INFO, with the sub and the request id and nothing else of the
			// user's.
			msg := entry["msg"].(string)
			audit[msg]++
			rid, _ := entry["request_id"].(string)
			if entry["level"] != "info" || entry["sub"] != persona.Sub || rid == "" {
				t.Errorf("%s: %s, want info with the sub and request id", msg, line)
			}
			continue
		case "sgID login failed":
		default:
			continue
		}
		reason, _ := entry["reason"].(string)
		if level, ok := want[reason]; ok {
			if entry["level"] != level {
				t.Errorf("%s logged at %v, want %s", reason, entry["level"], level)
			}
			delete(want, reason)
		}
		if reason == "code_rejected" && strings.Contains(line, "client secret") {
			t.Errorf("code_rejected carries the credentials hint: %s", line)
		}
	}
	for reason := range want {
		t.Errorf("no log line for %s:\n%s", reason, text)
	}
	if audit["user logged in"] != 1 || audit["user logged out"] != 1 {
		t.Errorf("audit lines %v, want one login and one logout", audit)
	}
	for _, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s)} {
			if form != "" && strings.Contains(text, form) {
				t.Errorf("the log holds a secret or personal value (%.6s...)", form)
			}
		}
	}
}

// A session ends session_lifetime after the login; the cookies' Max-Age
// says the same to the browser; the store (Caddy's storage, by default)
// never holds a cookie value, the sub or the user's data in clear.
func TestSessionLifetimeAndStoreKeys(t *testing.T) {
	newEnv(t, sgidtest.Options{}, "session_lifetime 2h")
	b := newBrowser(t)
	resp, body := b.Get(testOrigin + "/api/auth-url")
	var start struct{ URL string }
	json.Unmarshal([]byte(body), &start)
	login := loginCookieOf(resp)
	if login == nil || login.MaxAge != int(caddysgid.DefaultLoginTimeout/time.Second) {
		t.Errorf("login cookie %+v, want Max-Age %d", login, int(caddysgid.DefaultLoginTimeout/time.Second))
	}
	resp, _ = b.Get(b.AtProvider(start.URL))
	c := testcaddy.ResponseCookie(resp, caddysgid.DefaultCookieName)
	if c == nil || c.MaxAge != int((2*time.Hour)/time.Second) {
		t.Fatalf("session cookie %+v, want Max-Age 7200", c)
	}
	_, info, _ := b.Userinfo()
	sub, _ := info["sub"].(string)
	name, _ := info["data"].(map[string]any)["myinfo.name"].(string)
	if sub == "" || name == "" {
		t.Fatalf("userinfo after the login: %v", info)
	}

	// Every file the store wrote, searched for what must not be there.
	records := 0
	dir := filepath.Join(testcaddy.StorageDir(t), "sgid")
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		records++
		for what, secret := range map[string]string{"session id": c.Value, "sub": sub, "name": name} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds the %s in clear", path, what)
			}
			// The session index names its sets and members by hashes.
			if strings.Contains(path, secret) {
				t.Errorf("the path %s holds the %s", path, what)
			}
		}
		return nil
	})
	if err != nil || records == 0 {
		t.Fatalf("searched %d files under %s: %v", records, dir, err)
	}

}

// App values are bounded in length.
func TestAppValueTooLong(t *testing.T) {
	newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)
	if resp, _ := b.Get(testOrigin + "/api/auth-url?icecream=" + strings.Repeat("v", maxAppValue)); resp.StatusCode != http.StatusOK {
		t.Errorf("value at the bound: %d", resp.StatusCode)
	}
	if resp, _ := b.Get(testOrigin + "/api/auth-url?icecream=" + strings.Repeat("v", maxAppValue+1)); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("value over the bound: %d, want 400", resp.StatusCode)
	}
}

// provider_timeout bounds a login's whole back channel: a sgID that
// answers, but later than that, ends the login at provider_error, where
// each call's own timeout would have waited for it.
func TestProviderTimeout(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "provider_timeout 1s")
	b := newBrowser(t)
	cb := b.AtProvider(b.StartLogin(""))
	e.provider.SetFaults(sgidtest.Faults{Delay: 3 * time.Second})
	defer e.provider.SetFaults(sgidtest.Faults{})
	if loc := b.Callback(cb); loc != "/error?reason=provider_error" {
		t.Errorf("callback with sgID 3s late and provider_timeout 1s ended at %q, want provider_error", loc)
	}
}

// A login is finished once, also by someone holding a copy of its cookie
// (another browser, or the same cookie sent to another instance): the
// second callback finds the login claimed in the store and ends at
// login_expired without a second call to sgID's token endpoint.
func TestCopiedLoginCookieFinishesOnce(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "")
	b := newBrowser(t)
	cb := b.AtProvider(b.StartLogin(""))
	login := loginCookie(b)
	if login == nil {
		t.Fatal("no login cookie after auth-url")
	}
	thief := newBrowser(t)
	u, _ := url.Parse(testOrigin)
	thief.Jar.SetCookies(u, []*http.Cookie{{Name: login.Name, Value: login.Value, Path: "/"}})

	if loc := b.Callback(cb); loc != "/logged-in" {
		t.Fatalf("the browser's own callback ended at %q", loc)
	}
	if loc := thief.Callback(cb); loc != "/error?reason=login_expired" {
		t.Errorf("the callback replayed with a copy of the login cookie ended at %q, want login_expired", loc)
	}
	if c := thief.Cookie(caddysgid.DefaultCookieName); c != nil {
		t.Error("the replay was given a session cookie")
	}
	if n := e.provider.Stats().Token; n != 1 {
		t.Errorf("token endpoint called %d times, want 1", n)
	}
}
