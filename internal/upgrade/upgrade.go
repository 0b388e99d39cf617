// Package upgrade ends upgraded connections (WebSockets and other
// protocol switches) together with the session that opened them.
//
// A request that switches protocols is checked once, when it arrives, but
// the connection it opens can stay up for hours. Without help it would
// outlive a logout, a revocation or an expiry of the session that let it
// in. A Tracker closes such a connection when its session ends.
//
// The Tracker never looks at the traffic. For an HTTP/1.1 upgrade, Watch
// hands the next handler (typically reverse_proxy) a ResponseWriter whose
// Hijack files the client connection under its session, and whose
// connection takes itself off the file when it closes. Closing the client
// connection is enough to end the tunnel: reverse_proxy's copy from the
// client fails, so it closes its upstream connection too. A WebSocket over
// HTTP/2 or HTTP/3 (an extended CONNECT) is a stream, not a connection,
// and is never hijacked: Watch files a cancel func for its request's
// context instead, and cancelling it makes reverse_proxy close both sides
// in the same way.
//
// A session's connections close at once when its owner calls Ended (the
// session manager does for every session it ends: a logout, a revocation,
// an idle timeout found by a request). Endings the owner never sees (a
// logout on another instance, an expiry, an idle timeout with no request)
// are found by a sweep that asks, for every session with an open
// connection, whether it still lives. The sweep runs only while a
// connection is open. So an open connection costs a map entry and one
// check of its session per sweep, and nothing per message.
//
// The package knows sessions only by two strings: a key, under which
// Ended names a session, and an id, which the sweep asks about.
package upgrade

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// sweepMin is the shortest interval between sweeps. Each sweep asks once
// per session with an open connection, so an interval of zero (an
// owner without a cache to match) would ask without pause.
const sweepMin = time.Second

// AliveFunc tells whether the session of id still lives. It reports an
// error only when it cannot tell (its store is down, say).
type AliveFunc func(ctx context.Context, id string) (bool, error)

// Tracker holds the upgraded connections of one owner, by session. It is
// safe for concurrent use. A nil Tracker holds nothing: Ended and Close do
// nothing on it.
type Tracker struct {
	// every is the sweep interval.
	every  time.Duration
	alive  AliveFunc
	logger *zap.Logger

	mu sync.Mutex
	// held are the open connections, by the key of their session.
	held map[string]*heldSession
	// sweeping is set while the sweep goroutine runs: there is at most
	// one per Tracker, and only while connections are held.
	sweeping bool
	// stop is closed by Close, which ends the sweep for good.
	stop    chan struct{}
	stopped bool
}

// heldSession is one session's open connections.
type heldSession struct {
	id    string // the session id, which the sweep asks about
	conns map[io.Closer]struct{}
}

// New returns a Tracker that sweeps every sweepEvery, or every second if
// that is shorter, asking alive about each session with an open
// connection. An owner with a cache of sessions passes its lifetime: a
// session ended elsewhere is then noticed about as soon as a request
// would notice it. alive is called only from the sweep, which starts with
// the first connection, so it may read a session manager that is set up
// after New returns. logger may be nil.
func New(sweepEvery time.Duration, alive AliveFunc, logger *zap.Logger) *Tracker {
	return &Tracker{
		every:  max(sweepEvery, sweepMin),
		alive:  alive,
		logger: logger,
		held:   make(map[string]*heldSession),
		stop:   make(chan struct{}),
	}
}

// IsUpgrade reports whether r asks to switch protocols: its Connection
// header names upgrade (HTTP/1.1), or it is an extended CONNECT that names
// a protocol (HTTP/2's :protocol pseudo-header, which Go hands over as a
// header, or HTTP/3's, which it hands over as Proto).
func IsUpgrade(r *http.Request) bool {
	if r.Method == http.MethodConnect {
		return isExtendedConnect(r)
	}
	for _, v := range r.Header["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			if isUpgradeToken(strings.TrimSpace(tok)) {
				return true
			}
		}
	}
	return false
}

