package sparoutes

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

const (
	cookieName   = "sgid_session"
	chromeOnMac  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	firefoxOnWin = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"
)

// downStore is a store that fails every call while down is set.
type downStore struct {
	store.Store
	down atomic.Bool
}

func (s *downStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.down.Load() {
		return nil, errors.New("store down")
	}
	return s.Store.Get(ctx, key)
}

// sessionsRig is the routes on a memory store, with the handler's origin
// rule reduced to Sec-Fetch-Site.
type sessionsRig struct {
	t  *testing.T
	m  *session.Manager
	st *downStore
	rt *Routes
}

func newSessionsRig(t *testing.T) *sessionsRig {
	t.Helper()
	mem, err := (&store.Memory{MaxEntries: 100}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	st := &downStore{Store: mem}
	m := session.New(session.Options{
		Store:        st,
		LoginTimeout: 10 * time.Minute,
		KeyRotation:  time.Hour,
		Cookies:      cookie.Jar{Name: cookieName},
		Lifetime:     time.Hour,
	})
	rt := New(Config{
		AuthURLPath: "/api/auth-url",
		LogoutPath:  "/api/logout",
		SessionPath: "/api/session",
		Sessions:    m,
		SameOrigin:  func(r *http.Request) bool { return r.Header.Get("Sec-Fetch-Site") == "same-origin" },
	})
	return &sessionsRig{t: t, m: m, st: st, rt: rt}
}

// login starts a session of sub from a browser sending userAgent and
// returns its cookie's value.
func (g *sessionsRig) login(sub, userAgent string) string {
	g.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/api/redirect", nil)
	r.Header.Set("User-Agent", userAgent)
	id := session.NewID()
	if _, err := g.m.Finish(g.t.Context(), httptest.NewRecorder(), r, session.Login{SessionID: id}, session.Session{Sub: sub}); err != nil {
		g.t.Fatal(err)
	}
	return id
}

// do serves method path with the session cookie id (none when "") and the
// headers a same-origin fetch sends.
func (g *sessionsRig) do(method, path, id string, header ...string) *httptest.ResponseRecorder {
	g.t.Helper()
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	if id != "" {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	}
	w := httptest.NewRecorder()
	served, err := g.rt.Serve(w, r)
	if !served || err != nil {
		g.t.Fatalf("%s %s: served %v, %v", method, path, served, err)
	}
	return w
}

// list is the sessions route's answer to the session id.
func (g *sessionsRig) list(id string) Sessions {
	g.t.Helper()
	w := g.do(http.MethodGet, "/api/sessions", id)
	var got Sessions
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &got) != nil {
		g.t.Fatalf("GET /api/sessions: %d %s", w.Code, w.Body)
	}
	return got
}

// alive reports whether the session of id is still live.
func (g *sessionsRig) alive(id string) bool {
	g.t.Helper()
	ok, err := g.m.Alive(g.t.Context(), id)
	if err != nil {
		g.t.Fatal(err)
	}
	return ok
}

