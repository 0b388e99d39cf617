package caddysgid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/spaclient"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// spaState is the session route's answer, with every field as JSON has
// it, so that a missing or mistyped one shows.
type spaState struct {
	Active        *bool   `json:"active"`
	Sub           *string `json:"sub"`
	AuthTime      *int64  `json:"auth_time"`
	ExpiresAt     *int64  `json:"expires_at"`
	IdleExpiresAt *int64  `json:"idle_expires_at"`
	LoginURL      *string `json:"login_url"`
	LogoutURL     *string `json:"logout_url"`
}

// spaRequest runs one request through h with the session cookie of id
// (none when "") and Sec-Fetch-Site site (none when "").
func spaRequest(t *testing.T, h *Handler, method, target, id, site string) *httptest.ResponseRecorder {
	t.Helper()
	req := withReplacer(httptest.NewRequest(method, target, nil))
	if id != "" {
		req.AddCookie(&http.Cookie{Name: h.CookieName, Value: id})
	}
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	}
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, req, okNext); err != nil {
		t.Fatal(err)
	}
	return w
}

func decodeState(t *testing.T, w *httptest.ResponseRecorder) spaState {
	t.Helper()
	var st spaState
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Active == nil || st.LoginURL == nil || st.LogoutURL == nil {
		t.Fatalf("session answer %d %q: %v", w.Code, w.Body, err)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("session answer Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	return st
}

// idleSPAHandler is a handler with a 10 minute idle timeout on clk, and
// one session started at clk's now.
func idleSPAHandler(t *testing.T, clk *testclock.Clock) (*Handler, string) {
	h := unitHandler(t, &Handler{SessionIdleTimeout: caddy.Duration(10 * time.Minute)}, nil, clk.Now)
	id := putTestSession(t, h, session.Session{Sub: "s1", Login: clk.Now(), Expires: clk.Now().Add(time.Hour)})
	return h, id
}

// TestSessionRoute: without a session the route answers 200 inactive with
// nulls and the URLs; with one, its sub and times in Unix seconds.
func TestSessionRoute(t *testing.T) {
	t.Parallel()
	clk := testclock.New(time.Unix(1_700_000_000, 0))
	h, id := idleSPAHandler(t, clk)
	w := spaRequest(t, h, http.MethodGet, DefaultSessionPath, "", "")
	st := decodeState(t, w)
	if w.Code != http.StatusOK || *st.Active || st.Sub != nil || st.AuthTime != nil || st.ExpiresAt != nil || st.IdleExpiresAt != nil ||
		*st.LoginURL != DefaultAuthURLPath || *st.LogoutURL != DefaultLogoutPath {
		t.Errorf("no session: %d %s", w.Code, w.Body)
	}
	start := clk.Now().Unix()
	w = spaRequest(t, h, http.MethodGet, DefaultSessionPath, id, "same-origin")
	st = decodeState(t, w)
	if !*st.Active || st.Sub == nil || *st.Sub != "s1" || st.AuthTime == nil || *st.AuthTime != start ||
		st.ExpiresAt == nil || *st.ExpiresAt != start+3600 || st.IdleExpiresAt == nil || *st.IdleExpiresAt != start+11*60 {
		t.Errorf("session: %s", w.Body)
	}
	if w := spaRequest(t, h, http.MethodPost, DefaultSessionPath, id, "same-origin"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST to the session route: %d", w.Code)
	}
}

// TestSessionRoutePollingLetsIdleEnd: a page that polls the session route
// for longer than the idle timeout does not keep the session alive, while
// the same polling of any other path does.
func TestSessionRoutePollingLetsIdleEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path      string
		wantAlive bool
	}{
		{DefaultSessionPath, false},
		{"/app/page", true},
	} {
		t.Run(tc.path, func(t *testing.T) {
			clk := testclock.New(time.Unix(1_700_000_000, 0))
			h, id := idleSPAHandler(t, clk)
			for range 30 { // 15 minutes
				clk.Advance(30 * time.Second)
				spaRequest(t, h, http.MethodGet, tc.path, id, "same-origin")
			}
			st := decodeState(t, spaRequest(t, h, http.MethodGet, DefaultSessionPath, id, "same-origin"))
			if *st.Active != tc.wantAlive {
				t.Errorf("after 15 min of polling %s: active %v, want %v", tc.path, *st.Active, tc.wantAlive)
			}
		})
	}
}

