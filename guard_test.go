package caddysgid

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
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

// --- Integration tests through Caddy ----------------------------------------

var (
	fetchHeaders    = http.Header{"Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Dest": {"empty"}, "Sec-Fetch-Site": {"same-origin"}, "Accept": {"*/*"}}
	navigateHeaders = http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}, "Sec-Fetch-Site": {"none"}, "Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}}
	oldNavHeaders   = http.Header{"Accept": {"text/html,application/xhtml+xml,*/*;q=0.8"}}
)

func TestGuardAPIAndNavigation(t *testing.T) {
	e, up := newGuardEnv(t, "protect /api/* /app/*\n\t\tlogin_page /login"+guardIdentity)
	persona := e.provider.Personas()[0]
	b := newBrowser(t)

	checkLoginRequired := func(name string, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusUnauthorized || body != `{"error":"login_required"}` ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Location") != "" ||
			resp.Header.Get("WWW-Authenticate") != "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v %q, want 401 JSON", name, resp.StatusCode, resp.Header, body)
		}
	}
	// API calls without a login: 401 JSON, never a redirect.
	for name, hdr := range map[string]http.Header{
		"fetch":                 fetchHeaders,
		"json client":           {"Accept": {"application/json"}},
		"no Accept (curl, Go)":  {},
		"XHR of an old browser": {"Accept": {"text/html, */*"}, "X-Requested-With": {"XMLHttpRequest"}},
	} {
		resp, body := b.sendRaw(http.MethodGet, "/api/orders?id=7", hdr, nil)
		checkLoginRequired(name, resp, body)
		resp, body = b.sendRaw(http.MethodPost, "/app/form", hdr, strings.NewReader("x=1"))
		checkLoginRequired(name+" POST", resp, body)
	}
	// Paths are matched as Caddy's path matcher does: case-insensitive and
	// cleaned, so variants of a protected path are protected too.
	for _, path := range []string{"/API/orders", "/pub/../api/orders", "/pub/%2e%2e/api/orders", "//api//orders"} {
		resp, body := b.sendRaw(http.MethodGet, path, fetchHeaders, nil)
		checkLoginRequired(path, resp, body)
	}
	// Navigations: to the login page, with the way back.
	for name, hdr := range map[string]http.Header{"Sec-Fetch": navigateHeaders, "Accept only": oldNavHeaders} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			resp, _ := b.sendRaw(method, "/app/orders?id=7&tab=a%20b", hdr, nil)
			want := "/login?return_to=" + url.QueryEscape("/app/orders?id=7&tab=a%20b")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
				t.Errorf("%s %s navigation: %d to %q, want 302 to %q", name, method, resp.StatusCode, resp.Header.Get("Location"), want)
			}
		}
		// A form POST is not redirected: its body would be lost.
		resp, body := b.sendRaw(http.MethodPost, "/app/form", hdr, strings.NewReader("x=1"))
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "log in") {
			t.Errorf("%s POST navigation: %d %q", name, resp.StatusCode, body)
		}
	}
	// The login page, the sgid routes and unprotected paths stay open.
	if resp, body := b.sendRaw(http.MethodGet, "/login", navigateHeaders, nil); resp.StatusCode != http.StatusOK || body != "login page" {
		t.Errorf("login page: %d %q", resp.StatusCode, body)
	}
	if status, obj, body := b.userinfo(); status != http.StatusUnauthorized || obj != nil {
		t.Errorf("userinfo is the sgid route's own answer, got %d %q", status, body)
	}
	if up.hits.Load() != 0 {
		t.Fatalf("the upstream saw %d requests without a login", up.hits.Load())
	}
	got := b.upstreamSaw(b.sendRaw(http.MethodGet, "/pub/news", fetchHeaders, nil))
	for _, h := range []string{"X-Sgid-Sub", "X-Sgid-Name"} {
		if v, ok := got.Header[h]; ok {
			t.Errorf("anonymous request passed on with %s: %q", h, v)
		}
	}

	// Logged in (the login itself crosses the unguarded sgid routes).
	if loc := b.login("icecream=Vanilla"); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	for name, hdr := range map[string]http.Header{"fetch": fetchHeaders, "navigation": navigateHeaders} {
		got := b.upstreamSaw(b.sendRaw(http.MethodGet, "/api/orders", hdr, nil))
		if got.Path != "/api/orders" || got.Header.Get("X-Sgid-Sub") != persona.Sub {
			t.Errorf("%s: upstream saw %s with X-Sgid-Sub %q", name, got.Path, got.Header.Get("X-Sgid-Sub"))
		}
	}
	// Unprotected paths get the identity too when someone is logged in.
	if got := b.upstreamSaw(b.sendRaw(http.MethodGet, "/pub/news", nil, nil)); got.Header.Get("X-Sgid-Sub") != persona.Sub {
		t.Errorf("unprotected path: X-Sgid-Sub %q", got.Header.Get("X-Sgid-Sub"))
	}

	// After logout the same API call is refused again.
	if resp, _ := b.get(testOrigin + "/api/logout"); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, body := b.sendRaw(http.MethodGet, "/api/orders", fetchHeaders, nil)
	checkLoginRequired("after logout", resp, body)
	// So is a replay of the old session cookie.
	replay := newBrowser(t)
	u, _ := url.Parse(testOrigin)
	replay.jr.SetCookies(u, []*http.Cookie{{Name: DefaultCookieName, Value: session.NewID()}})
	resp, body = replay.sendRaw(http.MethodGet, "/api/orders", fetchHeaders, nil)
	checkLoginRequired("unknown session", resp, body)
}

