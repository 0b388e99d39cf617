package caddysgid

import (
	"bufio"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
)

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
			if got := protectsPath(h.guard, rawRequest(t, tc.raw)); got != tc.protected {
				t.Errorf("%s: protected = %v, want %v", tc.raw, got, tc.protected)
			}
		})
	}
}

// TestGuardPathExemption: the login page and error_path are exempt only
// when every reading of the path is that path, so that no reading of an
// exempt-looking path reaches another resource.
func TestGuardPathExemption(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/*"}, LoginPage: "/login", IdentityHeaders: map[string]string{}})
	for _, tc := range []struct {
		raw    string
		exempt bool
	}{
		{"/login", true},
		{"/LOGIN", true},
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
			if got := !protectsPath(h.guard, rawRequest(t, tc.raw)); got != tc.exempt {
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
			if got := protectsPath(h.guard, rawRequest(t, tc.raw)); got != tc.protected {
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
			if got := protectsPath(h.guard, rawRequest(t, tc.raw)); got != tc.protected {
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
			matcher := testing.AllocsPerRun(100, func() { h.guard.Protect.MatchWithError(r) })
			guard := testing.AllocsPerRun(100, func() { protectsPath(h.guard, r) })
			if guard > matcher {
				t.Errorf("protects: %v allocations, the matcher alone %v", guard, matcher)
			}
		})
	}
}
