package cluster

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// How many logins are in flight at once in each fault, and how long the
// provider stalls in the "slow" fault: far beyond the handler's timeout
// for a request to sgID (10 s, the sgid client's default), so a callback
// that ends before it proves the handler gave up on its own.
const (
	faultLogins = 8
	stall       = 45 * time.Second
)

// jwksMinRefetch mirrors the sgid client's floor between two fetches of
// the provider's keys (sgid/jwks.go): a key rotation is seen at once only
// when the last fetch is at least this old.
const jwksMinRefetch = 30 * time.Second

// callbackClient sends callbacks from the goroutines of concurrent logins.
// Its timeout is longer than the stall, so a handler without a timeout of
// its own would show as a callback that outlasts the stall.
func callbackClient(b *cluster.Browser) *http.Client {
	c := *b.Client
	c.Timeout = stall + 15*time.Second
	return &c
}

// outcome is where one callback ended and how long it took.
type outcome struct {
	loc  string
	took time.Duration
	err  error
}

// codes runs the first half of n logins on i, each in a browser of its
// own: auth-url and sgID's authorize, so each browser holds a login cookie
// and a callback URL with a fresh code.
func codes(t *testing.T, i *cluster.Instance, n int) ([]*cluster.Browser, []string) {
	t.Helper()
	browsers := make([]*cluster.Browser, n)
	callbacks := make([]string, n)
	for k := range browsers {
		browsers[k] = cluster.NewBrowser(t)
		callbacks[k] = browsers[k].AtProvider(browsers[k].StartLogin(i, "icecream=Chendol"))
	}
	return browsers, callbacks
}

// finish sends every browser's callback to i at once and returns where each
// ended. It fails nothing itself: it runs the requests in goroutines.
func finish(i *cluster.Instance, browsers []*cluster.Browser, callbacks []string) []outcome {
	out := make([]outcome, len(browsers))
	var wg sync.WaitGroup
	for k, b := range browsers {
		wg.Go(func() {
			start := time.Now()
			resp, err := callbackClient(b).Get(callbacks[k])
			out[k].took = time.Since(start)
			if err != nil {
				out[k].err = err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				out[k].err = fmt.Errorf("callback answered %d, want 302", resp.StatusCode)
				return
			}
			out[k].loc = resp.Header.Get("Location")
		})
	}
	wg.Wait()
	return out
}

// wantEndings fails unless every login ended at want (a path, such as
// /logged-in or /error?reason=provider_error), and returns the longest
// time a callback took.
func wantEndings(t *testing.T, what string, out []outcome, want string) time.Duration {
	t.Helper()
	var longest time.Duration
	for k, o := range out {
		longest = max(longest, o.took)
		if o.err != nil {
			t.Errorf("%s: login %d: %v (after %v)", what, k, o.err, o.took.Round(time.Millisecond))
		} else if o.loc != want {
			t.Errorf("%s: login %d ended at %q, want %q", what, k, o.loc, want)
		}
	}
	return longest
}

// resident is a logged-in user who asks userinfo in a loop while logins
// run into sgID's faults, and must notice none of them.
type resident struct {
	session *http.Cookie
	sub     string
	i       *cluster.Instance
	stats   *loadStats
}