func TestGuardIdentityHeaderEncoding(t *testing.T) {
	e, _ := newGuardEnv(t, "protect /api/*"+guardIdentity)
	persona := e.provider.Personas()[0]
	if !strings.Contains(persona.Data["myinfo.registered_address"], "\n") || isASCII(persona.Data["myinfo.name"]) {
		t.Fatal("persona 0 should have a non-ASCII name and a multi-line address")
	}
	b := newBrowser(t)
	// App values hold no control characters (auth-url refuses them); the
	// address from sgID carries line breaks.
	iceCream := " Rocky+Road 100% \"é\" "
	b.login("icecream=" + url.QueryEscape(iceCream))
	got := b.upstreamSaw(b.sendRaw(http.MethodGet, "/api/me", fetchHeaders, nil))
	for header, want := range map[string]string{
		"X-Sgid-Sub":      persona.Sub,
		"X-Sgid-Name":     persona.Data["myinfo.name"],
		"X-Sgid-Address":  persona.Data["myinfo.registered_address"],
		"X-Sgid-Email":    persona.Data["myinfo.email"],
		"X-Sgid-Icecream": iceCream,
	} {
		vals := got.Header[header]
		if len(vals) != 1 {
			t.Errorf("%s: %q, want one value", header, vals)
			continue
		}
		if vals[0] != idheader.Encode(want) {
			t.Errorf("%s = %q, want %q", header, vals[0], idheader.Encode(want))
		}
		checkIdentityEncoding(t, want, vals[0])
	}
	if v := got.Header.Get("X-Sgid-Name"); v != "TAN WEI MING (%E9%99%88%E4%BC%9F%E6%98%8E)" {
		t.Errorf("X-Sgid-Name = %q", v)
	}
	if v := got.Header.Get("X-Sgid-Address"); v != "BLK 101 EXAMPLE AVENUE 1%0A#05-123%0ASINGAPORE 000101" {
		t.Errorf("X-Sgid-Address = %q", v)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestGuardSpoofedIdentityHeaders sends identity headers from the client in
// every combination; only the handler's own values may reach the upstream.
func TestGuardSpoofedIdentityHeaders(t *testing.T) {
	e, up := newGuardEnv(t, "protect /api/*"+guardIdentity)
	persona := e.provider.Personas()[0]
	names := []string{"X-Sgid-Sub", "X-Sgid-Name", "X-Sgid-Address", "X-Sgid-Email", "X-Sgid-Icecream"}
	variants := map[string]http.Header{
		"canonical":  {"X-Sgid-Sub": {"evil"}},
		"lower case": {"x-sgid-sub": {"evil"}},
		"upper case": {"X-SGID-SUB": {"evil"}},
		"underscore": {"X_Sgid_Sub": {"evil"}, "x_sgid_name": {"evil"}},
		"mixed _ -":  {"X-Sgid_Address": {"evil"}},
		"duplicates": {"X-Sgid-Sub": {"evil", "evil2"}, "x-sgid-sub": {"evil3"}, "X-SGID-Sub": {"evil4"}},
		// No icecream was chosen at login: the header must be absent, not the client's.
		"field the user lacks": {"X-Sgid-Icecream": {"evil"}},
		"all of them": {"X-Sgid-Sub": {"evil"}, "X-Sgid-Name": {"evil"}, "X-Sgid-Address": {"evil"},
			"X-Sgid-Email": {"evil"}, "X-Sgid-Icecream": {"evil"}, "x-sgid-sub": {"evil"}, "X_SGID_EMAIL": {"evil"}},
		// Would make reverse_proxy drop the handler's own header.
		"Connection": {"Connection": {"X-Sgid-Sub, x_sgid_name"}},
	}
	check := func(t *testing.T, got echoed, loggedIn bool) {
		t.Helper()
		for k, vals := range got.Header {
			for _, v := range vals {
				if strings.Contains(v, "evil") {
					t.Errorf("spoofed %s: %q reached the upstream", k, v)
				}
			}
			for _, name := range names {
				if len(k) == len(name) && idheader.Same(k, name) && k != name {
					t.Errorf("variant %s of %s reached the upstream", k, name)
				}
			}
		}
		for _, name := range names {
			vals := got.Header[name]
			var want []string
			if loggedIn {
				switch name {
				case "X-Sgid-Sub":
					want = []string{persona.Sub}
				case "X-Sgid-Name":
					want = []string{idheader.Encode(persona.Data["myinfo.name"])}
				}
			}
			if want != nil && strings.Join(vals, "|") != strings.Join(want, "|") {
				t.Errorf("%s = %q, want %q", name, vals, want)
			}
			if !loggedIn && len(vals) > 0 || name == "X-Sgid-Icecream" && len(vals) > 0 {
				t.Errorf("%s = %q, want none", name, vals)
			}
		}
	}
	for _, loggedIn := range []bool{false, true} {
		b := newBrowser(t)
		if loggedIn {
			b.login("")
		}
		for _, path := range []string{"/api/data", "/pub/data"} {
			for vname, spoof := range variants {
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					t.Run(fmt.Sprintf("logged_in=%v %s %s %s", loggedIn, method, path, vname), func(t *testing.T) {
						hdr := fetchHeaders.Clone()
						for k, v := range spoof {
							hdr[k] = v
						}
						var body io.Reader
						if method == http.MethodPost {
							body = strings.NewReader(`{"a":1}`)
						}
						before := up.hits.Load()
						resp, text := b.sendRaw(method, path, hdr, body)
						if !loggedIn && path == "/api/data" {
							if resp.StatusCode != http.StatusUnauthorized || up.hits.Load() != before {
								t.Errorf("anonymous call to a protected path: %d, upstream hits +%d", resp.StatusCode, up.hits.Load()-before)
							}
							return
						}
						check(t, b.upstreamSaw(resp, text), loggedIn)
					})
				}
			}
		}
		// Identity headers sent as request trailers, which reverse_proxy
		// forwards.
		for _, path := range []string{"/api/data", "/pub/data"} {
			if !loggedIn && path == "/api/data" {
				continue
			}
			t.Run(fmt.Sprintf("logged_in=%v trailers %s", loggedIn, path), func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, testOrigin+path, io.MultiReader(strings.NewReader("chunked body")))
				req.Trailer = http.Header{"X-Sgid-Sub": {"evil"}, "X-Sgid-Name": {"evil"}, "X-Checksum": {"ok"}}
				got := b.upstreamSaw(b.do(req))
				if got.Trailer.Get("X-Checksum") != "ok" {
					t.Fatalf("trailers are not forwarded at all (%v); the test proves nothing", got.Trailer)
				}
				for k := range got.Trailer {
					if k != "X-Checksum" {
						t.Errorf("trailer %s reached the upstream", k)
					}
				}
				check(t, got, loggedIn)
			})
		}
	}
}

