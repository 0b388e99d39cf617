package caddysgid

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

func TestIsNavigation(t *testing.T) {
	t.Parallel()
	browserAccept := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		name   string
		header []string
		want   bool
	}{
		{"browser navigation", []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document", "Accept", browserAccept}, true},
		{"iframe navigation", []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"}, true},
		{"fetch", []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Accept", "*/*"}, false},
		{"fetch asking for html", []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Accept", "text/html"}, false},
		{"same-origin fetch", []string{"Sec-Fetch-Mode", "same-origin", "Accept", browserAccept}, false},
		{"no-cors image", []string{"Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}, false},
		{"dest empty without mode", []string{"Sec-Fetch-Dest", "empty", "Accept", browserAccept}, false},
		{"old browser navigation", []string{"Accept", browserAccept}, true},
		{"old browser XHR", []string{"Accept", browserAccept, "X-Requested-With", "XMLHttpRequest"}, false},
		{"XHR claiming navigate", []string{"Sec-Fetch-Mode", "navigate", "X-Requested-With", "XMLHttpRequest"}, false},
		{"json client", []string{"Accept", "application/json"}, false},
		{"json preferred", []string{"Accept", "application/json, text/html;q=0.5"}, false},
		{"html preferred", []string{"Accept", "application/json;q=0.5, TEXT/HTML"}, true},
		{"html refused", []string{"Accept", "text/html;q=0"}, false},
		{"curl", []string{"Accept", "*/*"}, false},
		{"no headers", nil, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Set(tc.header[i], tc.header[i+1])
		}
		if got := isNavigation(r); got != tc.want {
			t.Errorf("%s: isNavigation = %v, want %v", tc.name, got, tc.want)
		}
	}
}

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
	for _, tc := range tests {
		if got := tc.g.allows(s); got != tc.want {
			t.Errorf("%s: allows = %v, want %v", tc.name, got, tc.want)
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
		if err := tc.g.setup(caddy.Context{}, h.ErrorPath, h.CookieName, nil, nil, nil); err != nil {
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
		case tc.want == "" && (len(h.Guard.headers) != 1 || h.Guard.headers[0].name != "X-Sgid-Sub"):
			t.Errorf("identity headers compiled to %v", h.Guard.headers)
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
			if got := !protectsPath(h.guard, req); got != exempt {
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
		outer.guard.ForwardCookie = forward
		inner, _ := benchHandler(t)
		core, logs := observer.New(zap.DebugLevel)
		inner.guard.logger = zap.New(core)
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
