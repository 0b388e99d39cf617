package caddysgid

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// An upgraded connection (a WebSocket) outlives the request that opened
// it: the guard checked the session once, and the connection would stay
// open after a logout. So the handler ends every upgraded connection it
// passed on through a protected path together with the session that opened
// it.
//
// It hooks in without touching the data: for an upgrade request it hands
// the next handler (typically reverse_proxy) a ResponseWriter whose
// Hijack registers the hijacked client connection under the session's
// store key, and whose connection deregisters itself when closed. Closing
// that connection is what ends the tunnel: reverse_proxy's copy from the
// client fails, and it closes its connection to the upstream, which sees
// the connection end. A WebSocket over HTTP/2 or HTTP/3 (extended CONNECT)
// is not hijacked; its request's context is registered instead, and
// cancelling it makes reverse_proxy close both sides the same way.
//
// The connections of a session are closed at once when this handler's
// session manager ends it (a logout here, a revocation through the admin
// API, an idle timeout found by a request), and otherwise by a sweep that
// runs every cache_ttl (at least upgradeSweepMin) while any connection is
// held: it asks the store, past its cache, whether each held session still
// lives (session.Manager.Alive), which catches a logout on another
// instance, an expiry and an idle timeout. So a connection costs a map
// entry while it is open and one store read per sweep for its session,
// and nothing per message.

// upgradeSweepMin is the shortest interval between sweeps, for cache_ttl
// 0 (no cache) and tiny values: one store read per held session and
// interval.
const upgradeSweepMin = time.Second

// upgrades holds the upgraded connections of one handler by session.
type upgrades struct {
	// every is the sweep interval.
	every time.Duration
	// alive tells whether a session id still names a live session.
	alive  func(ctx context.Context, id string) (bool, error)
	logger *zap.Logger

	mu sync.Mutex
	// held are the open connections, by the store key of their session.
	held map[string]*heldSession
	// sweeping is set while the sweep goroutine runs; it runs only while
	// connections are held.
	sweeping bool
	// stop is closed by Cleanup, which ends the sweep for good.
	stop    chan struct{}
	stopped bool
}

// heldSession is one session's open connections.
type heldSession struct {
	id    string // the session id, which the sweep checks
	conns map[io.Closer]struct{}
}

// newUpgrades returns the tracker of a handler whose cache_ttl is
// cacheTTL; alive is set once the session manager exists.
func newUpgrades(cacheTTL time.Duration, logger *zap.Logger) *upgrades {
	return &upgrades{
		every:  max(cacheTTL, upgradeSweepMin),
		logger: logger,
		held:   make(map[string]*heldSession),
		stop:   make(chan struct{}),
	}
}

// isUpgrade reports whether r asks to switch protocols: Connection names
// upgrade (HTTP/1.1), or an extended CONNECT names a protocol (HTTP/2's
// :protocol pseudo-header, which Go hands over as a header, or HTTP/3's,
// which it hands over as Proto).
func isUpgrade(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return isExtendedConnect(r)
	}
	for _, v := range r.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}

func isExtendedConnect(r *http.Request) bool {
	return r.Method == http.MethodConnect &&
		(r.ProtoMajor == 2 && r.Header.Get(":protocol") != "" || r.ProtoMajor == 3 && !strings.HasPrefix(r.Proto, "HTTP/"))
}

// watch prepares an upgrade request through a protected path, about to be
// passed on, so that its connection ends with session o: it returns the
// writer and request to pass on and a release func to run when the next
// handler returns. extended tells an HTTP/2 or HTTP/3 extended CONNECT
// (see isUpgrade), whose stream is not hijacked but ends with the request.
func (u *upgrades) watch(w http.ResponseWriter, r *http.Request, o *session.Opened, extended bool) (http.ResponseWriter, *http.Request, func()) {
	if extended {
		ctx, cancel := context.WithCancel(r.Context())
		s := &heldStream{u: u, key: o.Key, cancel: cancel}
		u.add(o.Key, o.ID, s)
		return w, r.WithContext(ctx), func() { s.Close() }
	}
	return &upgradeWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: w}, u: u, key: o.Key, id: o.ID}, r, func() {}
}

// add holds c for the session of id, filed under key, and starts the
// sweep if it is not running.
func (u *upgrades) add(key, id string, c io.Closer) {
	u.mu.Lock()
	defer u.mu.Unlock()
	hs := u.held[key]
	if hs == nil {
		hs = &heldSession{id: id, conns: make(map[io.Closer]struct{})}
		u.held[key] = hs
	}
	hs.conns[c] = struct{}{}
	if !u.sweeping && !u.stopped {
		u.sweeping = true
		go u.sweepLoop()
	}
}

