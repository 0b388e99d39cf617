package instances

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// Provider is a fake sgID in the test process that every instance can
// reach, so a code issued for a login started on one instance can be
// exchanged by another.
type Provider struct {
	*sgidtest.Server
	// KeyFile holds the client's private key (PEM), which instances read
	// through a {file.…} placeholder.
	KeyFile string
}

// NewProvider starts a fake sgID on a loopback port; the test's cleanup
// stops it. Its authorize endpoint approves at once with the selected
// persona unless opts.LoginPage is set.
func NewProvider(tb testing.TB, opts sgidtest.Options) *Provider {
	tb.Helper()
	s := sgidtest.NewServer(opts)
	tb.Cleanup(s.Close)
	p := &Provider{Server: s, KeyFile: filepath.Join(tb.TempDir(), "client-key.pem")}
	if err := os.WriteFile(p.KeyFile, []byte(s.ClientPrivateKeyPEM()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Subdirectives are the lines of an sgid block that point a handler at
// this provider.
func (p *Provider) Subdirectives() string {
	return fmt.Sprintf("client_id %s\n\t\tclient_secret %s\n\t\tprivate_key {file.%s}\n\t\thost %s",
		p.ClientID(), p.ClientSecret(), p.KeyFile, p.URL)
}
