package cluster

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// Balancer is a load balancer in the test process: one origin,
// http://localhost:<port>, in front of instances. It passes each request,
// Host header unchanged, to the instance last chosen with Send, so a test
// decides which instance answers each step of a login. Behind it every
// instance sees the same site, as in production: the same Host, hence the
// same derived redirect URI, and the same cookies.
type Balancer struct {
	Origin string

	mu sync.Mutex
	to *Instance
}

// NewBalancer starts a balancer on a loopback port; the test's cleanup
// stops it. Until Send chooses an instance it answers 503.
func NewBalancer(tb testing.TB) *Balancer {
	tb.Helper()
	b := &Balancer{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			to := b.target()
			u, _ := url.Parse(to.Origin)
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: DialLoopback},
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b.target() == nil {
			http.Error(w, "balancer: no instance chosen", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	srv.Start()
	tb.Cleanup(srv.Close)
	b.Origin = "http://localhost:" + strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	return b
}

// Send makes the balancer pass the next requests to i.
func (b *Balancer) Send(i *Instance) {
	b.mu.Lock()
	b.to = i
	b.mu.Unlock()
}

func (b *Balancer) target() *Instance {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.to
}

// URL is path on the balancer's origin.
func (b *Balancer) URL(path string) string { return b.Origin + path }

// String names the balancer and the instance it sends to, for messages.
func (b *Balancer) String() string {
	if to := b.target(); to != nil {
		return "the balancer (to " + to.Name + ")"
	}
	return "the balancer"
}
