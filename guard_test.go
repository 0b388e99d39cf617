package caddysgid

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-sgid/caddy-sgid/internal/access"
	"github.com/caddy-sgid/caddy-sgid/internal/crossorigin"
	"github.com/caddy-sgid/caddy-sgid/internal/identity"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

func TestGuardAllows(t *testing.T) {
	t.Parallel()
	s := session.Session{Sub: "s1", Data: map[string]string{"myinfo.residentialstatus": "PR", "role": "admin"}}
	tests := []struct {
		name string
		g    Guard
		want bool
	}{
		{"no rules", Guard{}, true},
		{"sub listed", Guard{AllowSubs: []string{"s0", "s1"}}, true},
		{"sub not listed", Guard{AllowSubs: []string{"s0"}}, false},
		{"field matches one value", Guard{AllowFields: []FieldRule{{"myinfo.residentialstatus", []string{"CITIZEN", "PR"}}}}, true},
		{"field differs", Guard{AllowFields: []FieldRule{{"myinfo.residentialstatus", []string{"CITIZEN"}}}}, false},
		{"field case differs", Guard{AllowFields: []FieldRule{{"myinfo.residentialstatus", []string{"pr"}}}}, false},
		{"field missing", Guard{AllowFields: []FieldRule{{"myinfo.email", []string{""}}}}, false},
		{"sub as a field", Guard{AllowFields: []FieldRule{{"sub", []string{"s1"}}}}, true},
		{"all rules pass", Guard{AllowSubs: []string{"s1"}, AllowFields: []FieldRule{{"role", []string{"admin"}}, {"myinfo.residentialstatus", []string{"PR"}}}}, true},
		{"one rule of several fails", Guard{AllowSubs: []string{"s1"}, AllowFields: []FieldRule{{"role", []string{"admin"}}, {"myinfo.residentialstatus", []string{"CITIZEN"}}}}, false},
	}
	r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	p := pathview.Read(r.URL)
	for _, tc := range tests {
		if err := tc.g.setup(caddy.Context{}, "", DefaultAuthURLPath); err != nil {
			t.Fatal(err)
		}
		if got := tc.g.rules.Judge(r, &p, s) == access.Allowed; got != tc.want {
			t.Errorf("%s: allowed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidateGuard(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		g    Guard
		want string // "" = valid
	}{
		{"full", Guard{Protect: []string{"/api/*", "/app"}, LoginPage: "/login?from=guard", IdentityHeaders: map[string]string{"X-Sgid-Sub": "sub", "x-sgid-name": "myinfo.name"}, AllowSubs: []string{"a"}, AllowFields: []FieldRule{{"f", []string{"v"}}}}, ""},
		{"relative pattern", Guard{Protect: []string{"api/*"}}, "must start with /"},
		{"bare star", Guard{Protect: []string{"*"}}, "use /*"},
		{"login page elsewhere", Guard{LoginPage: "https://evil.example/"}, "login_page"},
		{"login page scheme-relative", Guard{LoginPage: "//evil.example"}, "login_page"},
		{"profile page elsewhere", Guard{ProfilePage: "https://evil.example/choose"}, "profile_page"},
		{"profile page relative", Guard{ProfilePage: "choose"}, "profile_page"},
		{"profile page with a query", Guard{ProfilePage: "/choose?lang=en"}, ""},
		{"header with a space", Guard{IdentityHeaders: map[string]string{"X Sgid": "sub"}}, "not a valid header name"},
		{"header with a colon", Guard{IdentityHeaders: map[string]string{"X-Sgid:": "sub"}}, "not a valid header name"},
		{"Cookie", Guard{IdentityHeaders: map[string]string{"cookie": "sub"}}, "Cookie cannot carry"},
		{"Host", Guard{IdentityHeaders: map[string]string{"HOST": "sub"}}, "Host cannot carry"},
		{"hop-by-hop", Guard{IdentityHeaders: map[string]string{"Connection": "sub"}}, "cannot carry"},
		{"hop-by-hop TE", Guard{IdentityHeaders: map[string]string{"te": "sub"}}, "cannot carry"},
		{"X-Forwarded", Guard{IdentityHeaders: map[string]string{"X-Forwarded-User": "sub"}}, "cannot carry"},
		{"same header twice", Guard{IdentityHeaders: map[string]string{"X-User": "sub", "x-user": "myinfo.name"}}, "name the same header"},
		{"underscore twin", Guard{IdentityHeaders: map[string]string{"X-User": "sub", "X_User": "myinfo.name"}}, "name the same header"},
		{"no field", Guard{IdentityHeaders: map[string]string{"X-User": ""}}, "has no field"},
		{"rule without values", Guard{Protect: []string{"/a"}, AllowFields: []FieldRule{{"f", nil}}}, "at least one value"},
		{"rules without protect", Guard{AllowSubs: []string{"a"}}, "add protect"},
		{"rule on an app value", Guard{Protect: []string{"/a"}, AllowFields: []FieldRule{{"iceCream", []string{"Vanilla"}}}}, "app value the browser chooses"},
		{"identity header of an app value", Guard{IdentityHeaders: map[string]string{"X-Icecream": "iceCream"}}, ""},
	}
	for _, tc := range tests {
		h := &Handler{Guard: &tc.g, AppParams: map[string]string{"icecream": "iceCream"}}
		applyDefaults(h)
		if err := tc.g.setup(caddy.Context{}, h.ErrorPath, h.AuthURLPath); err != nil {
			t.Fatal(err)
		}
		err := tc.g.validate(slices.Collect(maps.Values(h.AppParams)))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestGuardJSONConfig provisions and validates a handler whose guard comes
// from JSON, as Caddy does with an adapted Caddyfile.
func TestGuardJSONConfig(t *testing.T) {
	t.Parallel()
	_, keyPEM := testKey(t)
	for _, tc := range []struct {
		guard string
		want  string // "" = valid
	}{
		{`{"protect": ["/api/*"], "login_page": "/login", "identity_headers": {"x-sgid-sub": "sub"},
		   "allow_subs": ["s1"], "allow_fields": [{"field": "myinfo.residentialstatus", "values": ["CITIZEN", "PR"]}], "forward_cookie": true}`, ""},
		{`{"protect": ["api/*"]}`, "protect: pattern"},
		{`{"identity_headers": {"Host": "sub"}}`, "identity_header: Host cannot carry an identity"},
		{`{"allow_subs": ["s1"]}`, "add protect"},
	} {
		raw := fmt.Sprintf(`{"client_id": "id", "client_secret": "secret", "private_key": %q, "store": {"module": "memory"}, "guard": %s}`, keyPEM, tc.guard)
		var h Handler
		if err := json.Unmarshal([]byte(raw), &h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		err := h.Provision(ctx)
		if err == nil {
			err = h.Validate()
		}
		h.Cleanup()
		cancel()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.guard, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.guard, err, tc.want)
		case tc.want == "" && !slices.Equal(forwardedNames(&h, session.Session{Sub: "s1"}), []string{"X-Sgid-Sub"}):
			t.Errorf("identity headers compiled to %v", forwardedNames(&h, session.Session{Sub: "s1"}))
		}
	}
}

// The login page is exempt from protect under ASCII case folding only:
// U+017F (ſ), which strings.EqualFold takes for s, names another path,
// which stays protected.
func TestGuardExemptionFoldsASCIIOnly(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/*"}, LoginPage: "/signin", IdentityHeaders: map[string]string{}})
	for _, tc := range []struct {
		name   string
		exempt bool
	}{
		{"/signin", true},
		{"/SignIn", true},
		{"/%C5%BFignin", false},
		{"/SIGNIN", true},
		{"/signin/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, exempt := tc.name, tc.exempt
			req := withReplacer(httptest.NewRequest(http.MethodGet, path, nil))
			req.Header.Set("Sec-Fetch-Mode", "cors")
			if got := !protectsPath(h.gate, req); got != exempt {
				t.Errorf("%s: exempt = %v, want %v", path, got, exempt)
			}
		})
	}
	// Through the handler: the look-alike path never reaches the
	// upstream. By default it is refused as ambiguous (a router may read
	// U+017F as s); judged under every reading, it needs a login.
	for mode, want := range map[string]int{"": http.StatusBadRequest, ambiguousProtect: http.StatusUnauthorized} {
		h := testGuardHandler(t, &Guard{Protect: []string{"/*"}, LoginPage: "/signin", IdentityHeaders: map[string]string{}, AmbiguousPaths: mode})
		req := httptest.NewRequest(http.MethodGet, "/%C5%BFignin", nil)
		req.Header.Set("Sec-Fetch-Mode", "cors")
		if code := serve(t, h, req, okNext); code != want {
			t.Errorf("ambiguous_paths %q: /%%C5%%BFignin answered %d, want %d", mode, code, want)
		}
	}
}

// A second sgid handler on one request (two sgid blocks in a site, or one
// nested under another) never sees a login, as the first cuts the cookies:
// it reports that once, at ERROR; with forward_cookie on the first, nesting
// works and nothing is reported.
func TestNestedHandlersReported(t *testing.T) {
	t.Parallel()
	for _, forward := range []bool{false, true} {
		outer, cookie := benchHandler(t)
		outer.gate.ForwardCookie = forward
		inner, _ := benchHandler(t)
		core, logs := observer.New(zap.DebugLevel)
		inner.logger = zap.New(core)
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			return inner.ServeHTTP(w, r, okNext)
		})
		for range 3 {
			req := httptest.NewRequest(http.MethodGet, "/anything", nil)
			req.AddCookie(cookie)
			ctx := context.WithValue(contextWithReplacer(req), caddyhttp.VarsCtxKey, map[string]any{})
			if err := outer.ServeHTTP(httptest.NewRecorder(), req.WithContext(ctx), next); err != nil {
				t.Fatal(err)
			}
		}
		reports := logs.FilterMessageSnippet("two sgid handlers").FilterLevelExact(zap.ErrorLevel).Len()
		if want := map[bool]int{false: 1, true: 0}[forward]; reports != want {
			t.Errorf("forward_cookie %v: %d reports, want %d", forward, reports, want)
		}
	}
}

// rawRequest builds the request that Go's server, and so Caddy, makes of
// a request line with this raw target: URL.Path and URL.RawPath are
// exactly what the guard sees behind a real listener.
func rawRequest(t testing.TB, target string) *http.Request {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")))
	if err != nil {
		t.Fatalf("%q: %v", target, err)
	}
	req.Header.Set("Sec-Fetch-Mode", "cors")
	return withReplacer(req)
}

// TestGuardPathViews: a request is protected when any reading of its raw
// path that a common router could make matches a pattern, and canonical
// paths are judged as Caddy's path matcher judges them.
func TestGuardPathViews(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/api/*", "/admin", "/*.json"}, LoginPage: "/login", IdentityHeaders: map[string]string{}})
	for _, tc := range []struct {
		name, raw string
		protected bool
	}{
		// Canonical paths, judged as before.
		{"prefix", "/api/acme/members", true},
		{"prefix upper case", "/API/acme", true},
		{"prefix bare slash", "/api/", true},
		{"prefix without slash", "/api", false},
		{"longer name", "/apiary", false},
		{"other path", "/public/x", false},
		{"root", "/", false},
		{"page", "/index.html", false},
		{"exact", "/admin", true},
		{"exact upper case", "/ADMIN", true},
		{"exact is not a prefix", "/admin/x", false},
		{"glob", "/data.JSON", true},
		{"glob is one segment", "/x/data.json", false},
		{"login page with query", "/login?x=1", false},
		{"error path", "/error", false},
		{"non-ASCII", "/caf%C3%A9", false},
		{"encoded letter", "/%61pi/x", true},

		// Dot segments that Caddy resolves but a router may not.
		{"dots", "/api/../members", true},
		{"dot", "/api/./x", true},
		{"trailing dots", "/api/..", true},
		{"trailing dot", "/api/.", true},
		{"encoded dots", "/api/%2e%2e/members", true},
		{"encoded dots upper", "/api/%2E%2E/members", true},
		{"mixed dots", "/api/%2e./members", true},
		{"mixed dots 2", "/api/.%2E/members", true},
		{"upper prefix dots", "/API/../x", true},
		{"two levels", "/api/x/../../y", true},
		{"dots into prefix", "/x/../api/y", true},
		{"encoded slash into prefix", "/public/..%2fapi/x", true},
		{"dots out of exact", "/x/..%2fadmin", true},
		{"unrelated dots", "/public/%2e%2e/index.html", false},
		{"dots out of a look-alike", "/apiary/../public", false},

		// Encoded slashes.
		{"encoded slashes", "/api%2f..%2fsecret", true},
		{"encoded slashes upper", "/API%2F%2E%2E%2Fsecret", true},
		{"encoded slash", "/api%2fx", true},
		{"encoded slash elsewhere", "/a%2fb", false},

		// Path parameters.
		{"param", "/api;x/secret", true},
		{"session param", "/api;jsessionid=1/x", true},
		{"param on exact", "/admin;x", true},
		{"encoded param on exact", "/admin%3bx", true},
		{"dot param", "/.;/api/x", true},
		{"dots param", "/x/..;/api/y", true},
		{"param elsewhere", "/public;x/a", false},

		// Runs of slashes.
		{"leading slashes", "//api/x", true},
		{"inner slashes", "/api//x", true},
		{"slashes and dots", "//api/../x", true},
		{"slashes elsewhere", "/public//a", false},

		// Backslashes.
		{"backslashes", `/api\..\x`, true},
		{"encoded backslashes", "/api%5c..%5cx", true},
		{"backslashes into prefix", `/x\..\api\y`, true},

		// Double and deeper encoding.
		{"double encoded dots", "/api%252e%252e/x", true},
		{"double encoded letter", "/%2561pi/x", true},
		{"double encoded dots into prefix", "/x/%252e%252e/api/y", true},
		{"triple encoded slashes", "/api%25252f..%25252fx", true},
		{"double encoded dot elsewhere", "/public/%252e", false},

		// Delimiters decoded into the path.
		{"decoded query mark", "/x.json%3f/../y", true},
		{"NUL", "/api/x%00", true},
		{"NUL before the slash", "/api%00/../x", false},

		// Trailing dots and spaces, which Windows drops.
		{"segment ending in a dot", "/api./x", true},
		{"trailing space", "/api%20/x", true},
		{"trailing dots on exact", "/Admin..", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := protectsPath(h.gate, rawRequest(t, tc.raw)); got != tc.protected {
				t.Errorf("%s: protected = %v, want %v", tc.raw, got, tc.protected)
			}
		})
	}
}

// TestGuardPathExemption: the login page, the profile page and error_path
// are exempt only when every reading of the path is that path, so that no
// reading of an exempt-looking path reaches another resource.
func TestGuardPathExemption(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/*"}, LoginPage: "/login", ProfilePage: "/choose", IdentityHeaders: map[string]string{}})
	for _, tc := range []struct {
		raw    string
		exempt bool
	}{
		{"/login", true},
		{"/LOGIN", true},
		{"/choose", true},
		{"/choose/..%2fapi", false},
		{"/login?x=1", true},
		{"/error", true},
		{"/error?reason=x", true},
		{"/error/..%2fapi/x", false},
		{"/login/../api", false},
		{"/login/..", false},
		{"/login;x", false},
		{"/login%3bx", false},
		{"/%6cogin", false},
		{"/./login", false},
		{"//login", false},
		{"/login%00", false},
		{"/login.", false},
		{`/login\..\api`, false},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			if got := !protectsPath(h.gate, rawRequest(t, tc.raw)); got != tc.exempt {
				t.Errorf("%s: exempt = %v, want %v", tc.raw, got, tc.exempt)
			}
		})
	}
}

// TestGuardPathPatterns: placeholders in patterns are replaced for every
// view, and a pattern holding an escape matches the views that hold it
// literally, as Caddy's matcher matches the raw path, with %* as a glob.
func TestGuardPathPatterns(t *testing.T) {
	t.Setenv("GUARDPATH_PREFIX", "API")
	h := testGuardHandler(t, &Guard{Protect: []string{"/{env.GUARDPATH_PREFIX}/*", "/files%2fsecret", "/bands/%*/secret"}, IdentityHeaders: map[string]string{}})
	for _, tc := range []struct {
		raw       string
		protected bool
	}{
		{"/api/x", true},
		{"/api/%2e%2e/x", true},
		{"/API;x/y", true},
		{"/public/x", false},
		{"/files%2fsecret", true},
		{"/files%2Fsecret", true},
		{"/files%252fsecret", true},
		{"/x/..%2ffiles%252fsecret", true},
		{"/files/secret", false},
		{"/files%2fpublic", false},
		{"/bands/ac%2fdc/secret", true},
		{"/bands/x/secret;y", true},
		{"/bands/x/public", false},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			if got := protectsPath(h.gate, rawRequest(t, tc.raw)); got != tc.protected {
				t.Errorf("%s: protected = %v, want %v", tc.raw, got, tc.protected)
			}
		})
	}
}

// TestGuardPathTooManyViews: a path made to have more readings than the
// guard follows is protected whatever it names.
func TestGuardPathTooManyViews(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/api/*"}, IdentityHeaders: map[string]string{}})
	for _, tc := range []struct {
		name      string
		raw       string
		protected bool
	}{
		{"few encodings", "/public/%2525252e", false},
		{"deep encoding", "/public/%" + strings.Repeat("25", pathview.MaxViews) + "2e", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := protectsPath(h.gate, rawRequest(t, tc.raw)); got != tc.protected {
				t.Errorf("protected = %v, want %v", got, tc.protected)
			}
		})
	}
}

// TestGuardPlainPathAllocs: a canonical path costs no more allocations
// than Caddy's path matcher alone.
func TestGuardPlainPathAllocs(t *testing.T) {
	h := testGuardHandler(t, &Guard{Protect: []string{"/api/*", "/*.json"}, LoginPage: "/login", IdentityHeaders: map[string]string{}})
	for _, raw := range []string{"/api/data", "/open/data", "/login"} {
		t.Run(raw, func(t *testing.T) {
			r := rawRequest(t, raw)
			matcher := testing.AllocsPerRun(100, func() { h.gate.Protect.MatchWithError(r) })
			guard := testing.AllocsPerRun(100, func() { protectsPath(h.gate, r) })
			if guard > matcher {
				t.Errorf("protects: %v allocations, the matcher alone %v", guard, matcher)
			}
		})
	}
}

// TestSgidRoutesScrubIdentity: the handler's own routes, which pass
// nothing on, also lose the client's identity headers.
func TestSgidRoutesScrubIdentity(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{IdentityHeaders: map[string]string{"X-Sgid-Sub": "sub"}})
	for _, path := range []string{h.UserinfoPath, h.LogoutPath, "/elsewhere"} {
		r := withReplacer(httptest.NewRequest(http.MethodGet, path, nil))
		r.Header["X-Sgid-Sub"] = []string{"evil"}
		r.Header["X_Sgid_Sub"] = []string{"evil"}
		h.ServeHTTP(httptest.NewRecorder(), r, guardNext)
		if len(r.Header) != 0 {
			t.Errorf("%s: headers left: %v", path, r.Header)
		}
	}
}

// The sub is the user's identity in {http.auth.user.id} even when the
// session's data holds an "id" key (Validate refuses such app keys; this is
// the second line of defence).
func TestSetIdentitySubWins(t *testing.T) {
	t.Parallel()
	for range 20 { // map order varies: try it more than once
		r := withReplacer(httptest.NewRequest(http.MethodGet, "/", nil))
		identity.SetPlaceholders(r, session.Session{Sub: "sgidtest:real", Data: map[string]string{"id": "sgidtest:forged", "a": "1", "b": "2", "c": "3"}})
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		if got, _ := repl.GetString("http.auth.user.id"); got != "sgidtest:real" {
			t.Fatalf("{http.auth.user.id} = %q, want the sub", got)
		}
	}
}

// A write to a protected path (POST, PUT, PATCH, DELETE, and a WebSocket
// opening) must come from the site's own origin: a page on a sibling
// subdomain, which SameSite=Lax sends the cookie for, gets 403 and the
// upstream never runs; curl with the cookie and no browser headers passes.
// A trusted origin passes.
func TestCrossOriginWritesRefused(t *testing.T) {
	t.Parallel()
	for _, trusted := range [][]string{nil, {"https://evil.app.example"}} {
		h := unitHandler(t, &Handler{Guard: &Guard{Protect: []string{"/api/*"}, IdentityHeaders: map[string]string{"X-Sub": "sub"}}, TrustedOrigins: trusted}, nil, nil)
		var err error
		if h.origins, err = crossorigin.New(h.TrustedOrigins); err != nil {
			t.Fatal(err)
		}
		id := putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)})
		for _, tc := range []struct {
			name    string
			method  string
			b       browser
			upgrade bool
			want    int
		}{
			{"same-origin POST", "POST", sameOriginFetch, false, 204},
			{"same-origin DELETE", "DELETE", sameOriginFetch, false, 204},
			{"sibling POST", "POST", siblingFetch, false, 403},
			{"sibling PUT", "PUT", siblingFetch, false, 403},
			{"sibling PATCH", "PATCH", siblingFetch, false, 403},
			{"sibling DELETE", "DELETE", siblingFetch, false, 403},
			{"sibling form POST", "POST", siblingForm, false, 403},
			{"cross-site POST", "POST", crossSiteFrame, false, 403},
			{"old browser, other origin", "POST", oldBrowserPost, false, 403},
			{"old browser, this origin", "POST", oldBrowserSame, false, 204},
			{"curl POST", "POST", curl, false, 204},
			{"sibling GET", "GET", siblingFetch, false, 204},
			{"sibling WebSocket", "GET", siblingFetch, true, 403},
			{"same-origin WebSocket", "GET", sameOriginFetch, true, 204},
		} {
			want := tc.want
			if trusted != nil && tc.b.origin == "https://evil.app.example" {
				want = 204
			}
			req := withReplacer(httptest.NewRequest(tc.method, "http://app.example/api/x", nil))
			tc.b.set(req)
			if tc.upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
			}
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
			w, sub := passOn(t, h, req, "X-Sub")
			if w.Code != want {
				t.Errorf("trusted %v, %s: %d, want %d", trusted, tc.name, w.Code, want)
			}
			if want == 403 && w.Body.String() != `{"error":"cross_origin","message":"This request must come from a page of this site."}` {
				t.Errorf("%s: body %s", tc.name, w.Body)
			}
			if want == 204 && sub != "s1" {
				t.Errorf("%s: the upstream got X-Sub %q", tc.name, sub)
			}
		}
	}
}

// forwardedNames are the names of the identity headers h sets for s.
func forwardedNames(h *Handler, s session.Session) []string {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header = http.Header{}
	h.identity.SetHeaders(r, h.identity.View(s))
	return slices.Sorted(maps.Keys(r.Header))
}