func TestGuardRules(t *testing.T) {
	e, up := newGuardEnv(t, "protect /api/*"+guardIdentity)
	personas := e.provider.Personas() // 0: citizen, 1: citizen, 2: PR
	e.extra = fmt.Sprintf("protect /api/*\n\t\tallow_sub %s %s\n\t\tallow_field myinfo.residentialstatus CITIZEN SINGAPOREAN%s",
		personas[0].Sub, personas[2].Sub, guardIdentity)
	e.load("")
	for i, want := range []int{http.StatusOK, http.StatusForbidden, http.StatusForbidden} {
		p := personas[i]
		t.Run(p.Sub, func(t *testing.T) {
			if err := e.provider.SelectPersona(p.Sub); err != nil {
				t.Fatal(err)
			}
			b := newBrowser(t)
			b.login("")
			before := up.hits.Load()
			resp, body := b.sendRaw(http.MethodGet, "/api/data", fetchHeaders, nil)
			if resp.StatusCode != want {
				t.Fatalf("status %d %q, want %d", resp.StatusCode, body, want)
			}
			if want == http.StatusForbidden {
				if body != `{"error":"forbidden"}` || resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("403 answer %q %q", resp.Header.Get("Content-Type"), body)
				}
				if up.hits.Load() != before {
					t.Errorf("a forbidden request reached the upstream")
				}
				// A navigation gets text, not a redirect to the login page.
				resp, body = b.sendRaw(http.MethodGet, "/api/data", navigateHeaders, nil)
				if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || !strings.HasPrefix(body, "403") {
					t.Errorf("forbidden navigation: %d %q", resp.StatusCode, body)
				}
			}
			// Rules apply to protected paths only; the sgid routes answer.
			b.upstreamSaw(b.sendRaw(http.MethodGet, "/pub/data", fetchHeaders, nil))
			if status, _, _ := b.userinfo(); status != http.StatusOK {
				t.Errorf("userinfo: %d", status)
			}
		})
	}
}

