package upgrade

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// writer is the ResponseWriter an HTTP/1.1 upgrade request is passed on
// with: its Hijack holds the connection it returns. It embeds Caddy's
// wrapper so that everything else (Push, ReadFrom, and Unwrap for
// http.ResponseController) reaches the wrapped writer. Flush is its own
// all the same: reverse_proxy flushes the 101 answer, and code that asks
// the writer for http.Flusher itself, not through a ResponseController,
// would otherwise find none.
type writer struct {
	*caddyhttp.ResponseWriterWrapper
	t       *Tracker
	key, id string
}

func newWriter(w http.ResponseWriter, t *Tracker, key, id string) *writer {
	return &writer{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, t: t, key: key, id: id}
}

// Hijack hijacks the wrapped writer's connection and holds it for the
// session.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriterWrapper.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	hc := &heldConn{Conn: conn, t: w.t, key: w.key}
	// The buffered writer is empty after a hijack; pointing it at the held
	// connection sends its writes the same way as every other.
	brw.Writer.Reset(hc)
	w.t.add(w.key, w.id, hc)
	return hc, brw, nil
}

// Flush flushes the wrapped writer.
func (w *writer) Flush() { _ = w.FlushError() }

// FlushError flushes the wrapped writer and reports its error.
func (w *writer) FlushError() error {
	return http.NewResponseController(w.ResponseWriterWrapper.ResponseWriter).Flush()
}

// heldConn is a hijacked connection held for its session. It adds nothing
// to reads and writes; its Close forgets it.
type heldConn struct {
	net.Conn
	t    *Tracker
	key  string
	once sync.Once
	err  error
}

// Close closes the connection once and forgets it.
func (c *heldConn) Close() error {
	c.once.Do(func() {
		c.t.remove(c.key, c)
		c.err = c.Conn.Close()
	})
	return c.err
}

// CloseWrite half-closes the connection when it can, as reverse_proxy does
// when the upstream has finished sending. Hiding the wrapped connection's
// CloseWrite would make reverse_proxy end the whole tunnel instead.
func (c *heldConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom keeps the wrapped connection's fast copy path: io.Copy looks
// for it on the connection it is given, and embedding net.Conn hides it.
func (c *heldConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// WriteTo keeps the wrapped connection's fast copy path, as ReadFrom does.
func (c *heldConn) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, c.Conn) }

// heldStream is an HTTP/2 or HTTP/3 upgraded stream held for its session:
// closing it cancels the stream's request.
type heldStream struct {
	t      *Tracker
	key    string
	cancel context.CancelFunc
	once   sync.Once
}

// Close cancels the stream's request once and forgets it.
func (s *heldStream) Close() error {
	s.once.Do(func() {
		s.t.remove(s.key, s)
		s.cancel()
	})
	return nil
}
