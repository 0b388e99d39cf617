package caddysgid

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// hijackable is a ResponseWriter whose Hijack hands over one end of a
// pipe; the test holds the other end, as the client would.
type hijackable struct {
	*httptest.ResponseRecorder
	server, client net.Conn
}

func newHijackable() *hijackable {
	s, c := net.Pipe()
	return &hijackable{ResponseRecorder: httptest.NewRecorder(), server: s, client: c}
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.server, bufio.NewReadWriter(bufio.NewReader(h.server), bufio.NewWriter(h.server)), nil
}

// closedSoon reports whether c is closed by the other side within a
// bound far above any scheduling delay; it is a deadline for the test to
// fail instead of hanging, not a measurement.
func closedSoon(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

// stillOpen reports whether c is open: a write reaches the other side,
// which must be read concurrently (a pipe has no buffer).
func stillOpen(t *testing.T, c, other net.Conn) bool {
	t.Helper()
	go io.ReadFull(other, make([]byte, 1))
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Write([]byte{1})
	return err == nil
}

// hijack passes an upgrade request through the tracker's writer as
// reverse_proxy would, and returns the client's end of the connection.
func hijack(t *testing.T, u *upgrades, key, id string) (client net.Conn, held net.Conn) {
	t.Helper()
	hw := newHijackable()
	w := &upgradeWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: hw}, u: u, key: key, id: id}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); hw.client.Close() })
	return hw.client, conn
}

func (u *upgrades) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, hs := range u.held {
		n += len(hs.conns)
	}
	return n
}

func TestUpgradeTrackerEnded(t *testing.T) {
	t.Parallel()
	u := newUpgrades(time.Hour, zap.NewNop())
	defer u.cleanup()
	u.alive = func(context.Context, string) (bool, error) { return true, nil }
	a1, _ := hijack(t, u, "ka", "ida")
	a2, _ := hijack(t, u, "ka", "ida")
	b, bHeld := hijack(t, u, "kb", "idb")
	if n := u.count(); n != 3 {
		t.Fatalf("holding %d connections, want 3", n)
	}
	// Ending a session closes its connections at once, before ended
	// returns, and no other session's.
	u.ended("ka")
	for i, c := range []net.Conn{a1, a2} {
		if !closedSoon(t, c) {
			t.Errorf("connection %d of the ended session is open", i)
		}
	}
	if !stillOpen(t, b, bHeld) {
		t.Error("another session's connection was closed")
	}
	// A connection that closes on its own is forgotten.
	bHeld.Close()
	if n := u.count(); n != 0 {
		t.Errorf("holding %d connections after all closed", n)
	}
}

func TestUpgradeTrackerSweep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		alive    bool
		err      error
		wantOpen bool
	}{
		{"live", true, nil, true},
		{"ended elsewhere, expired or idle", false, nil, false},
		{"store down", false, errors.New("store down"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpgrades(time.Hour, zap.NewNop())
			defer u.cleanup()
			var asked []string
			u.alive = func(_ context.Context, id string) (bool, error) {
				asked = append(asked, id)
				return tc.alive, tc.err
			}
			c, held := hijack(t, u, "k", "id")
			u.sweep()
			if len(asked) != 1 || asked[0] != "id" {
				t.Errorf("the sweep asked about %q, want [id]", asked)
			}
			if tc.wantOpen {
				if !stillOpen(t, c, held) {
					t.Error("closed")
				}
			} else if !closedSoon(t, c) {
				t.Error("left open")
			}
		})
	}
}

// The sweep runs on its own while connections are held, and stops when
// none are.
func TestUpgradeTrackerSweepLoop(t *testing.T) {
	t.Parallel()
	u := newUpgrades(time.Hour, zap.NewNop())
	defer u.cleanup()
	u.every = 10 * time.Millisecond
	var mu sync.Mutex
	live := true
	u.alive = func(context.Context, string) (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return live, nil
	}
	c, _ := hijack(t, u, "k", "id")
	mu.Lock()
	live = false
	mu.Unlock()
	if !closedSoon(t, c) {
		t.Fatal("the sweep loop did not close the connection of a dead session")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		u.mu.Lock()
		running := u.sweeping
		u.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep loop runs on with no connection held")
		}
		time.Sleep(time.Millisecond)
	}
}

// isUpgrade tells the requests that switch protocols.
func TestIsUpgrade(t *testing.T) {
	t.Parallel()
	h2 := func(proto string) *http.Request {
		r := httptest.NewRequest(http.MethodConnect, "/ws", nil)
		r.ProtoMajor = 2
		if proto != "" {
			r.Header.Set(":protocol", proto)
		}
		return r
	}
	h1 := func(conn ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.Header["Connection"] = conn
		return r
	}
	tests := []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"WebSocket", h1("Upgrade"), true},
		{"token list", h1("keep-alive, upgrade"), true},
		{"second value", h1("keep-alive", "UPGRADE"), true},
		{"plain", h1(), false},
		{"keep-alive", h1("keep-alive"), false},
		{"word inside a token", h1("upgraded"), false},
		{"extended CONNECT", h2("websocket"), true},
		{"plain CONNECT", h2(""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isUpgrade(tc.r); got != tc.want {
				t.Errorf("isUpgrade = %v, want %v", got, tc.want)
			}
		})
	}
}

// Through the handler: an upgrade passed on through a protected path with
// a session is held, and a logout closes it; other requests pass as they
// are.
func TestUpgradeEndsWithLogout(t *testing.T) {
	t.Parallel()
	h := unitHandler(t, &Handler{Guard: &Guard{Protect: caddyhttp.MatchPath{"/ws/*"}}}, nil, nil)
	id := putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)})
	cookie := &http.Cookie{Name: DefaultCookieName, Value: id}

	serveUpgrade := func(path string, upgrade bool) (client net.Conn, tracked bool) {
		req := withReplacer(httptest.NewRequest(http.MethodGet, path, nil))
		req.AddCookie(cookie)
		if upgrade {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
		}
		hw := newHijackable()
		t.Cleanup(func() { hw.client.Close() })
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			_, tracked = w.(*upgradeWriter)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				t.Cleanup(func() { conn.Close() })
			}
			return err
		})
		if err := h.ServeHTTP(hw, req, next); err != nil {
			t.Fatal(err)
		}
		return hw.client, tracked
	}
	if _, tracked := serveUpgrade("/ws/chat", false); tracked {
		t.Error("a request that is no upgrade is held")
	}
	if _, tracked := serveUpgrade("/open/chat", true); tracked {
		t.Error("an upgrade of an unprotected path is held")
	}
	c, tracked := serveUpgrade("/ws/chat", true)
	if !tracked {
		t.Fatal("the upgrade of a protected path is not held")
	}
	o, err := h.sessions.Lookup(t.Context(), id)
	if err != nil || o == nil {
		t.Fatalf("lookup: %v %v", o, err)
	}
	if err := h.sessions.End(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if !closedSoon(t, c) {
		t.Error("the logout left the upgraded connection open")
	}
}