// isUpgradeToken reports whether tok is "upgrade" in any case. Header
// tokens are ASCII, and no letter of "upgrade" has a non-ASCII case
// variant, so folding ASCII alone gives the answer a Unicode fold would.
func isUpgradeToken(tok string) bool {
	const want = "upgrade"
	if len(tok) != len(want) {
		return false
	}
	for i := range len(want) {
		c := tok[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != want[i] {
			return false
		}
	}
	return true
}

// isExtendedConnect reports whether r is an HTTP/2 or HTTP/3 extended
// CONNECT, which opens a stream within its connection rather than taking
// the connection over.
func isExtendedConnect(r *http.Request) bool {
	return r.Method == http.MethodConnect &&
		(r.ProtoMajor == 2 && r.Header.Get(":protocol") != "" || r.ProtoMajor == 3 && !strings.HasPrefix(r.Proto, "HTTP/"))
}

// Watch prepares r, an upgrade request (see IsUpgrade) about to be passed
// on, so that the connection it opens ends with the session filed under
// key whose id is id. It returns the writer and request to pass on in
// place of w and r, and a release func to run when the next handler
// returns. An HTTP/1.1 upgrade is held from the moment the next handler
// hijacks its connection; an extended CONNECT is held at once, and its
// request's context is cancelled when its session ends.
func (t *Tracker) Watch(w http.ResponseWriter, r *http.Request, key, id string) (http.ResponseWriter, *http.Request, func()) {
	if isExtendedConnect(r) {
		ctx, cancel := context.WithCancel(r.Context())
		s := &heldStream{t: t, key: key, cancel: cancel}
		t.add(key, id, s)
		return w, r.WithContext(ctx), func() { s.Close() }
	}
	return newWriter(w, t, key, id), r, func() {}
}

// add holds c for the session of id, filed under key, and starts the
// sweep if it is not running.
func (t *Tracker) add(key, id string, c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	hs := t.held[key]
	if hs == nil {
		hs = &heldSession{id: id, conns: make(map[io.Closer]struct{})}
		t.held[key] = hs
	}
	hs.conns[c] = struct{}{}
	if !t.sweeping && !t.stopped {
		t.sweeping = true
		go t.sweepLoop()
	}
}

// remove forgets c, which has closed.
func (t *Tracker) remove(key string, c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if hs := t.held[key]; hs != nil {
		delete(hs.conns, c)
		if len(hs.conns) == 0 {
			delete(t.held, key)
		}
	}
}

// Ended closes the connections of the session filed under key, before it
// returns. The owner calls it for every session it ends, so that a logout
// closes them at once instead of at the next sweep.
func (t *Tracker) Ended(key string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	hs := t.held[key]
	delete(t.held, key)
	t.mu.Unlock()
	if hs == nil {
		return
	}
	// Closed outside the lock: each Close takes it to forget itself.
	for c := range hs.conns {
		_ = c.Close()
	}
}

// sweepLoop sweeps every t.every until no connection is held or Close
// stops it.
func (t *Tracker) sweepLoop() {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
		}
		t.sweep()
		t.mu.Lock()
		if len(t.held) == 0 || t.stopped {
			t.sweeping = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
}

// sweep closes the connections of every held session that no longer
// lives. A session that alive cannot answer for keeps its connections
// until a sweep that can: closing every connection on a brief store
// outage would cut off every user, and the connections were authorized
// when they opened.
func (t *Tracker) sweep() {
	t.mu.Lock()
	ids := make(map[string]string, len(t.held))
	for key, hs := range t.held {
		ids[key] = hs.id
	}
	t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), t.every)
	defer cancel()
	failed := 0
	for key, id := range ids {
		ok, err := t.alive(ctx, id)
		switch {
		case err != nil:
			failed++
		case !ok:
			t.Ended(key)
		}
	}
	if failed > 0 && t.logger != nil {
		t.logger.Warn("sgid could not check the sessions of some upgraded connections; they stay open until a check succeeds", zap.Int("sessions", failed))
	}
}

// Close stops the sweep for good, for an owner being cleaned up. It
// leaves the connections open: they belong to the handler that hijacked
// them, which closes them on its own cleanup (reverse_proxy does).
func (t *Tracker) Close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		close(t.stop)
	}
}