func TestGuardSessionCookieNotForwarded(t *testing.T) {
	e, _ := newGuardEnv(t, "protect /api/*"+guardIdentity)
	b := newBrowser(t)
	b.login("")
	u, _ := url.Parse(testOrigin)
	b.jr.SetCookies(u, []*http.Cookie{{Name: "theme", Value: "dark"}, {Name: DefaultCookieName + "2", Value: "keep"}})
	sess := b.cookie(DefaultCookieName).Value
	if b.loginCookie() == nil {
		t.Fatal("test wants the login cookie in the jar too")
	}
	for _, path := range []string{"/api/data", "/pub/data"} {
		got := b.upstreamSaw(b.sendRaw(http.MethodGet, path, fetchHeaders, nil))
		cookies := strings.Join(got.Header["Cookie"], "; ")
		if strings.Contains(cookies, sess) || strings.Contains(cookies, DefaultCookieName+"=") || strings.Contains(cookies, DefaultCookieName+loginInfix) {
			t.Errorf("%s: session cookies forwarded: %q", path, cookies)
		}
		if !strings.Contains(cookies, "theme=dark") || !strings.Contains(cookies, DefaultCookieName+"2=keep") {
			t.Errorf("%s: other cookies lost: %q", path, cookies)
		}
	}
	// Only the session cookie: no Cookie header at all upstream.
	only := newBrowser(t)
	only.jr.SetCookies(u, []*http.Cookie{{Name: DefaultCookieName, Value: sess}})
	if got := only.upstreamSaw(only.sendRaw(http.MethodGet, "/api/data", fetchHeaders, nil)); got.Header["Cookie"] != nil {
		t.Errorf("Cookie header %q left", got.Header["Cookie"])
	}

	e.extra = "protect /api/*\n\t\tforward_cookie" + guardIdentity
	e.load("")
	got := b.upstreamSaw(b.sendRaw(http.MethodGet, "/api/data", fetchHeaders, nil))
	if cookies := strings.Join(got.Header["Cookie"], "; "); !strings.Contains(cookies, DefaultCookieName+"="+sess) || !strings.Contains(cookies, "theme=dark") {
		t.Errorf("forward_cookie: upstream got %q", cookies)
	}
}

