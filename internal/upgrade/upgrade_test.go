package upgrade

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// hijackable is a ResponseWriter whose Hijack hands over one end of a
// pipe; the test holds the other end, as the client would.
type hijackable struct {
	*httptest.ResponseRecorder
	server, client net.Conn
}

func newHijackable(t *testing.T) *hijackable {
	s, c := net.Pipe()
	t.Cleanup(func() { s.Close(); c.Close() })
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

// upgradeRequest is an HTTP/1.1 WebSocket request.
func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/ws", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	return r
}

// hijack passes an upgrade request through Watch and hijacks its
// connection as reverse_proxy would. It returns the client's end and the
// held connection the next handler got.
func hijack(t *testing.T, tr *Tracker, key, id string) (client, held net.Conn) {
	t.Helper()
	hw := newHijackable(t)
	w, _, release := tr.Watch(hw, upgradeRequest(), key, id)
	defer release()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return hw.client, conn
}

// newTracker is a tracker whose sweep never runs on its own during a
// test, asking alive.
func newTracker(t *testing.T, alive AliveFunc) *Tracker {
	tr := New(time.Hour, alive, zap.NewNop())
	t.Cleanup(tr.Close)
	return tr
}

func alwaysAlive(context.Context, string) (bool, error) { return true, nil }

func (t *Tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, hs := range t.held {
		n += len(hs.conns)
	}
	return n
}

func (t *Tracker) isSweeping() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweeping
}

func TestIsUpgrade(t *testing.T) {
	t.Parallel()
	h1 := func(method string, conn ...string) *http.Request {
		r := httptest.NewRequest(method, "/ws", nil)
		r.Header["Connection"] = conn
		return r
	}
	h2 := func(proto string) *http.Request {
		r := httptest.NewRequest(http.MethodConnect, "/ws", nil)
		r.ProtoMajor = 2
		if proto != "" {
			r.Header.Set(":protocol", proto)
		}
		return r
	}
	h3 := func(proto string) *http.Request {
		r := httptest.NewRequest(http.MethodConnect, "/ws", nil)
		r.ProtoMajor, r.Proto = 3, proto
		return r
	}
	tests := []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"WebSocket", h1(http.MethodGet, "Upgrade"), true},
		{"mixed case", h1(http.MethodGet, "uPgRaDe"), true},
		{"token list", h1(http.MethodGet, "keep-alive, upgrade"), true},
		{"spaces around the token", h1(http.MethodGet, " upgrade "), true},
		{"second value", h1(http.MethodGet, "keep-alive", "UPGRADE"), true},
		{"plain", h1(http.MethodGet), false},
		{"keep-alive", h1(http.MethodGet, "keep-alive"), false},
		{"word inside a token", h1(http.MethodGet, "upgraded"), false},
		{"token of the same length", h1(http.MethodGet, "upgradf"), false},
		{"plain CONNECT asking to upgrade", h1(http.MethodConnect, "upgrade"), false},
		{"HTTP/2 extended CONNECT", h2("websocket"), true},
		{"HTTP/2 plain CONNECT", h2(""), false},
		{"HTTP/3 extended CONNECT", h3("websocket"), true},
		{"HTTP/3 plain CONNECT", h3("HTTP/3.0"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsUpgrade(tc.r); got != tc.want {
				t.Errorf("IsUpgrade = %v, want %v", got, tc.want)
			}
		})
	}
}

// The sweep interval follows the owner's, but never below sweepMin.
func TestNewSweepInterval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		every time.Duration
		want  time.Duration
	}{
		{"none", 0, sweepMin},
		{"below the minimum", sweepMin / 2, sweepMin},
		{"above the minimum", time.Minute, time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(tc.every, alwaysAlive, nil)
			defer tr.Close()
			if tr.every != tc.want {
				t.Errorf("sweeps every %v, want %v", tr.every, tc.want)
			}
		})
	}
}

// Ending a session closes its connections at once, before Ended
// returns, and no other session's; a connection that closes on its own
// is forgotten.
func TestEnded(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, alwaysAlive)
	a1, _ := hijack(t, tr, "ka", "ida")
	a2, _ := hijack(t, tr, "ka", "ida")
	b, bHeld := hijack(t, tr, "kb", "idb")
	if n := tr.count(); n != 3 {
		t.Fatalf("holding %d connections, want 3", n)
	}
	tr.Ended("ka")
	for i, c := range []net.Conn{a1, a2} {
		if !closedSoon(t, c) {
			t.Errorf("connection %d of the ended session is open", i)
		}
	}
	if !stillOpen(t, b, bHeld) {
		t.Error("another session's connection was closed")
	}
	if n := tr.count(); n != 1 {
		t.Errorf("holding %d connections, want 1", n)
	}
	tr.Ended("unknown")
	bHeld.Close()
	if n := tr.count(); n != 0 {
		t.Errorf("holding %d connections after all closed", n)
	}
}

