package cluster

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// Provider is a fake sgID in the test process that every instance can
// reach, so a code issued for a login started on one instance can be
// exchanged by another. Down and Up take it off its port and put it back
// on the same one, so a test can show that instances recover from an
// outage without a restart.
type Provider struct {
	*sgidtest.Provider
	// URL is the provider's origin, http://127.0.0.1:<port>; the issuer
	// is URL + "/v2".
	URL string
	// KeyFile holds the client's private key (PEM), which instances read
	// through a {file.…} placeholder.
	KeyFile string

	addr string
	mu   sync.Mutex
	srv  *http.Server // nil while down
}

// NewProvider starts a fake sgID on a loopback port; the test's cleanup
// stops it. Its authorize endpoint approves at once with the selected
// persona unless opts.LoginPage is set.
func NewProvider(tb testing.TB, opts sgidtest.Options) *Provider {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("no loopback port for the provider: %v", err)
	}
	url := "http://" + l.Addr().String()
	sp, err := sgidtest.NewProvider(url+"/v2", opts)
	if err != nil {
		l.Close()
		tb.Fatal(err)
	}
	p := &Provider{Provider: sp, URL: url, KeyFile: filepath.Join(tb.TempDir(), "client-key.pem"), addr: l.Addr().String()}
	if err := os.WriteFile(p.KeyFile, []byte(sp.ClientPrivateKeyPEM()), 0o600); err != nil {
		l.Close()
		tb.Fatal(err)
	}
	p.serve(l)
	tb.Cleanup(p.Down)
	return p
}

func (p *Provider) serve(l net.Listener) {
	srv := &http.Server{Handler: p.Provider, ReadHeaderTimeout: 10 * time.Second}
	p.mu.Lock()
	p.srv = srv
	p.mu.Unlock()
	// Serve returns when Down closes the server; should accepting fail
	// otherwise, the provider stops answering, which the tests meet as
	// failed logins.
	go srv.Serve(l)
}

// Down closes the provider's port and every connection to it, with any
// request in progress: instances then meet "connection refused", as when
// sgID is unreachable. It is safe to call more than once.
func (p *Provider) Down() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Up serves the provider on its port again, with all it knew before (its
// keys, codes and tokens), after Down.
func (p *Provider) Up(tb testing.TB) {
	tb.Helper()
	p.mu.Lock()
	up := p.srv != nil
	p.mu.Unlock()
	if up {
		tb.Fatal("the provider is already up")
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		tb.Fatalf("the provider cannot have its port back (port %s is in use?): %v", p.addr, err)
	}
	p.serve(l)
}

// Subdirectives are the lines of an sgid block that point a handler at
// this provider.
func (p *Provider) Subdirectives() string {
	return fmt.Sprintf("client_id %s\n\t\tclient_secret %s\n\t\tprivate_key {file.%s}\n\t\thost %s",
		p.ClientID(), p.ClientSecret(), p.KeyFile, p.URL)
}
