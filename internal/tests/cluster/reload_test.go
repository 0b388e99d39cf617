package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// How the reload test loads Caddy: this many logged-in users, each asking
// userinfo in a loop over kept-alive connections, while the config is
// reloaded this many times, alternating two configs.
const (
	reloadUsers = 4
	reloads     = 20
)

// loadStats counts what the users saw. Every transport error and every
// answer other than 200 with the user's own sub counts as a failure, but
// for one case, the one a connection closed before any answer makes:
//
// A config reload shuts the old config's servers down, and net/http's
// server closes, unanswered, every connection on which it reads a request
// after its shutdown began (golang/go#65802: the request has not reached
// a handler, so a client may send it again). On a kept-alive connection
// the Transport sends such a request again by itself, as its
// documentation says it does for a request without a body on a reused
// connection (counted in resentByTransport). On a new connection it
// cannot tell, so the client here does the same: once, and only when the
// connection ended (EOF or reset) before a single byte of an answer came
// (counted in resentByClient).
//
// Rarer still, the dial of a new connection is reset, most likely because
// the connection was still in the handshake or the accept queue of the old
// config's listening socket when that socket closed (Caddy opens a socket
// of its own for each config, with SO_REUSEPORT). The request was never
// sent; it is sent once more too (counted in resetAtDial).
//
// A browser does not resend in either case on a new connection, so those
// requests are what a reload costs a user under load; the test reports
// them and fails on everything else.
type loadStats struct {
	ok, transportErrors, badStatus, wrongUser      atomic.Int64
	resentByTransport, resentByClient, resetAtDial atomic.Int64

	mu     sync.Mutex
	sample []string // the first few failures, for the message
}

func (s *loadStats) fail(counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sample) < 10 {
		s.sample = append(s.sample, fmt.Sprintf(format, args...))
	}
}

func (s *loadStats) failures() int64 {
	return s.transportErrors.Load() + s.badStatus.Load() + s.wrongUser.Load()
}

// getTraced sends req and reports how many connections the Transport took
// for it, whether the last was a reused one, and whether any byte of an
// answer arrived.
func getTraced(c *http.Client, req *http.Request) (resp *http.Response, conns int32, reused, answered bool, err error) {
	var n atomic.Int32
	var wasReused, gotByte atomic.Bool
	trace := &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			n.Add(1)
			wasReused.Store(info.Reused)
		},
		GotFirstResponseByte: func() { gotByte.Store(true) },
	}
	resp, err = c.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	return resp, n.Load(), wasReused.Load(), gotByte.Load(), err
}

// askUserinfo asks i for the user's userinfo with the session cookie and
// counts the outcome in s.
func askUserinfo(c *http.Client, i *cluster.Instance, session *http.Cookie, sub string, s *loadStats) {
	req, err := http.NewRequest(http.MethodGet, i.URL("/api/userinfo"), nil)
	if err != nil {
		s.fail(&s.transportErrors, "%v", err)
		return
	}
	req.AddCookie(session)
	resp, conns, reused, answered, err := getTraced(c, req)
	if conns > 1 {
		s.resentByTransport.Add(1)
	}
	closed := !answered && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET))
	var op *net.OpError
	switch {
	case closed && errors.As(err, &op) && op.Op == "dial":
		s.resetAtDial.Add(1)
		resp, _, reused, _, err = getTraced(c, req)
	case closed && !reused:
		s.resentByClient.Add(1)
		resp, _, reused, _, err = getTraced(c, req)
	}
	if err != nil {
		conn := "a new connection"
		if reused {
			conn = "a kept-alive connection"
		}
		s.fail(&s.transportErrors, "transport error on %s: %v", conn, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		s.fail(&s.transportErrors, "reading the body: %v", err)
		return
	}
	if resp.StatusCode != http.StatusOK {
		s.fail(&s.badStatus, "%d %s", resp.StatusCode, body)
		return
	}
	var got struct{ Sub string }
	if json.Unmarshal(body, &got) != nil || got.Sub != sub {
		s.fail(&s.wrongUser, "200 for another user: %s", body)
		return
	}
	s.ok.Add(1)
}