// A nil Tracker, an owner's before it is set up, holds nothing.
func TestNilTracker(t *testing.T) {
	t.Parallel()
	var tr *Tracker
	tr.Ended("k")
	tr.Close()
}

// A session is checked by its id, and its connections close only when
// alive says it has ended.
func TestSweep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		alive    bool
		err      error
		wantOpen bool
		wantWarn bool
	}{
		{"live", true, nil, true, false},
		{"ended elsewhere, expired or idle", false, nil, false, false},
		{"store down", false, errors.New("store down"), true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var asked []string
			core, logs := observer.New(zap.WarnLevel)
			tr := New(time.Hour, func(_ context.Context, id string) (bool, error) {
				asked = append(asked, id)
				return tc.alive, tc.err
			}, zap.New(core))
			t.Cleanup(tr.Close)
			c, held := hijack(t, tr, "k", "id")
			tr.sweep()
			if len(asked) != 1 || asked[0] != "id" {
				t.Errorf("the sweep asked about %q, want [id]", asked)
			}
			warned := logs.FilterField(zap.Int("sessions", 1)).Len() == 1
			if warned != tc.wantWarn || logs.Len() != logs.FilterField(zap.Int("sessions", 1)).Len() {
				t.Errorf("logged %v, want a warning: %v", logs.All(), tc.wantWarn)
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

// The sweep runs on its own while connections are held, and stops once
// none are, whether the sweep closed them or they closed on their own.
func TestSweepLoop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// end ends the only held connection, whose session is told
		// dead by kill.
		end func(t *testing.T, client, held net.Conn, kill func())
	}{
		{"session ended", func(t *testing.T, client, _ net.Conn, kill func()) {
			kill()
			if !closedSoon(t, client) {
				t.Fatal("the sweep loop did not close the connection of a dead session")
			}
		}},
		{"connection closed", func(_ *testing.T, _, held net.Conn, _ func()) { held.Close() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			live := true
			tr := newTracker(t, func(context.Context, string) (bool, error) {
				mu.Lock()
				defer mu.Unlock()
				return live, nil
			})
			tr.every = 10 * time.Millisecond
			if tr.isSweeping() {
				t.Fatal("sweeping with no connection held")
			}
			client, held := hijack(t, tr, "k", "id")
			if !tr.isSweeping() {
				t.Fatal("not sweeping with a connection held")
			}
			tc.end(t, client, held, func() {
				mu.Lock()
				defer mu.Unlock()
				live = false
			})
			// A bound for the test to fail instead of hanging, not a
			// measurement.
			deadline := time.Now().Add(5 * time.Second)
			for tr.isSweeping() {
				if time.Now().After(deadline) {
					t.Fatal("the sweep loop runs on with no connection held")
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// After Close no sweep starts, though connections are still held and
// still end with their session.
func TestClose(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, alwaysAlive)
	tr.Close()
	tr.Close()
	c, _ := hijack(t, tr, "k", "id")
	if tr.isSweeping() {
		t.Error("a closed tracker started a sweep")
	}
	tr.Ended("k")
	if !closedSoon(t, c) {
		t.Error("a closed tracker left an ended session's connection open")
	}
}

// An extended CONNECT is held from Watch on, by its request's context,
// which ends with its session or with release.
func TestWatchExtendedConnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(tr *Tracker, release func())
	}{
		{"session ended", func(tr *Tracker, _ func()) { tr.Ended("k") }},
		{"handler returned", func(_ *Tracker, release func()) { release() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := newTracker(t, alwaysAlive)
			r := httptest.NewRequest(http.MethodConnect, "/ws", nil)
			r.ProtoMajor = 2
			r.Header.Set(":protocol", "websocket")
			w := httptest.NewRecorder()
			tw, treq, release := tr.Watch(w, r, "k", "id")
			if tw != w {
				t.Error("the writer of a stream was wrapped")
			}
			if n := tr.count(); n != 1 {
				t.Fatalf("holding %d streams, want 1", n)
			}
			if treq.Context().Err() != nil {
				t.Fatal("the stream's request ended before its session")
			}
			tc.end(tr, release)
			if !errors.Is(treq.Context().Err(), context.Canceled) {
				t.Error("the stream's request goes on")
			}
			if n := tr.count(); n != 0 {
				t.Errorf("holding %d streams after the end, want 0", n)
			}
			release()
		})
	}
}

// An HTTP/1.1 upgrade is held only once the next handler hijacks it, and
// not at all when the hijack fails.
func TestWatchHijack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		w        func(t *testing.T) http.ResponseWriter
		wantHeld int
	}{
		{"hijacked", func(t *testing.T) http.ResponseWriter { return newHijackable(t) }, 1},
		{"cannot hijack", func(*testing.T) http.ResponseWriter { return httptest.NewRecorder() }, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := newTracker(t, alwaysAlive)
			w, _, release := tr.Watch(tc.w(t), upgradeRequest(), "k", "id")
			defer release()
			if n := tr.count(); n != 0 {
				t.Fatalf("holding %d connections before the hijack", n)
			}
			conn, _, err := http.NewResponseController(w).Hijack()
			if (err == nil) != (tc.wantHeld > 0) {
				t.Fatalf("hijack: %v", err)
			}
			if err == nil {
				defer conn.Close()
			}
			if n := tr.count(); n != tc.wantHeld {
				t.Errorf("holding %d connections, want %d", n, tc.wantHeld)
			}
		})
	}
}

// noFlush is a ResponseWriter that cannot flush.
type noFlush struct{ http.ResponseWriter }

// The writer flushes the writer it wraps, and says when it cannot.
func TestWriterFlush(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		wrapped   *httptest.ResponseRecorder
		noFlush   bool
		wantError error
	}{
		{"flushes", httptest.NewRecorder(), false, nil},
		{"cannot flush", httptest.NewRecorder(), true, http.ErrNotSupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := newTracker(t, alwaysAlive)
			var wrapped http.ResponseWriter = tc.wrapped
			if tc.noFlush {
				wrapped = noFlush{tc.wrapped}
			}
			w, _, release := tr.Watch(wrapped, upgradeRequest(), "k", "id")
			defer release()
			f, ok := w.(interface {
				http.Flusher
				FlushError() error
			})
			if !ok {
				t.Fatal("the writer hides Flush and FlushError")
			}
			if err := f.FlushError(); !errors.Is(err, tc.wantError) {
				t.Errorf("FlushError = %v, want %v", err, tc.wantError)
			}
			f.Flush()
			if tc.wrapped.Flushed == tc.noFlush {
				t.Errorf("flushed = %v", tc.wrapped.Flushed)
			}
		})
	}
}

