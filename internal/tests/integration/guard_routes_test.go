package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

func TestGuardAPIAndNavigation(t *testing.T) {
	e, up := newGuardEnv(t, "protect /api/* /app/*\n\t\tlogin_page /login"+guardIdentity)
	persona := e.provider.Personas()[0]
	b := newBrowser(t)

	checkLoginRequired := func(name string, resp *http.Response, body string) {
		t.Helper()
		login := "/api/auth-url?return_to=" + url.QueryEscape(resp.Request.URL.RequestURI())
		if got := resp.Header.Get("Link"); got != "<"+login+`>; rel="login"` {
			t.Errorf("%s: Link %q, want the login URL %s", name, got, login)
		}
		if resp.StatusCode != http.StatusUnauthorized || body != `{"error":"login_required","login_url":"`+login+`"}` ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Location") != "" ||
			resp.Header.Get("WWW-Authenticate") != "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %v %q, want 401 JSON", name, resp.StatusCode, resp.Header, body)
		}
	}
	// API calls without a login: 401 JSON, never a redirect.
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"fetch", testcaddy.FetchHeaders},
		{"json client", http.Header{"Accept": {"application/json"}}},
		{"no Accept (curl, Go)", http.Header{}},
		{"XHR of an old browser", http.Header{"Accept": {"text/html, */*"}, "X-Requested-With": {"XMLHttpRequest"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, hdr := tc.name, tc.hdr
			resp, body := b.Send(http.MethodGet, "/api/orders?id=7", hdr, nil)
			checkLoginRequired(name, resp, body)
			resp, body = b.Send(http.MethodPost, "/app/form", hdr, strings.NewReader("x=1"))
			checkLoginRequired(name+" POST", resp, body)
		})
	}
	// Paths are matched as Caddy's path matcher does, case-insensitive,
	// so variants of a protected path are protected too; paths that
	// routers may read in more than one way are refused (ambiguous_paths
	// refuse, the default).
	{
		resp, body := b.Send(http.MethodGet, "/API/orders", testcaddy.FetchHeaders, nil)
		checkLoginRequired("/API/orders", resp, body)
	}
	for _, path := range []string{"/pub/../api/orders", "/pub/%2e%2e/api/orders", "//api//orders"} {
		resp, body := b.Send(http.MethodGet, path, testcaddy.FetchHeaders, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"error":"invalid_path"`) {
			t.Errorf("%s: %d %q, want 400 invalid_path", path, resp.StatusCode, body)
		}
	}
	// Navigations: to the login page, with the way back.
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{{"Sec-Fetch", testcaddy.NavigateHeaders}, {"Accept only", testcaddy.OldNavHeaders}} {
		t.Run(tc.name, func(t *testing.T) {
			name, hdr := tc.name, tc.hdr
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				resp, _ := b.Send(method, "/app/orders?id=7&tab=a%20b", hdr, nil)
				want := "/login?return_to=" + url.QueryEscape("/app/orders?id=7&tab=a%20b")
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
					t.Errorf("%s %s navigation: %d to %q, want 302 to %q", name, method, resp.StatusCode, resp.Header.Get("Location"), want)
				}
			}
			// A form POST is not redirected: its body would be lost.
			resp, body := b.Send(http.MethodPost, "/app/form", hdr, strings.NewReader("x=1"))
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "log in") {
				t.Errorf("%s POST navigation: %d %q", name, resp.StatusCode, body)
			}
		})
	}
	// The login page, the sgid routes and unprotected paths stay open.
	if resp, body := b.Send(http.MethodGet, "/login", testcaddy.NavigateHeaders, nil); resp.StatusCode != http.StatusOK || body != "login page" {
		t.Errorf("login page: %d %q", resp.StatusCode, body)
	}
	if status, obj, body := b.Userinfo(); status != http.StatusUnauthorized || obj != nil {
		t.Errorf("userinfo is the sgid route's own answer, got %d %q", status, body)
	}
	if up.hits.Load() != 0 {
		t.Fatalf("the upstream saw %d requests without a login", up.hits.Load())
	}
	got := fromUpstream(b)(b.Send(http.MethodGet, "/pub/news", testcaddy.FetchHeaders, nil))
	for _, h := range []string{"X-Sgid-Sub", "X-Sgid-Name"} {
		if v, ok := got.Header[h]; ok {
			t.Errorf("anonymous request passed on with %s: %q", h, v)
		}
	}

	// Logged in (the login itself crosses the unguarded sgid routes).
	if loc := b.Login("icecream=Vanilla"); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{{"fetch", testcaddy.FetchHeaders}, {"navigation", testcaddy.NavigateHeaders}} {
		t.Run(tc.name, func(t *testing.T) {
			name, hdr := tc.name, tc.hdr
			got := fromUpstream(b)(b.Send(http.MethodGet, "/api/orders", hdr, nil))
			if got.Path != "/api/orders" || got.Header.Get("X-Sgid-Sub") != persona.Sub {
				t.Errorf("%s: upstream saw %s with X-Sgid-Sub %q", name, got.Path, got.Header.Get("X-Sgid-Sub"))
			}
		})
	}
	// Unprotected paths get the identity too when someone is logged in.
	if got := fromUpstream(b)(b.Send(http.MethodGet, "/pub/news", nil, nil)); got.Header.Get("X-Sgid-Sub") != persona.Sub {
		t.Errorf("unprotected path: X-Sgid-Sub %q", got.Header.Get("X-Sgid-Sub"))
	}

	// After logout the same API call is refused again.
	if resp, _ := b.Get(testOrigin + "/api/logout"); resp.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, body := b.Send(http.MethodGet, "/api/orders", testcaddy.FetchHeaders, nil)
	checkLoginRequired("after logout", resp, body)
	// So is a replay of the old session cookie.
	replay := newBrowser(t)
	u, _ := url.Parse(testOrigin)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: caddysgid.DefaultCookieName, Value: session.NewID()}})
	resp, body = replay.Send(http.MethodGet, "/api/orders", testcaddy.FetchHeaders, nil)
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
	b.Login("icecream=" + url.QueryEscape(iceCream))
	got := fromUpstream(b)(b.Send(http.MethodGet, "/api/me", testcaddy.FetchHeaders, nil))
	for _, tc := range []struct {
		name string
		want string
	}{
		{"X-Sgid-Sub", persona.Sub},
		{"X-Sgid-Name", persona.Data["myinfo.name"]},
		{"X-Sgid-Address", persona.Data["myinfo.registered_address"]},
		{"X-Sgid-Email", persona.Data["myinfo.email"]},
		{"X-Sgid-Icecream", iceCream},
	} {
		t.Run(tc.name, func(t *testing.T) {
			header, want := tc.name, tc.want
			vals := got.Header[header]
			if len(vals) != 1 {
				t.Errorf("%s: %q, want one value", header, vals)
				return
			}
			if vals[0] != idheader.Encode(want) {
				t.Errorf("%s = %q, want %q", header, vals[0], idheader.Encode(want))
			}
			testcaddy.CheckIdentityEncoding(t, want, vals[0])
		})
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
			b.Login("")
		}
		for _, path := range []string{"/api/data", "/pub/data"} {
			for vname, spoof := range variants {
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					t.Run(fmt.Sprintf("logged_in=%v %s %s %s", loggedIn, method, path, vname), func(t *testing.T) {
						hdr := testcaddy.FetchHeaders.Clone()
						for k, v := range spoof {
							hdr[k] = v
						}
						var body io.Reader
						if method == http.MethodPost {
							body = strings.NewReader(`{"a":1}`)
						}
						before := up.hits.Load()
						resp, text := b.Send(method, path, hdr, body)
						if !loggedIn && path == "/api/data" {
							if resp.StatusCode != http.StatusUnauthorized || up.hits.Load() != before {
								t.Errorf("anonymous call to a protected path: %d, upstream hits +%d", resp.StatusCode, up.hits.Load()-before)
							}
							return
						}
						check(t, fromUpstream(b)(resp, text), loggedIn)
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
				got := fromUpstream(b)(b.Do(req))
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
			b.Login("")
			before := up.hits.Load()
			resp, body := b.Send(http.MethodGet, "/api/data", testcaddy.FetchHeaders, nil)
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
				resp, body = b.Send(http.MethodGet, "/api/data", testcaddy.NavigateHeaders, nil)
				if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" || !strings.HasPrefix(body, "403") {
					t.Errorf("forbidden navigation: %d %q", resp.StatusCode, body)
				}
			}
			// Rules apply to protected paths only; the sgid routes answer.
			fromUpstream(b)(b.Send(http.MethodGet, "/pub/data", testcaddy.FetchHeaders, nil))
			if status, _, _ := b.Userinfo(); status != http.StatusOK {
				t.Errorf("userinfo: %d", status)
			}
		})
	}
}

func TestGuardSessionCookieNotForwarded(t *testing.T) {
	e, _ := newGuardEnv(t, "protect /api/*"+guardIdentity)
	b := newBrowser(t)
	b.Login("")
	u, _ := url.Parse(testOrigin)
	b.Jar.SetCookies(u, []*http.Cookie{{Name: "theme", Value: "dark"}, {Name: caddysgid.DefaultCookieName + "2", Value: "keep"}})
	sess := b.Cookie(caddysgid.DefaultCookieName).Value
	if loginCookie(b) == nil {
		t.Fatal("test wants the login cookie in the jar too")
	}
	for _, path := range []string{"/api/data", "/pub/data"} {
		got := fromUpstream(b)(b.Send(http.MethodGet, path, testcaddy.FetchHeaders, nil))
		cookies := strings.Join(got.Header["Cookie"], "; ")
		if strings.Contains(cookies, sess) || strings.Contains(cookies, caddysgid.DefaultCookieName+"=") || strings.Contains(cookies, loginCookiePrefix) {
			t.Errorf("%s: session cookies forwarded: %q", path, cookies)
		}
		if !strings.Contains(cookies, "theme=dark") || !strings.Contains(cookies, caddysgid.DefaultCookieName+"2=keep") {
			t.Errorf("%s: other cookies lost: %q", path, cookies)
		}
	}
	// Only the session cookie: no Cookie header at all upstream.
	only := newBrowser(t)
	only.Jar.SetCookies(u, []*http.Cookie{{Name: caddysgid.DefaultCookieName, Value: sess}})
	if got := fromUpstream(only)(only.Send(http.MethodGet, "/api/data", testcaddy.FetchHeaders, nil)); got.Header["Cookie"] != nil {
		t.Errorf("Cookie header %q left", got.Header["Cookie"])
	}

	e.extra = "protect /api/*\n\t\tforward_cookie" + guardIdentity
	e.load("")
	got := fromUpstream(b)(b.Send(http.MethodGet, "/api/data", testcaddy.FetchHeaders, nil))
	if cookies := strings.Join(got.Header["Cookie"], "; "); !strings.Contains(cookies, caddysgid.DefaultCookieName+"="+sess) || !strings.Contains(cookies, "theme=dark") {
		t.Errorf("forward_cookie: upstream got %q", cookies)
	}
}

func TestGuardNoRedirectLoop(t *testing.T) {
	// Everything is protected, the login and error pages included.
	e, _ := newGuardEnv(t, "protect /*\n\t\tlogin_page /login?from=guard"+guardIdentity)
	b := newBrowser(t)
	for _, path := range []string{"/login", "/LOGIN", "/error?reason=x"} {
		if resp, body := b.Send(http.MethodGet, path, testcaddy.NavigateHeaders, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %q, want it unguarded", path, resp.StatusCode, body)
		}
	}
	resp, _ := b.Send(http.MethodGet, "/app/x", testcaddy.NavigateHeaders, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || loc != "/login?from=guard&return_to=%2Fapp%2Fx" {
		t.Errorf("navigation: %d to %q", resp.StatusCode, loc)
	}
	// A client that follows redirects lands on the login page after one hop.
	hops := 0
	follow := &http.Client{Transport: testcaddy.ReloadTransport, Jar: b.Jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		hops = len(via)
		if hops > 3 {
			return fmt.Errorf("redirect loop through %s", req.URL)
		}
		return nil
	}}
	req, _ := http.NewRequest(http.MethodGet, testOrigin+"/app/x", nil)
	req.Header = testcaddy.NavigateHeaders.Clone()
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
	if loc := b.Login("return_to=%2Fapp%2Fx"); loc != "/app/x" {
		t.Fatalf("login returned to %q", loc)
	}
	persona := e.provider.Personas()[0]
	if got := fromUpstream(b)(b.Send(http.MethodGet, "/app/x", testcaddy.NavigateHeaders, nil)); got.Header.Get("X-Sgid-Sub") != persona.Sub {
		t.Errorf("after login: %v", got.Header)
	}
	// A protected path that falls through to `respond` rather than the
	// upstream is guarded as well.
	anon := newBrowser(t)
	if resp, _ := anon.Send(http.MethodGet, "/anything", testcaddy.FetchHeaders, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/anything: %d", resp.StatusCode)
	}
}
