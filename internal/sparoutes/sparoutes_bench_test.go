package sparoutes

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// BenchmarkSessionRoute: GET session_path for a logged-in user, on the
// memory store with the memo of opened sessions, as a polling page sends
// it.
func BenchmarkSessionRoute(b *testing.B) {
	mem, err := (&store.Memory{MaxEntries: 100}).Open(storetest.RandomKey(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mem.Close() })
	m := session.New(session.Options{Store: mem, LoginTimeout: 10 * time.Minute, KeyRotation: time.Hour,
		Cookies: cookie.Jar{Name: cookieName}, Lifetime: time.Hour, MemoTTL: 10 * time.Second})
	rt := New(Config{AuthURLPath: "/api/auth-url", LogoutPath: "/api/logout", SessionPath: "/api/session", Sessions: m})
	id := session.NewID()
	if _, err := m.Finish(b.Context(), httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/redirect", nil), session.Login{SessionID: id}, session.Session{Sub: "u=ABCDEFGHIJ"}); err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/session", nil)
	r.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		w.Body.Reset()
		if served, _ := rt.Serve(w, r); !served || w.Code != http.StatusOK {
			b.Fatalf("served %v, %d", served, w.Code)
		}
	}
}