// tcpPair is both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// A held connection half-closes like the one it wraps, so that
// reverse_proxy can tell the client the upstream has finished and still
// read what the client sends.
func TestHeldConnCloseWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pair    func(t *testing.T) (net.Conn, net.Conn)
		wantErr error
	}{
		{"TCP", tcpPair, nil},
		{"pipe", func(t *testing.T) (net.Conn, net.Conn) {
			a, b := net.Pipe()
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		}, errors.ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, peer := tc.pair(t)
			hc := &heldConn{Conn: conn, t: newTracker(t, alwaysAlive), key: "k"}
			cw, ok := net.Conn(hc).(interface{ CloseWrite() error })
			if !ok {
				t.Fatal("a held connection hides CloseWrite")
			}
			if err := cw.CloseWrite(); !errors.Is(err, tc.wantErr) {
				t.Fatalf("CloseWrite = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				return
			}
			if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("the peer read %v, want EOF", err)
			}
			go peer.Write([]byte("z"))
			b := make([]byte, 1)
			if _, err := io.ReadFull(hc, b); err != nil || b[0] != 'z' {
				t.Errorf("reading after a half-close: %q %v", b, err)
			}
		})
	}
}

// A held connection keeps the copy paths of the one it wraps, and copies
// the same bytes through them.
func TestHeldConnCopy(t *testing.T) {
	t.Parallel()
	const payload = "through the held connection"
	tests := []struct {
		name string
		copy func(hc *heldConn, peer net.Conn) (string, error)
	}{
		{"ReadFrom", func(hc *heldConn, peer net.Conn) (string, error) {
			rf, ok := net.Conn(hc).(io.ReaderFrom)
			if !ok {
				return "", errors.New("no ReadFrom")
			}
			go func() {
				_, _ = rf.ReadFrom(strings.NewReader(payload))
				hc.Close()
			}()
			b, err := io.ReadAll(peer)
			return string(b), err
		}},
		{"WriteTo", func(hc *heldConn, peer net.Conn) (string, error) {
			wt, ok := net.Conn(hc).(io.WriterTo)
			if !ok {
				return "", errors.New("no WriteTo")
			}
			go func() {
				_, _ = peer.Write([]byte(payload))
				peer.Close()
			}()
			var buf bytes.Buffer
			_, err := wt.WriteTo(&buf)
			return buf.String(), err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, peer := tcpPair(t)
			hc := &heldConn{Conn: conn, t: newTracker(t, alwaysAlive), key: "k"}
			got, err := tc.copy(hc, peer)
			if err != nil || got != payload {
				t.Errorf("copied %q, %v; want %q", got, err, payload)
			}
		})
	}
}

// Closing a held connection twice closes it once, and forgets it: the
// tracker and the next handler may both close it.
func TestHeldConnClose(t *testing.T) {
	t.Parallel()
	tr := newTracker(t, alwaysAlive)
	conn, _ := tcpPair(t)
	hc := &heldConn{Conn: conn, t: tr, key: "k"}
	tr.add("k", "id", hc)
	first := hc.Close()
	if n := tr.count(); n != 0 {
		t.Errorf("holding %d connections after Close", n)
	}
	if second := hc.Close(); second != first {
		t.Errorf("second Close = %v, want %v as the first", second, first)
	}
}