// remove forgets c, which has closed.
func (u *upgrades) remove(key string, c io.Closer) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if hs := u.held[key]; hs != nil {
		delete(hs.conns, c)
		if len(hs.conns) == 0 {
			delete(u.held, key)
		}
	}
}

// ended closes the connections of the session filed under key. The
// session manager calls it for every session it ends. A nil tracker holds
// nothing.
func (u *upgrades) ended(key string) {
	if u == nil {
		return
	}
	u.mu.Lock()
	hs := u.held[key]
	delete(u.held, key)
	u.mu.Unlock()
	if hs == nil {
		return
	}
	// Closed outside the lock: each Close deregisters itself.
	for c := range hs.conns {
		_ = c.Close()
	}
}

// sweepLoop sweeps every u.every until no connection is held or Cleanup
// stops it.
func (u *upgrades) sweepLoop() {
	t := time.NewTicker(u.every)
	defer t.Stop()
	for {
		select {
		case <-u.stop:
			return
		case <-t.C:
		}
		u.sweep()
		u.mu.Lock()
		if len(u.held) == 0 || u.stopped {
			u.sweeping = false
			u.mu.Unlock()
			return
		}
		u.mu.Unlock()
	}
}

// sweep closes the connections of every held session that no longer
// lives. A session the store cannot answer for keeps its connections
// until a sweep that can: closing every connection on a brief store
// outage would cut off every user, and the connections were authorized
// when they opened.
func (u *upgrades) sweep() {
	u.mu.Lock()
	ids := make(map[string]string, len(u.held))
	for key, hs := range u.held {
		ids[key] = hs.id
	}
	u.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), u.every)
	defer cancel()
	failed := 0
	for key, id := range ids {
		ok, err := u.alive(ctx, id)
		switch {
		case err != nil:
			failed++
		case !ok:
			u.ended(key)
		}
	}
	if failed > 0 && u.logger != nil {
		u.logger.Warn("sgid could not check the sessions of some upgraded connections; they stay open until a check succeeds", zap.Int("sessions", failed))
	}
}

// cleanup stops the sweep; the connections themselves belong to the
// handler that hijacked them (reverse_proxy closes its own on cleanup).
func (u *upgrades) cleanup() {
	if u == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.stopped {
		u.stopped = true
		close(u.stop)
	}
}

// upgradeWriter is the ResponseWriter an upgrade request is passed on
// with: its Hijack holds the connection it returns. Everything else goes
// to the writer it wraps (Flush explicitly, since reverse_proxy flushes
// the 101 answer through http.ResponseController, which would otherwise
// reach the wrapped writer through Unwrap anyway).
type upgradeWriter struct {
	*caddyhttp.ResponseWriterWrapper
	u       *upgrades
	key, id string
}

// Hijack hijacks the wrapped writer's connection and holds it for the
// session.
func (w *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriterWrapper.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	hc := &heldConn{Conn: conn, u: w.u, key: w.key}
	// The buffered writer is empty after a hijack; writes go through the
	// held connection like every other.
	brw.Writer.Reset(hc)
	w.u.add(w.key, w.id, hc)
	return hc, brw, nil
}

// Flush flushes the wrapped writer.
func (w *upgradeWriter) Flush() { _ = w.FlushError() }

// FlushError flushes the wrapped writer and reports its error.
func (w *upgradeWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriterWrapper.ResponseWriter).Flush()
}

// heldConn is a hijacked connection held for its session. It adds nothing
// to reads and writes; its Close deregisters it.
type heldConn struct {
	net.Conn
	u    *upgrades
	key  string
	once sync.Once
	err  error
}

// Close closes the connection once and forgets it.
func (c *heldConn) Close() error {
	c.once.Do(func() {
		c.u.remove(c.key, c)
		c.err = c.Conn.Close()
	})
	return c.err
}

// CloseWrite half-closes the connection when it can, as reverse_proxy does
// when the upstream finishes sending: hiding it would end the tunnel
// instead.
func (c *heldConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom and WriteTo keep the wrapped connection's fast copy paths
// (io.Copy checks for them on the connection it is given).
func (c *heldConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

func (c *heldConn) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, c.Conn) }

// heldStream is an HTTP/2 or HTTP/3 upgraded stream held for its session:
// closing it cancels the request's context.
type heldStream struct {
	u      *upgrades
	key    string
	cancel context.CancelFunc
	once   sync.Once
}

// Close cancels the stream's request and forgets it.
func (s *heldStream) Close() error {
	s.once.Do(func() {
		s.u.remove(s.key, s)
		s.cancel()
	})
	return nil
}