// The config is reloaded 20 times (as `caddy reload` does, through the
// admin API's /load) while logged-in users ask userinfo at full speed over
// kept-alive connections. No request may fail and no session may be lost,
// with the memory store (whose table a reload hands over) and with the
// default storage store (read through a cache a reload rebuilds).
func TestReloadUnderLoad(t *testing.T) {
	for _, store := range []struct{ name, line string }{
		{"memory", "store memory"},
		{"storage", ""},
	} {
		t.Run(store.name, func(t *testing.T) { testReloadUnderLoad(t, store.line) })
	}
}

func testReloadUnderLoad(t *testing.T, storeLine string) {
	p := cluster.NewProvider(t, sgidtest.Options{})
	personas := p.Personas()
	// The two configs differ only in a route that has nothing to do with
	// sgid, so each reload is one an operator makes for another reason.
	site := func(version string) string {
		return fmt.Sprintf("\trespond /version %q 200\n%s", version, sgidSite(p, storeLine))
	}
	a := cluster.Start(t, cluster.Options{Name: "A", Site: site("one")})

	type user struct {
		sub     string
		session *http.Cookie
	}
	users := make([]user, reloadUsers)
	for n := range users {
		persona := personas[n%len(personas)]
		if err := p.SelectPersona(persona.Sub); err != nil {
			t.Fatal(err)
		}
		br := cluster.NewBrowser(t)
		if loc := br.Login(a, a, "icecream=Mango"); loc != "/logged-in" {
			t.Fatalf("login of user %d ended at %q", n, loc)
		}
		users[n] = user{sub: persona.Sub, session: br.Cookie(sessionCookie)}
		if users[n].session == nil {
			t.Fatalf("user %d has no session cookie", n)
		}
	}

	tr := &http.Transport{MaxIdleConnsPerHost: reloadUsers, DialContext: cluster.DialLoopback}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var stats loadStats
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				askUserinfo(c, a, u.session, u.sub, &stats)
			}
		})
	}
	// Stop the load also when a reload fails the test.
	stopped := false
	stopLoad := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer stopLoad()

	versions := []string{"one", "two"}
	br := cluster.NewBrowser(t)
	for n := 1; n <= reloads; n++ {
		before := stats.ok.Load() + stats.failures()
		version := versions[n%2]
		a.Reload(site(version))
		if during := stats.ok.Load() + stats.failures() - before; during == 0 {
			t.Errorf("reload %d: no userinfo request finished while it ran; the load did not overlap it", n)
		}
		if _, body := br.Get(a.URL("/version")); body != version {
			t.Fatalf("after reload %d /version answered %q, want %q", n, body, version)
		}
		// Let the load run on the new config before the next reload.
		time.Sleep(100 * time.Millisecond)
	}
	stopLoad()

	t.Logf("%d reloads: %d userinfo answers, %d transport errors, %d bad statuses, %d wrong users; "+
		"closed unanswered by the old config's server and sent again: %d on kept-alive connections (by net/http), %d on new ones (by the test); "+
		"reset while connecting and sent again: %d",
		reloads, stats.ok.Load(), stats.transportErrors.Load(), stats.badStatus.Load(), stats.wrongUser.Load(),
		stats.resentByTransport.Load(), stats.resentByClient.Load(), stats.resetAtDial.Load())
	if f := stats.failures(); f != 0 {
		t.Errorf("%d of %d userinfo requests failed during the reloads; the first ones:\n%v", f, f+stats.ok.Load(), stats.sample)
	}
	// Every session is still there after the last reload.
	for n, u := range users {
		resp, body := cluster.GetWithCookies(t, a, "/api/userinfo", u.session)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("user %d after the reloads: %d %s", n, resp.StatusCode, body)
		}
	}
}
