package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testws"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// newWSEnv starts Caddy with a WebSocket upstream behind /api/ws, which
// the guard protects, and cache_ttl 1s.
func newWSEnv(t *testing.T) (*env, *testws.Upstream) {
	t.Helper()
	up := testws.NewUpstream(t)
	e := newEnv(t, sgidtest.Options{}, "protect /api/*\n\t\tcache_ttl 1s")
	e.routes = fmt.Sprintf("handle /api/ws {\n\t\treverse_proxy %s\n\t}", up.Addr())
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
			conn := testws.Dial(b, "/api/ws")
			tc.end(b)
			if !testws.WaitClosed(t, conn, up) {
				t.Fatal("the WebSocket stayed open after its session ended")
			}
			if tc.name == "logout" {
				// Another session's WebSocket is not touched by a logout.
				if oc := testws.Dial(other, "/api/ws"); !testws.StaysOpen(oc) {
					t.Error("another session's WebSocket closed")
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
