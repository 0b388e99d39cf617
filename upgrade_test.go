package caddysgid

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// pipeWriter is a ResponseWriter whose Hijack hands over one end of a
// pipe; the test holds the other end, as the client would.
type pipeWriter struct {
	*httptest.ResponseRecorder
	server, client net.Conn
}

func (p *pipeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return p.server, bufio.NewReadWriter(bufio.NewReader(p.server), bufio.NewWriter(p.server)), nil
}

// The handler holds an upgrade passed on through a protected path with a
// session, and the session manager's ending of that session closes it;
// any other request passes as it came.
func TestUpgradeEndsWithSession(t *testing.T) {
	t.Parallel()
	h := unitHandler(t, &Handler{Guard: &Guard{Protect: caddyhttp.MatchPath{"/ws/*"}}}, nil, nil)
	tests := []struct {
		name       string
		path       string
		upgrade    bool
		wantClosed bool
	}{
		{"upgrade of a protected path", "/ws/chat", true, true},
		{"no upgrade", "/ws/chat", false, false},
		{"upgrade of an open path", "/open/chat", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := putTestSession(t, h, session.Session{Sub: "s1", Expires: time.Now().Add(time.Hour)})
			req := withReplacer(httptest.NewRequest(http.MethodGet, tc.path, nil))
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: id})
			if tc.upgrade {
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
			}
			server, client := net.Pipe()
			t.Cleanup(func() { server.Close(); client.Close() })
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				_, _, err := http.NewResponseController(w).Hijack()
				return err
			})
			if err := h.ServeHTTP(&pipeWriter{httptest.NewRecorder(), server, client}, req, next); err != nil {
				t.Fatal(err)
			}
			o, err := h.sessions.Lookup(t.Context(), id)
			if err != nil || o == nil {
				t.Fatalf("lookup: %v %v", o, err)
			}
			if err := h.sessions.End(t.Context(), o); err != nil {
				t.Fatal(err)
			}
			// Ending closes the held connections before it returns, so a
			// write tells at once: a closed pipe refuses it, an open one
			// hands it to the reader.
			go io.ReadFull(server, make([]byte, 1))
			_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, err = client.Write([]byte{1})
			if closed := err != nil; closed != tc.wantClosed {
				t.Errorf("closed = %v (%v), want %v", closed, err, tc.wantClosed)
			}
		})
	}
}
