package integration

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// wsGUID is the value RFC 6455 appends to a client's key to make the
// server's accept value.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"

func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsUpstream is a WebSocket server behind reverse_proxy: it completes the
// RFC 6455 handshake and then echoes every byte (frames pass through
// unread, as they do through the proxy). closed receives once per
// connection when the proxy closes it.
type wsUpstream struct {
	srv    *httptest.Server
	closed chan struct{}
}

func newWSUpstream(t *testing.T) *wsUpstream {
	u := &wsUpstream{closed: make(chan struct{}, 8)}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "WebSocket only", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		if brw.Flush() == nil {
			_, _ = io.Copy(conn, brw)
		}
		u.closed <- struct{}{}
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// dialWS opens a WebSocket to path on the test site with the browser's
// cookies, and checks that bytes round-trip through the proxy.
func dialWS(b *testcaddy.Browser, path string) net.Conn {
	b.TB.Helper()
	u, _ := url.Parse(b.Base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		b.TB.Fatal(err)
	}
	b.TB.Cleanup(func() { conn.Close() })
	req, _ := http.NewRequest(http.MethodGet, b.Base+path, nil)
	for _, c := range b.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	key := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	if err := req.Write(conn); err != nil {
		b.TB.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		b.TB.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAccept(key) {
		body, _ := io.ReadAll(resp.Body)
		b.TB.Fatalf("WebSocket handshake: %d %q", resp.StatusCode, body)
	}
	// A masked text frame "ping" (RFC 6455 5.2), echoed unchanged.
	frame := []byte{0x81, 0x84, 1, 2, 3, 4, 'p' ^ 1, 'i' ^ 2, 'n' ^ 3, 'g' ^ 4}
	if _, err := conn.Write(frame); err != nil {
		b.TB.Fatal(err)
	}
	echo := make([]byte, len(frame))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(br, echo); err != nil || string(echo) != string(frame) {
		b.TB.Fatalf("echo through the WebSocket: %q %v", echo, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn
}

// wsClosed waits for the proxy to close conn, within a bound far above
// the sweep interval: a deadline for the test, not a measurement.
func wsClosed(t *testing.T, conn net.Conn, up *wsUpstream) bool {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if err != nil {
		return false // the deadline passed with the connection open
	}
	select {
	case <-up.closed:
		return true
	case <-time.After(10 * time.Second):
		t.Error("the client's side closed, the upstream's did not")
		return true
	}
}

// newWSEnv starts Caddy with a WebSocket upstream behind /api/ws, which
// the guard protects, and cache_ttl 1s.
func newWSEnv(t *testing.T) (*env, *wsUpstream) {
	t.Helper()
	up := newWSUpstream(t)
	e := newEnv(t, sgidtest.Options{}, "protect /api/*\n\t\tcache_ttl 1s")
	e.routes = fmt.Sprintf("handle /api/ws {\n\t\treverse_proxy %s\n\t}", up.srv.Listener.Addr())
	e.load("")
	return e, up
}

func TestWebSocketEndsWithSession(t *testing.T) {
	e, up := newWSEnv(t)
	sub := e.provider.Personas()[0].Sub
	tests := []struct {
		name string
		end  func(b *testcaddy.Browser)
	}{
		{"logout", func(b *testcaddy.Browser) {
			if resp, body := b.Get("/api/logout"); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout: %d %s", resp.StatusCode, body)
			}
		}},
		{"revocation through the admin API", func(*testcaddy.Browser) {
			if status, body := adminCall(t, http.MethodDelete, "/sgid/sessions?sub="+url.QueryEscape(sub), nil); status != http.StatusOK {
				t.Fatalf("revoke: %d %s", status, body)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t)
			b.Login("")
			other := newBrowser(t)
			other.Login("")
			conn := dialWS(b, "/api/ws")
			tc.end(b)
			if !wsClosed(t, conn, up) {
				t.Fatal("the WebSocket stayed open after its session ended")
			}
			if tc.name == "logout" {
				// Another session's WebSocket is not touched by a logout.
				oc := dialWS(other, "/api/ws")
				_ = oc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if _, err := oc.Read(make([]byte, 1)); !isTimeout(err) {
					t.Errorf("another session's WebSocket: %v, want it open", err)
				}
			}
		})
	}

	// Without a session the upgrade is refused like any protected request.
	conn, err := net.Dial("tcp", "localhost:9080")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /api/ws HTTP/1.1\r\nHost: localhost:9080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2l4dGVlbiBieXRlIGtleQ==\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous upgrade: %v %v, want 401", resp, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
