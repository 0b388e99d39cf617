package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// browser is what a browser sends about where a request comes from.
type browser struct {
	site, mode, dest, origin string
}

func (b browser) set(r *http.Request) {
	for k, v := range map[string]string{"Sec-Fetch-Site": b.site, "Sec-Fetch-Mode": b.mode, "Sec-Fetch-Dest": b.dest, "Origin": b.origin} {
		if v != "" {
			r.Header.Set(k, v)
		}
	}
}

var (
	sameOriginFetch = browser{site: "same-origin", mode: "cors", dest: "empty", origin: "http://app.example"}
	siblingFetch    = browser{site: "same-site", mode: "cors", dest: "empty", origin: "https://evil.app.example"}
	siblingForm     = browser{site: "same-site", mode: "navigate", dest: "document", origin: "https://evil.example"}
	siblingImage    = browser{site: "same-site", mode: "no-cors", dest: "image"}
	crossSiteFrame  = browser{site: "cross-site", mode: "navigate", dest: "iframe"}
	typedAddress    = browser{site: "none", mode: "navigate", dest: "document"}
	oldBrowserPost  = browser{origin: "https://evil.app.example"}
	oldBrowserSame  = browser{origin: "http://app.example"}
	curl            = browser{}
)

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
		if h.origins, err = newOriginPolicy(h.TrustedOrigins); err != nil {
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
			var sub string
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				sub = r.Header.Get("X-Sub")
				w.WriteHeader(http.StatusNoContent)
				return nil
			})
			w := httptest.NewRecorder()
			if err := h.ServeHTTP(w, req, next); err != nil {
				t.Fatal(err)
			}
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
		var sub string
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			sub = r.Header.Get("X-Sub")
			w.WriteHeader(http.StatusNoContent)
			return nil
		})
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, next); err != nil {
			t.Fatal(err)
		}
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

func TestTrustedOriginsValidated(t *testing.T) {
	t.Parallel()
	for origin, ok := range map[string]bool{"https://admin.example": true, "http://localhost:5001": true, "admin.example": false, "https://admin.example/path": false} {
		if _, err := newOriginPolicy([]string{origin}); (err == nil) != ok {
			t.Errorf("%q: %v", origin, err)
		}
	}
}
