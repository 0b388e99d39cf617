// Package testws is both ends of a WebSocket for tests of upgraded
// connections through the guard: an upstream behind reverse_proxy that
// completes the RFC 6455 handshake and echoes every byte, and a client that
// opens one with a browser's cookies and waits for the proxy to close it.
package testws

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
)

// guid is the value RFC 6455 appends to a client's key to make the
// server's accept value.
const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"

// Accept is the server's Sec-WebSocket-Accept value for a client's key.
func Accept(key string) string {
	sum := sha1.Sum([]byte(key + guid))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Upstream is a WebSocket server on a loopback port, stopped with its
// test. Frames pass through it unread, as they do through the proxy.
// Closed receives once per connection when the proxy closes it.
type Upstream struct {
	Server *httptest.Server
	Closed chan struct{}
}

// NewUpstream starts an Upstream.
func NewUpstream(tb testing.TB) *Upstream {
	u := &Upstream{Closed: make(chan struct{}, 8)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "WebSocket only", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", Accept(r.Header.Get("Sec-WebSocket-Key")))
		if brw.Flush() == nil {
			_, _ = io.Copy(conn, brw)
		}
		u.Closed <- struct{}{}
	}))
	tb.Cleanup(u.Server.Close)
	return u
}

// Addr is the upstream's host:port, for reverse_proxy.
func (u *Upstream) Addr() string { return u.Server.Listener.Addr().String() }

// Dial opens a WebSocket to path on b's origin with b's cookies, and
// checks that bytes round-trip through the proxy. "localhost" is dialled
// on 127.0.0.1, where the test servers listen. The connection is closed
// with the test.
func Dial(b *testcaddy.Browser, path string) net.Conn {
	b.TB.Helper()
	u, _ := url.Parse(b.Base)
	addr := u.Host
	if u.Hostname() == "localhost" {
		addr = net.JoinHostPort("127.0.0.1", u.Port())
	}
	conn, err := net.Dial("tcp", addr)
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
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != Accept(key) {
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

// WaitClosed waits for the proxy to close conn, within a bound far above
// the sweep interval: a deadline for the test, not a measurement. It
// reports false when conn is still open then.
func WaitClosed(tb testing.TB, conn net.Conn, up *Upstream) bool {
	tb.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	if err != nil {
		return false // the deadline passed with the connection open
	}
	select {
	case <-up.Closed:
		return true
	case <-time.After(10 * time.Second):
		tb.Error("the client's side closed, the upstream's did not")
		return true
	}
}

// StaysOpen reports whether conn stays open for a while: nothing to read
// and no close within 200 ms.
func StaysOpen(conn net.Conn) bool {
	_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := conn.Read(make([]byte, 1))
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