func TestGuardNoRedirectLoop(t *testing.T) {
	// Everything is protected, the login and error pages included.
	e, _ := newGuardEnv(t, "protect /*\n\t\tlogin_page /login?from=guard"+guardIdentity)
	b := newBrowser(t)
	for _, path := range []string{"/login", "/LOGIN", "/error?reason=x"} {
		if resp, body := b.sendRaw(http.MethodGet, path, navigateHeaders, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %q, want it unguarded", path, resp.StatusCode, body)
		}
	}
	resp, _ := b.sendRaw(http.MethodGet, "/app/x", navigateHeaders, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/login?from=guard&return_to=%2Fapp%2Fx" {
		t.Errorf("navigation: %d to %q", resp.StatusCode, loc)
	}
	// A client that follows redirects lands on the login page after one hop.
	hops := 0
	follow := &http.Client{Transport: testTransport, Jar: b.jr, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = len(via)
		if hops > 3 {
			return fmt.Errorf("redirect loop through %s", req.URL)
		}
		return nil
	}}
	req, _ := http.NewRequest(http.MethodGet, testOrigin+"/app/x", nil)
	req.Header = navigateHeaders.Clone()
	r, err := follow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusOK || string(body) != "login page" || hops != 1 {
		t.Errorf("followed to %d %q in %d hops", r.StatusCode, body, hops)
	}
	// The sgid routes are never guarded: a whole login works.
	if loc := b.login("return_to=%2Fapp%2Fx"); loc != "/app/x" {
		t.Fatalf("login returned to %q", loc)
	}
	persona := e.provider.Personas()[0]
	if got := b.upstreamSaw(b.sendRaw(http.MethodGet, "/app/x", navigateHeaders, nil)); got.Header.Get("X-Sgid-Sub") != persona.Sub {
		t.Errorf("after login: %v", got.Header)
	}
	// A protected path that falls through to `respond` rather than the
	// upstream is guarded as well.
	anon := newBrowser(t)
	if resp, _ := anon.sendRaw(http.MethodGet, "/anything", fetchHeaders, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/anything: %d", resp.StatusCode)
	}
}

// The login page is exempt from protect under ASCII case folding only:
// U+017F (ſ), which strings.EqualFold takes for s, names another path,
// which stays protected.
func TestGuardExemptionFoldsASCIIOnly(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/*"}, LoginPage: "/signin", IdentityHeaders: map[string]string{}})
	for path, exempt := range map[string]bool{
		"/signin":      true,
		"/SignIn":      true,
		"/%C5%BFignin": false,
		"/SIGNIN":      true,
		"/signin/":     false,
	} {
		req := withReplacer(httptest.NewRequest(http.MethodGet, path, nil))
		req.Header.Set("Sec-Fetch-Mode", "cors")
		if got := !h.guard.protects(req); got != exempt {
			t.Errorf("%s: exempt = %v, want %v", path, got, exempt)
		}
	}
	// Through the handler: the look-alike path gets 401, not the upstream.
	req := httptest.NewRequest(http.MethodGet, "/%C5%BFignin", nil)
	req.Header.Set("Sec-Fetch-Mode", "cors")
	if code := serve(t, h, req, okNext); code != http.StatusUnauthorized {
		t.Errorf("/%%C5%%BFignin answered %d, want 401", code)
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
