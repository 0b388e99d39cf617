package caddysgid

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// testClock is a clock tests move by hand.
type testClock struct{ t atomic.Pointer[time.Time] }

func newTestClock() *testClock {
	c := new(testClock)
	c.set(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	return c
}

func (c *testClock) now() time.Time      { return *c.t.Load() }
func (c *testClock) set(t time.Time)     { c.t.Store(&t) }
func (c *testClock) add(d time.Duration) { c.set(c.now().Add(d)) }

// idleHandler is a handler with an idle timeout on st, dated by clk.
func idleHandler(t *testing.T, st store.Store, clk *testClock, idle time.Duration) *Handler {
	t.Helper()
	h := &Handler{logger: zap.NewNop(), now: clk.now, metrics: &metrics{}, SessionIdleTimeout: caddy.Duration(idle)}
	h.applyDefaults()
	h.store, h.rawStore = st, st
	h.keys = newKeyring(st, nil, time.Duration(h.KeyRotation), time.Duration(h.LoginTimeout))
	h.index = newSessionIndex(st, nil)
	h.seen = newSeenWrites()
	if err := h.provisionGuard(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	return h
}

// memoryScope opens a fresh scope of a memory store, closed with the test.
func memoryScope(t *testing.T) store.Store {
	t.Helper()
	st, err := (&store.Memory{MaxEntries: 1000}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// sessionRequest is a request carrying the session cookie of id.
func sessionRequest(h *Handler, id string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	r.AddCookie(&http.Cookie{Name: h.CookieName, Value: id})
	return r
}

func loggedIn(t *testing.T, h *Handler, id string) bool {
	t.Helper()
	o, _, err := h.lookupSession(sessionRequest(h, id))
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	return o != nil
}

func counterValue(t *testing.T, c *prometheus.CounterVec, labels ...string) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.WithLabelValues(labels...).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestIdleTimeoutEndsUnusedSession: a session unused for the idle timeout
// (counted from its last recorded use plus the recording interval, so
// never early) ends, is counted, and leaves the store and the index; one
// in use lives on, but not past its absolute lifetime.
func TestIdleTimeoutEndsUnusedSession(t *testing.T) {
	clk := newTestClock()
	st := memoryScope(t)
	h := idleHandler(t, st, clk, 10*time.Minute)
	h.SessionLifetime = caddy.Duration(time.Hour)
	start := clk.now()
	id, err := h.putSession(t.Context(), session{Sub: "idle-user", Expires: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	expiredBefore := counterValue(t, idleExpiriesTotal, "unknown")

	clk.set(start.Add(10*time.Minute + seenEvery - time.Second))
	if !loggedIn(t, h, id) {
		t.Fatal("session ended before idle timeout + the recording interval")
	}
	used := clk.now()
	clk.set(used.Add(10*time.Minute + seenEvery - time.Second))
	if !loggedIn(t, h, id) {
		t.Fatal("session ended though it was used within the idle timeout")
	}
	if got := counterValue(t, idleExpiriesTotal, "unknown") - expiredBefore; got != 0 {
		t.Fatalf("idle expiries counted while the session lived: %v", got)
	}
	clk.set(clk.now().Add(10*time.Minute + seenEvery))
	if loggedIn(t, h, id) {
		t.Fatal("session unused for longer than the idle timeout still accepted")
	}
	if got := counterValue(t, idleExpiriesTotal, "unknown") - expiredBefore; got != 1 {
		t.Errorf("idle expiries counted %v, want 1", got)
	}
	if _, err := st.Get(t.Context(), sessionKey(id)); err == nil {
		t.Error("the idle session's record is still in the store")
	}
	if n, _, _ := h.countSessions(t.Context()); n != 0 {
		t.Errorf("the index still holds %d sessions", n)
	}

	// A session used every 9 minutes still ends at its absolute lifetime.
	clk.set(start)
	id, err = h.putSession(t.Context(), session{Sub: "busy-user", Expires: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for clk.now().Before(start.Add(time.Hour)) {
		if !loggedIn(t, h, id) {
			t.Fatalf("busy session ended at %v, before its lifetime", clk.now().Sub(start))
		}
		clk.add(9 * time.Minute)
	}
	if loggedIn(t, h, id) {
		t.Error("the idle timeout extended the session past its absolute lifetime")
	}
}

// TestIdleTimeoutOff: without session_idle_timeout a session unused for
// most of its lifetime is still accepted, and no last-use is written.
func TestIdleTimeoutOff(t *testing.T) {
	clk := newTestClock()
	st := &countingStore{Store: memoryScope(t), prefix: "seen-"}
	h := idleHandler(t, st, clk, 0)
	id, err := h.putSession(t.Context(), session{Sub: "u", Expires: clk.now().Add(12 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	clk.add(11 * time.Hour)
	if !loggedIn(t, h, id) || st.prefixPuts.Load() != 0 {
		t.Errorf("without an idle timeout: logged in %v, %d last-use writes", loggedIn(t, h, id), st.prefixPuts.Load())
	}
}

// TestLastUseWrittenAtMostOncePerMinute: many requests of one session
// within a minute, one after another or all at once, write its last use
// once; another instance that reads the store sees that write and does not
// write again within the minute; after a minute the next request writes.
func TestLastUseWrittenAtMostOncePerMinute(t *testing.T) {
	clk := newTestClock()
	st := &countingStore{Store: memoryScope(t), prefix: "seen-"}
	h := idleHandler(t, st, clk, 30*time.Minute)
	start := clk.now()
	id, err := h.putSession(t.Context(), session{Sub: "u", Expires: start.Add(12 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// The login itself dates the session: no write in its first minute.
	for i := range 30 {
		clk.set(start.Add(time.Duration(i) * 2 * time.Second))
		loggedIn(t, h, id)
	}
	if n := st.prefixPuts.Load(); n != 0 {
		t.Fatalf("%d last-use writes within the login's minute, want 0", n)
	}

	// Fifty requests at once, a minute and a half in, all read the old
	// last use before any of them writes.
	clk.set(start.Add(90 * time.Second))
	const concurrent = 50
	var wg, gate sync.WaitGroup
	gate.Add(concurrent)
	st.gate = &gate
	for range concurrent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.lookupSession(sessionRequest(h, id))
		}()
	}
	wg.Wait()
	st.gate = nil
	if n := st.prefixPuts.Load(); n != 1 {
		t.Fatalf("50 concurrent requests wrote the last use %d times, want 1", n)
	}
	// More requests in the same minute, on this instance and on another
	// instance sharing the store.
	other := idleHandler(t, st, clk, 30*time.Minute)
	for i := range 20 {
		clk.set(start.Add(90*time.Second + time.Duration(i)*2*time.Second))
		loggedIn(t, h, id)
		loggedIn(t, other, id)
	}
	if n := st.prefixPuts.Load(); n != 1 {
		t.Fatalf("requests within the minute after a write wrote %d times in all, want 1", n)
	}
	clk.set(start.Add(151 * time.Second))
	loggedIn(t, other, id)
	loggedIn(t, h, id)
	if n := st.prefixPuts.Load(); n != 2 {
		t.Fatalf("a minute after the write: %d writes in all, want 2", n)
	}
}

// TestLastUseWriteDoesNotBringBackAnEndedSession: an instance holding an
// old copy of a session that another instance ended writes its last use;
// the session stays ended in the store, because the last use lives under a
// key of its own rather than in a rewritten record.
func TestLastUseWriteDoesNotBringBackAnEndedSession(t *testing.T) {
	clk := newTestClock()
	shared := memoryScope(t)
	a := idleHandler(t, shared, clk, 30*time.Minute)
	b := idleHandler(t, store.Cached(shared, time.Hour, 0), clk, 30*time.Minute)
	id, err := a.putSession(t.Context(), session{Sub: "u", Expires: clk.now().Add(12 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !loggedIn(t, b, id) {
		t.Fatal("B does not see the session")
	}
	if n, err := a.revokeSub(t.Context(), "u", nil); err != nil || n != 1 {
		t.Fatalf("revoke on A: %d, %v", n, err)
	}
	clk.add(2 * time.Minute)
	loggedIn(t, b, id) // B's cached copy is due a last-use write
	if _, err := shared.Get(t.Context(), sessionKey(id)); err == nil {
		t.Fatal("B's last-use write brought the revoked session back into the store")
	}
}

// TestIdleDecidedOnTheStoresCopy: an instance whose cached copy of a
// session's last use is old asks the store before ending the session for
// idleness, so a use another instance recorded since keeps it alive.
func TestIdleDecidedOnTheStoresCopy(t *testing.T) {
	clk := newTestClock()
	shared := memoryScope(t)
	a := idleHandler(t, shared, clk, 10*time.Minute)
	b := idleHandler(t, store.Cached(shared, time.Hour, 0), clk, 10*time.Minute)
	b.rawStore = shared
	start := clk.now()
	id, err := a.putSession(t.Context(), session{Sub: "u", Expires: start.Add(12 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// B records a use at 2m and keeps that copy in its cache; A records
	// later uses.
	for _, step := range []struct {
		h  *Handler
		at time.Duration
	}{{b, 2 * time.Minute}, {a, 3 * time.Minute}, {a, 8 * time.Minute}, {a, 12 * time.Minute}} {
		clk.set(start.Add(step.at))
		if !loggedIn(t, step.h, id) {
			t.Fatalf("session ended at %v", step.at)
		}
	}
	// 13m01s: B's copy says 11m unused; the store says 1m.
	clk.set(start.Add(13*time.Minute + time.Second))
	if !loggedIn(t, b, id) {
		t.Fatal("B ended a session in use on A, on its cache's old last use")
	}
	if !loggedIn(t, a, id) {
		t.Fatal("the session is gone from the store")
	}
}