func (r *resident) run(stop <-chan struct{}) {
	c := cluster.NewClient(nil)
	// Each round asks first and checks stop after, so even logins that
	// end at once meet one request of the resident's.
	for {
		askUserinfo(c, r.i, r.session, r.sub, r.stats)
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// during runs f while the resident asks userinfo, and fails unless each of
// the resident's requests was answered as the logged-in user.
func (r *resident) during(t *testing.T, what string, f func()) {
	t.Helper()
	r.stats = new(loadStats)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { r.run(stop) })
	f()
	close(stop)
	wg.Wait()
	if n := r.stats.failures(); n != 0 {
		t.Errorf("%s: %d of the logged-in user's userinfo requests failed, the first: %v", what, n, r.stats.sample)
	}
	if r.stats.ok.Load() == 0 {
		t.Errorf("%s: the logged-in user's userinfo was not answered while the logins ran", what)
	}
}

// TestProviderFaults runs logins through a real Caddy while sgID
// misbehaves in each way sgidtest can make it, 8 logins in flight at once:
// each ends at the error path with the reason for what went wrong, and
// within the handler's timeout; a user logged in before notices nothing;
// and once sgID behaves again, logins succeed with no restart.
func TestProviderFaults(t *testing.T) {
	p := cluster.NewProvider(t, sgidtest.Options{})
	a := cluster.Start(t, cluster.Options{Name: "A", Site: sgidSite(p, "store memory")})
	pid := a.PID()

	// The resident user's login also makes Caddy fetch sgID's keys.
	br := cluster.NewBrowser(t)
	if loc := br.Login(a, a, "icecream=Mango"); loc != "/logged-in" {
		t.Fatalf("the first login ended at %q", loc)
	}
	keysSeen := time.Now()
	jwksFetches := p.Stats().JWKS
	if jwksFetches != 1 {
		t.Fatalf("the first login fetched the JWKS %d times, want 1", jwksFetches)
	}
	user := &resident{session: br.Cookie(sessionCookie), sub: p.Personas()[0].Sub, i: a}

	recovered := func(what string) {
		t.Helper()
		browsers, callbacks := codes(t, a, faultLogins)
		wantEndings(t, what+", after recovery", finish(a, browsers, callbacks), "/logged-in")
	}

	faults := []struct {
		name   string
		break_ func()
		mend   func()
		reason string
	}{
		{"sgID down", p.Down, func() { p.Up(t) }, "provider_error"},
		{"sgID slower than the timeout", func() { p.SetFaults(sgidtest.Faults{Delay: stall}) }, nil, "provider_error"},
		{"token endpoint 500", func() { p.SetFaults(sgidtest.Faults{TokenStatus: 500}) }, nil, "provider_error"},
		{"userinfo endpoint 500", func() { p.SetFaults(sgidtest.Faults{UserinfoStatus: 500}) }, nil, "userinfo_failed"},
		{"token endpoint garbage JSON", func() { p.SetFaults(sgidtest.Faults{MalformedTokenJSON: true}) }, nil, "provider_error"},
		{"userinfo endpoint garbage JSON", func() { p.SetFaults(sgidtest.Faults{MalformedUserinfoJSON: true}) }, nil, "userinfo_failed"},
	}
	for _, f := range faults {
		browsers, callbacks := codes(t, a, faultLogins)
		f.break_()
		var out []outcome
		user.during(t, f.name, func() { out = finish(a, browsers, callbacks) })
		longest := wantEndings(t, f.name, out, "/error?reason="+f.reason)
		t.Logf("%s: %d logins ended at %s, the slowest after %v", f.name, faultLogins, f.reason, longest.Round(time.Millisecond))
		if longest >= stall {
			t.Errorf("%s: a callback took %v, as long as sgID stalled: the handler did not time out", f.name, longest)
		}
		if f.mend != nil {
			f.mend()
		} else {
			p.SetFaults(sgidtest.Faults{})
		}
		recovered(f.name)
	}
	if got := p.Stats().JWKS; got != jwksFetches {
		t.Fatalf("the faults above made Caddy fetch the JWKS %d more times; the key rotation below needs it untouched", got-jwksFetches)
	}

	// sgID rotates its signing key while logins are in flight, long enough
	// after Caddy last fetched its keys: the first callback with a token
	// under the new kid refetches the JWKS, once for all 8, and every login
	// succeeds.
	time.Sleep(time.Until(keysSeen.Add(jwksMinRefetch + time.Second)))
	browsers, callbacks := codes(t, a, faultLogins)
	p.RotateSigningKey()
	refetchAfter := time.Now()
	var out []outcome
	user.during(t, "key rotation", func() { out = finish(a, browsers, callbacks) })
	wantEndings(t, "key rotation", out, "/logged-in")
	keysSeen = time.Now()
	if got := p.Stats().JWKS - jwksFetches; got != 1 {
		t.Errorf("after the key rotation Caddy fetched the JWKS %d times, want once for all %d logins", got, faultLogins)
	}

	// A second rotation right after the first: the client refetches its
	// keys at most every 30 s, so until then tokens under the new kid are
	// refused as invalid_token. Logins recover by themselves once that time
	// has passed.
	browsers, callbacks = codes(t, a, faultLogins)
	p.RotateSigningKey()
	user.during(t, "second key rotation", func() { out = finish(a, browsers, callbacks) })
	// The refetch happened after refetchAfter, so a callback that ended
	// within 30 s of it was still inside the client's floor.
	if time.Since(refetchAfter) < jwksMinRefetch {
		wantEndings(t, "second key rotation within 30 s", out, "/error?reason=invalid_token")
	}
	deadline := keysSeen.Add(jwksMinRefetch + 15*time.Second)
	for {
		b := cluster.NewBrowser(t)
		loc := b.Login(a, a, "icecream=Mango")
		if loc == "/logged-in" {
			t.Logf("logins recovered %v after the second rotation", time.Since(keysSeen).Round(100*time.Millisecond))
			break
		}
		if !strings.HasPrefix(loc, "/error?reason=invalid_token") || time.Now().After(deadline) {
			t.Fatalf("a login %v after the second rotation ended at %q", time.Since(keysSeen).Round(time.Millisecond), loc)
		}
		time.Sleep(time.Second)
	}
	recovered("second key rotation")

	if a.PID() != pid {
		t.Errorf("Caddy was restarted (pid %d, then %d); the logins must recover without it", pid, a.PID())
	}
}
