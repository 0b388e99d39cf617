package sgid

import (
	"context"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
)

// TestMain lets BenchmarkLoginCPU run the fake sgID in a child process.
func TestMain(m *testing.M) { os.Exit(loginbench.Main(m)) }

// loginCPUScopes are what the Caddy benchmarks ask for: three data fields.
var loginCPUScopes = []string{"openid", "myinfo.name", "myinfo.residentialstatus", "myinfo.email"}

// BenchmarkLoginCPU measures the client's CPU time per login (Exchange with
// the ID-token check, then Userinfo with its decryption) against the
// login's physical floor (loginbench.Floor: one RSA-OAEP-256 decryption
// and one RS256 verification with crypto/rsa, on a real login's inputs).
// The fake sgID runs in a child process, so this process's CPU time
// (getrusage, every thread: HTTP client, JSON, JOSE, GC) is the client's
// alone. Each round authorizes 8 logins first (the browser's part, not
// counted), times their exchanges run in parallel, then times as many
// floor operations, so that load from elsewhere weighs on both alike. The
// client is configured as the Caddy module configures it; the same logins
// through net/http's default transport are timed alongside
// (x-floor-default-transport).
//
//	go test -run '^$' -bench BenchmarkLoginCPU -count 5 ./sgid
func BenchmarkLoginCPU(b *testing.B) {
	const parallel = 8
	p := loginbench.StartProvider(b)
	newClient := func(hc *http.Client) *Client {
		c, err := New(Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, PrivateKey: p.KeyPEM, Host: p.URL, RedirectURI: testRedirect, Scopes: loginCPUScopes, HTTPClient: hc})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	// The client as New makes it, and one on net/http's default transport
	// (2 idle connections per host), to show what connection reuse saves.
	clients := []*Client{newClient(nil), newClient(&http.Client{Timeout: 10 * time.Second})}
	ctx := context.Background()
	code, verifier, nonce := authorize(b, clients[0], nil)
	tok, err := clients[0].Exchange(ctx, ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
	if err != nil {
		b.Fatal(err)
	}
	floor := loginbench.NewFloor(b, p, tok.AccessToken, tok.IDToken)

	loginCPU := make([]time.Duration, len(clients))
	var floorCPU time.Duration
	var logins int
	type pending struct{ code, verifier, nonce string }
	for b.Loop() {
		for i, c := range clients {
			codes := make([]pending, parallel)
			for i := range codes {
				codes[i].code, codes[i].verifier, codes[i].nonce = authorize(b, c, nil)
			}
			runtime.GC()
			start := loginbench.CPUTime(b)
			var wg sync.WaitGroup
			for _, p := range codes {
				wg.Go(func() {
					tok, err := c.Exchange(ctx, ExchangeParams{Code: p.code, CodeVerifier: p.verifier, Nonce: p.nonce})
					if err != nil {
						b.Error(err)
						return
					}
					info, err := c.Userinfo(ctx, tok.Sub, tok.AccessToken)
					if err != nil || len(info.Data) != len(loginCPUScopes)-1 {
						b.Errorf("userinfo: %v, %v", err, info)
					}
				})
			}
			wg.Wait()
			loginCPU[i] += loginbench.CPUTime(b) - start
		}
		logins += parallel

		floorCPU += floor.TimeParallel(b, parallel)
	}
	loginbench.Report(b, loginCPU[0], floorCPU, logins)
	b.ReportMetric(float64(loginCPU[1])/float64(floorCPU), "x-floor-default-transport")
}
