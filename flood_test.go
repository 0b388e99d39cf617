package caddysgid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// A flood of logins that a client starts and then cancels at sgID (or
// sends back with no code) writes nothing to the store, so however far it
// goes past the memory store's bound, a logged-in user stays logged in.
func TestCallbackFloodKeepsSessions(t *testing.T) {
	t.Parallel()
	st, err := (&store.Memory{MaxEntries: 40}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := unitHandler(t, &Handler{}, st, nil)
	h.client = mustTestClient(t)
	id := putTestSession(t, h, session.Session{Sub: "sgidtest:alice", Expires: time.Now().Add(time.Hour)})
	userinfo := func() int {
		req := httptest.NewRequest(http.MethodGet, DefaultUserinfoPath, nil)
		req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
		return serve(t, h, req, okNext)
	}
	for i := range 200 {
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, withReplacer(httptest.NewRequest(http.MethodGet, DefaultAuthURLPath, nil)), okNext); err != nil || w.Code != http.StatusOK {
			t.Fatalf("auth-url %d: %d %v", i, w.Code, err)
		}
		var start struct{ URL string }
		json.Unmarshal(w.Body.Bytes(), &start)
		state := testcaddy.QueryValue(t, start.URL, "state")
		cb := httptest.NewRequest(http.MethodGet, DefaultCallbackPath+"?error=access_denied&state="+url.QueryEscape(state), nil)
		for _, c := range w.Result().Cookies() {
			cb.AddCookie(c)
		}
		w = httptest.NewRecorder()
		if err := h.ServeHTTP(w, withReplacer(cb), okNext); err != nil || w.Header().Get("Location") != "/error?reason=access_denied" {
			t.Fatalf("callback %d: %q %v", i, w.Header().Get("Location"), err)
		}
		if i%20 == 0 {
			if status := userinfo(); status != http.StatusOK {
				t.Fatalf("after %d cancelled logins the user is logged out: %d", i+1, status)
			}
		}
	}
	if status := userinfo(); status != http.StatusOK {
		t.Fatalf("after the flood the user is logged out: %d", status)
	}
}