// TestSessionsRouteShape: the list holds the user's sessions and no
// other's, each with exactly the documented fields: a handle, the login
// and the last use in Unix seconds to the minute, the browser's label,
// and current for this one only; it is a JSON answer like the others.
func TestSessionsRouteShape(t *testing.T) {
	t.Parallel()
	g := newSessionsRig(t)
	mine, other := g.login("alice", chromeOnMac), g.login("alice", firefoxOnWin)
	g.login("bob", chromeOnMac)

	w := g.do(http.MethodGet, "/api/sessions", mine)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("GET: %d %v %s", w.Code, w.Header(), w.Body)
	}
	var raw struct {
		Sessions  []map[string]any `json:"sessions"`
		Truncated *bool            `json:"truncated"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || raw.Truncated == nil || *raw.Truncated || len(raw.Sessions) != 2 {
		t.Fatalf("answer %s: %v", w.Body, err)
	}
	for i, s := range raw.Sessions {
		var keys []string
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"created", "current", "device", "handle", "last_seen"}) {
			t.Errorf("session %d has the fields %q", i, keys)
		}
		created, _ := s["created"].(float64)
		if created == 0 || int64(created)%60 != 0 || s["last_seen"] != s["created"] {
			t.Errorf("session %d: created %v, last seen %v; want the login to the minute", i, s["created"], s["last_seen"])
		}
		if h, _ := s["handle"].(string); h == "" || h == mine || h == other || h == session.Key(mine) || h == session.Key(other) {
			t.Errorf("session %d: handle %q", i, s["handle"])
		}
	}
	if raw.Sessions[0]["current"] != true || raw.Sessions[0]["device"] != "Chrome on macOS" ||
		raw.Sessions[1]["current"] != false || raw.Sessions[1]["device"] != "Firefox on Windows" {
		t.Errorf("sessions %v", raw.Sessions)
	}
	if h := g.do(http.MethodHead, "/api/sessions", mine); h.Code != http.StatusOK {
		t.Errorf("HEAD: %d", h.Code)
	}
}

// TestSessionsRouteRefusals: without a session both routes answer 401
// with the way to log in; other methods get 405 with Allow; a cross-origin
// DELETE gets 403 and ends nothing; a handle of another user's session, or
// a malformed one, gets 404 and ends nothing; a store that cannot answer
// gets 503.
func TestSessionsRouteRefusals(t *testing.T) {
	t.Parallel()
	g := newSessionsRig(t)
	alice, bob := g.login("alice", chromeOnMac), g.login("bob", firefoxOnWin)
	aliceHandle, bobHandle := g.list(alice).Sessions[0].Handle, g.list(bob).Sessions[0].Handle

	for _, tc := range []struct {
		name, method, path, id string
		header                 []string
		status                 int
		body, allow            string
	}{
		{"list without a session", http.MethodGet, "/api/sessions", "", nil, http.StatusUnauthorized, `{"error":"login_required","login_url":"/api/auth-url"}`, ""},
		{"list with an unknown cookie", http.MethodGet, "/api/sessions", session.NewID(), nil, http.StatusUnauthorized, `{"error":"login_required","login_url":"/api/auth-url"}`, ""},
		{"delete without a session", http.MethodDelete, "/api/sessions/" + aliceHandle, "", nil, http.StatusUnauthorized, `{"error":"login_required","login_url":"/api/auth-url"}`, ""},
		{"POST to the list", http.MethodPost, "/api/sessions", alice, nil, http.StatusMethodNotAllowed, "", "GET, HEAD"},
		{"DELETE of the list", http.MethodDelete, "/api/sessions", alice, nil, http.StatusMethodNotAllowed, "", "GET, HEAD"},
		{"GET of one session", http.MethodGet, "/api/sessions/" + aliceHandle, alice, nil, http.StatusMethodNotAllowed, "", "DELETE"},
		{"cross-origin delete", http.MethodDelete, "/api/sessions/" + aliceHandle, alice, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, `{"error":"cross_origin","message":"This request must come from a page of this site."}`, ""},
		{"sibling subdomain's delete", http.MethodDelete, "/api/sessions/" + aliceHandle, alice, []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden, "", ""},
		{"another user's handle", http.MethodDelete, "/api/sessions/" + bobHandle, alice, nil, http.StatusNotFound, `{"error":"not_found","message":"No session of yours has this handle."}`, ""},
		{"a malformed handle", http.MethodDelete, "/api/sessions/" + aliceHandle + "x", alice, nil, http.StatusNotFound, "", ""},
		{"no handle", http.MethodDelete, "/api/sessions/", alice, nil, http.StatusNotFound, "", ""},
		{"a path below a handle", http.MethodDelete, "/api/sessions/" + aliceHandle + "/x", alice, nil, http.StatusNotFound, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := g.do(tc.method, tc.path, tc.id, tc.header...)
			if w.Code != tc.status || (tc.body != "" && w.Body.String() != tc.body) || w.Header().Get("Allow") != tc.allow {
				t.Errorf("%d %s (Allow %q), want %d %s (Allow %q)", w.Code, w.Body, w.Header().Get("Allow"), tc.status, tc.body, tc.allow)
			}
			if tc.status == http.StatusUnauthorized && w.Header().Get("Link") != `</api/auth-url>; rel="login"` {
				t.Errorf("401 without the login Link: %q", w.Header().Get("Link"))
			}
			if len(w.Result().Cookies()) != 0 {
				t.Errorf("a refusal set cookies: %v", w.Result().Cookies())
			}
			if !g.alive(alice) || !g.alive(bob) {
				t.Fatal("a refused request ended a session")
			}
		})
	}

	g.st.down.Store(true)
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		path := "/api/sessions"
		if method == http.MethodDelete {
			path += "/" + aliceHandle
		}
		if w := g.do(method, path, alice); w.Code != http.StatusServiceUnavailable {
			t.Errorf("%s with the store down: %d %s, want 503", method, w.Code, w.Body)
		}
	}
}

// TestEndSession: DELETE ends another session of the user and leaves this
// browser's cookie; ending this browser's own session expires its cookies
// too, as logout does.
func TestEndSession(t *testing.T) {
	t.Parallel()
	g := newSessionsRig(t)
	mine, other := g.login("alice", chromeOnMac), g.login("alice", firefoxOnWin)
	listed := g.list(mine).Sessions
	if len(listed) != 2 || !listed[0].Current {
		t.Fatalf("listed %+v", listed)
	}

	w := g.do(http.MethodDelete, "/api/sessions/"+listed[1].Handle, mine)
	if w.Code != http.StatusOK || w.Body.String() != `{"ended":1}` || len(w.Result().Cookies()) != 0 {
		t.Fatalf("ending the other session: %d %s, cookies %v", w.Code, w.Body, w.Result().Cookies())
	}
	if g.alive(other) || !g.alive(mine) {
		t.Fatalf("after ending the other session: it lives %v, this one %v", g.alive(other), g.alive(mine))
	}
	if n := len(g.list(mine).Sessions); n != 1 {
		t.Errorf("%d sessions listed after ending one of two", n)
	}

	w = g.do(http.MethodDelete, "/api/sessions/"+listed[0].Handle, mine)
	if w.Code != http.StatusOK || w.Body.String() != `{"ended":1}` || g.alive(mine) {
		t.Fatalf("ending this session: %d %s, alive %v", w.Code, w.Body, g.alive(mine))
	}
	var expired bool
	for _, c := range w.Result().Cookies() {
		expired = expired || (c.Name == cookieName && c.MaxAge < 0)
	}
	if !expired {
		t.Errorf("ending this session kept its cookie: %v", w.Result().Cookies())
	}
}
