package caddysgid

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// readRawRequest is the request Go's server, and so Caddy, makes of the
// raw request line "METHOD target HTTP/1.1".
func readRawRequest(t testing.TB, method, target string) *http.Request {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(method + " " + target + " HTTP/1.1\r\nHost: app.example\r\n\r\n")))
	if err != nil {
		t.Fatalf("%s %q: %v", method, target, err)
	}
	req.Header.Set("Sec-Fetch-Mode", "cors")
	return withReplacer(req)
}

// Request targets that are not an origin-form path (Go's server takes
// "http:api/x" as an opaque URL with an empty path, which Caddy's
// matchers do not match and reverse_proxy forwards as "api/x") are
// refused with 400 before anything runs, logged in or not, with or without
// protect; the absolute form and OPTIONS * pass.
func TestInvalidTargetRefused(t *testing.T) {
	t.Parallel()
	for _, g := range []*Guard{{Protect: []string{"/api/*"}}, nil} {
		h := unitHandler(t, &Handler{Guard: g}, nil, nil)
		id := putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)})
		for _, tc := range []struct {
			method, target string
			want           int
		}{
			{"GET", "http:api/x", http.StatusBadRequest},
			{"GET", "x:api/x", http.StatusBadRequest},
			{"GET", "mailto:api/x", http.StatusBadRequest},
			{"GET", "http:%2fapi/x", http.StatusBadRequest},
			{"GET", "http:%2Fapi%2Fsecret", http.StatusBadRequest},
			{"GET", "HTTPS:api/secret", http.StatusBadRequest},
			{"GET", "http:.%2fapi/x", http.StatusBadRequest},
			{"POST", "http:api/x", http.StatusBadRequest},
			{"GET", "*", http.StatusBadRequest},
			{"GET", "http://app.example", http.StatusBadRequest},
			{"OPTIONS", "*", http.StatusNoContent},
			{"GET", "/public/x", http.StatusNoContent},
			{"GET", "http://app.example/public/x", http.StatusNoContent},
		} {
			for _, cookie := range []bool{false, true} {
				req := readRawRequest(t, tc.method, tc.target)
				if cookie {
					req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
				}
				ran := false
				next := recordingNext(&ran)
				w := httptest.NewRecorder()
				if err := h.ServeHTTP(w, req, next); err != nil {
					t.Fatal(err)
				}
				if w.Code != tc.want {
					t.Errorf("guard %v, cookie %v: %s %s answered %d, want %d", g != nil, cookie, tc.method, tc.target, w.Code, tc.want)
				}
				if ran != (tc.want == http.StatusNoContent) {
					t.Errorf("guard %v, cookie %v: %s %s reached the next handler: %v", g != nil, cookie, tc.method, tc.target, ran)
				}
			}
		}
	}
	// The absolute form is judged by its path.
	h := testGuardHandler(t, &Guard{Protect: []string{"/api/*"}})
	if code := serve(t, h, readRawRequest(t, "GET", "http://app.example/api/x"), okNext); code != http.StatusUnauthorized {
		t.Errorf("absolute form of a protected path: %d, want 401", code)
	}
}