// TestExtendRoute: a same-origin POST moves the idle end and answers the
// new times; another origin's is refused and moves nothing; without a
// session it answers 401 with the way back.
func TestExtendRoute(t *testing.T) {
	t.Parallel()
	clk := testclock.New(time.Unix(1_700_000_000, 0))
	h, id := idleSPAHandler(t, clk)
	extend := DefaultSessionPath + "/extend"
	clk.Advance(5 * time.Minute)
	if w := spaRequest(t, h, http.MethodPost, extend, id, "cross-site"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"cross_origin"`) {
		t.Errorf("cross-site extend: %d %s", w.Code, w.Body)
	}
	if w := spaRequest(t, h, http.MethodPost, extend, id, "same-site"); w.Code != http.StatusForbidden {
		t.Errorf("sibling subdomain's extend: %d %s", w.Code, w.Body)
	}
	before := decodeState(t, spaRequest(t, h, http.MethodGet, DefaultSessionPath, id, ""))
	if *before.IdleExpiresAt != time.Unix(1_700_000_000, 0).Add(11*time.Minute).Unix() {
		t.Errorf("a refused extend moved the idle end: %s", spaRequest(t, h, http.MethodGet, DefaultSessionPath, id, "").Body)
	}
	w := spaRequest(t, h, http.MethodPost, extend, id, "same-origin")
	st := decodeState(t, w)
	if w.Code != http.StatusOK || !*st.Active || *st.IdleExpiresAt != clk.Now().Add(11*time.Minute).Unix() {
		t.Errorf("extend: %d %s", w.Code, w.Body)
	}
	if w := spaRequest(t, h, http.MethodGet, extend, id, "same-origin"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET extend: %d", w.Code)
	}
	w = spaRequest(t, h, http.MethodPost, extend, "", "same-origin")
	if w.Code != http.StatusUnauthorized || w.Body.String() != `{"error":"login_required","login_url":"/api/auth-url"}` ||
		w.Header().Get("Link") != `</api/auth-url>; rel="login"` {
		t.Errorf("extend without a session: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// TestClientAssetsServed: sgid.js and the login window are served in the
// folder of auth_url_path, moved with it.
func TestClientAssetsServed(t *testing.T) {
	t.Parallel()
	h := unitHandler(t, &Handler{AuthURLPath: "/auth/start"}, nil, nil)
	for _, tc := range []struct{ path, ctype, cache string }{
		{"/auth/sgid.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/auth/" + spaclient.Client.Versioned, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/auth/sgid-popup.js", "text/javascript; charset=utf-8", "no-cache"},
		{"/auth/login-popup", "text/html; charset=utf-8", "no-store"},
	} {
		w := spaRequest(t, h, http.MethodGet, tc.path, "", "")
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != tc.ctype || w.Header().Get("Cache-Control") != tc.cache || w.Body.Len() == 0 {
			t.Errorf("%s: %d %v", tc.path, w.Code, w.Header())
		}
	}
	page := spaRequest(t, h, http.MethodGet, "/auth/login-popup", "", "").Body.String()
	if !strings.Contains(page, `src="/auth/`+spaclient.Popup.Versioned+`"`) || !strings.Contains(page, "/auth/start") {
		t.Errorf("the login window does not load its script from the folder or start at auth_url_path:\n%s", page)
	}
	for _, p := range []string{"/api/sgid.js", "/auth/other.js", "/auth/x/sgid.js"} {
		if w := spaRequest(t, h, http.MethodGet, p, "", ""); w.Code != http.StatusNoContent {
			t.Errorf("%s: %d, want passed on", p, w.Code)
		}
	}
}

// TestLoginRequiredCarriesTheWayBack: the guard's 401 to an API call
// names the login URL coming back to the page, in the body and a Link;
// userinfo keeps its null body and gets the Link.
func TestLoginRequiredCarriesTheWayBack(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{Protect: []string{"/app/*"}})
	w := spaRequest(t, h, http.MethodGet, "/app/orders?id=7&x=y", "", "")
	const login = "/api/auth-url?return_to=%2Fapp%2Forders%3Fid%3D7%26x%3Dy"
	if w.Code != http.StatusUnauthorized || w.Body.String() != `{"error":"login_required","login_url":"`+login+`"}` ||
		w.Header().Get("Link") != "<"+login+`>; rel="login"` {
		t.Errorf("guard 401: %d %v %s", w.Code, w.Header(), w.Body)
	}
	w = spaRequest(t, h, http.MethodGet, DefaultUserinfoPath, "", "")
	if w.Code != http.StatusUnauthorized || w.Body.String() != "null" || w.Header().Get("Link") != `</api/auth-url>; rel="login"` {
		t.Errorf("userinfo 401: %d %v %s", w.Code, w.Header(), w.Body)
	}
}