// recordingNext is a next handler that notes that it ran.
func recordingNext(ran *bool) caddyhttp.Handler {
	return caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		*ran = true
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// With ambiguous_paths refuse (the default), a path that routers may read
// in more than one way never reaches the upstream when protect is set,
// logged in or not; plain paths, non-ASCII ones among them, are judged as
// before. With protect, the ambiguous ones are judged under every reading
// instead; without protect nothing is refused.
func TestAmbiguousPaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw       string
		ambiguous bool
		protected bool // under ambiguous_paths protect
	}{
		{"/api/x", false, true},
		{"/public/x", false, false},
		{"/wiki/Foo_(bar)", false, false},
		{"/caf%C3%A9", false, false},
		{"/caf%c3%a9", false, false},
		{"/%E5%93%81/x", false, false},
		{"/public/my%20file.pdf", false, false},
		{"/%61pi/x", false, true},
		{"/api/%2e%2e/x", true, true},
		{"/public/%2e%2e/index.html", true, false},
		{"/api;x/y", true, true},
		{"//api/x", true, true},
		{"/ap%C4%B1/x", true, true},     // ı upper-cases to I
		{"/%C5%BFecret/x", true, false}, // ſ upper-cases to S; /secret is not protected here
		{"/%EF%BC%A1pi/x", true, true},  // fullwidth A is A under NFKC
		{"/%E2%84%AApi/x", true, false}, // Kelvin sign lower-cases to k
		{"/api%09/x", true, true},
		{"/api%E3%80%80/x", true, true}, // ideographic space
		{"/a%C2%A0pi/x", true, false},   // no-break space
		{"/api%C0%AF/x", true, true},    // not UTF-8
	} {
		for _, mode := range []string{"", ambiguousRefuse, ambiguousProtect} {
			h := testGuardHandler(t, &Guard{Protect: []string{"/api/*"}, AmbiguousPaths: mode})
			want := http.StatusNoContent
			switch {
			case tc.ambiguous && mode != ambiguousProtect:
				want = http.StatusBadRequest
			case tc.protected:
				want = http.StatusUnauthorized
			}
			if code := serve(t, h, readRawRequest(t, "GET", tc.raw), okNext); code != want {
				t.Errorf("ambiguous_paths %q: %s answered %d, want %d", mode, tc.raw, code, want)
			}
		}
		// Without protect the guard refuses nothing.
		h := testGuardHandler(t, &Guard{IdentityHeaders: map[string]string{"X-Sub": "sub"}})
		if code := serve(t, h, readRawRequest(t, "GET", tc.raw), okNext); code != http.StatusNoContent {
			t.Errorf("no protect: %s answered %d", tc.raw, code)
		}
	}
}

// A plain path with one trailing slash is protected by an exact pattern,
// as Express and Spring route /secret/ to /secret.
func TestTrailingSlashOfExactPattern(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/secret"}})
	for raw, want := range map[string]int{"/secret": 401, "/secret/": 401, "/SECRET/": 401, "/secrets/": 204, "/": 204} {
		if code := serve(t, h, readRawRequest(t, "GET", raw), okNext); code != want {
			t.Errorf("%s answered %d, want %d", raw, code, want)
		}
	}
}

// A path longer than pathview.MaxReadLen that is not plain is not read at
// all: it counts as protected (and not exempt) under ambiguous_paths
// protect, and is refused under refuse. Either way its cost is a scan.
func TestLongAmbiguousPathFailsClosed(t *testing.T) {
	t.Parallel()
	long := "/public/" + strings.Repeat("a", pathview.MaxReadLen) + "/%2e%2e/x"
	for mode, want := range map[string]int{ambiguousRefuse: 400, ambiguousProtect: 401} {
		h := testGuardHandler(t, &Guard{Protect: []string{"/api/*"}, AmbiguousPaths: mode})
		if code := serve(t, h, readRawRequest(t, "GET", long), okNext); code != want {
			t.Errorf("%s: %d, want %d", mode, code, want)
		}
	}
	req := readRawRequest(t, "GET", long)
	if views, complete := pathview.Views(req.URL); complete || views != nil {
		t.Errorf("read a long path: %d views, complete %v", len(views), complete)
	}
}

func TestAmbiguousPathsValidate(t *testing.T) {
	t.Parallel()
	for mode, ok := range map[string]bool{"": true, "refuse": true, "protect": true, "allow": false, "Refuse": false} {
		g := &Guard{Protect: []string{"/api/*"}, AmbiguousPaths: mode}
		if err := g.validate(nil); (err == nil) != ok {
			t.Errorf("%q: %v", mode, err)
		}
	}
}
