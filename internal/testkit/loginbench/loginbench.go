// Package loginbench holds what the login CPU benchmarks share: a fake sgID
// in a child process, so that the benchmark process's CPU time is the
// client's alone, the process's CPU time, and the physical floor of one
// login. Only tests import it.
package loginbench

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// providerEnv, set in a child process of a test binary, makes Main serve
// a fake sgID instead of running tests.
const providerEnv = "SGID_BENCH_PROVIDER"

// Main is TestMain for a package whose benchmarks call StartProvider: in
// the child process it serves the fake sgID until its standard input
// closes; otherwise it runs the tests.
func Main(m *testing.M) int {
	if os.Getenv(providerEnv) != "1" {
		return m.Run()
	}
	srv := sgidtest.NewServer(sgidtest.Options{})
	defer srv.Close()
	json.NewEncoder(os.Stdout).Encode(Provider{srv.URL, srv.ClientID(), srv.ClientSecret(), srv.ClientPrivateKeyPEM()})
	bufio.NewReader(os.Stdin).ReadByte()
	return 0
}

// Provider is how to reach the fake sgID of the child process.
type Provider struct {
	URL, ClientID, ClientSecret, KeyPEM string
}

// StartProvider runs a fake sgID on loopback in a child process (the test
// binary again, whose TestMain must call Main). Cleanup stops it.
func StartProvider(tb testing.TB) Provider {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), providerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var p Provider
	if err := json.NewDecoder(stdout).Decode(&p); err != nil {
		tb.Fatalf("provider process: %v", err)
	}
	return p
}

// Floor is the physical floor of one login, on a real login's inputs: one
// RSA-OAEP-256 decryption of userinfo's key layer and one RS256
// verification of the ID token, with crypto/rsa and nothing around them.
type Floor struct {
	priv         *rsa.PrivateKey
	encryptedKey []byte
	pub          *rsa.PublicKey
	signed, sig  []byte
}

// NewFloor fetches userinfo with accessToken and the provider's JWKS, for
// the encrypted key and the key that signed idToken.
func NewFloor(tb testing.TB, p Provider, accessToken, idToken string) *Floor {
	tb.Helper()
	var ui struct{ Key string }
	getJSON(tb, p.URL+"/v2/oauth/userinfo", accessToken, &ui)
	var jwks struct{ Keys []struct{ N, E string } }
	getJSON(tb, p.URL+"/v2/.well-known/jwks.json", "", &jwks)
	if len(jwks.Keys) != 1 {
		tb.Fatalf("JWKS has %d keys, want 1", len(jwks.Keys))
	}
	n, e := b64(tb, jwks.Keys[0].N), b64(tb, jwks.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	block, _ := pem.Decode([]byte(p.KeyPEM))
	if block == nil {
		tb.Fatal("the client key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		k1, err1 := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err1 != nil {
			tb.Fatal(err)
		}
		key = k1
	}
	jws := strings.Split(idToken, ".")
	f := &Floor{
		priv:         key.(*rsa.PrivateKey),
		encryptedKey: b64(tb, strings.Split(ui.Key, ".")[1]),
		pub:          pub,
		signed:       []byte(jws[0] + "." + jws[1]),
		sig:          b64(tb, jws[2]),
	}
	if err := f.Run(); err != nil {
		tb.Fatal(err)
	}
	return f
}

// TimeParallel runs the floor n times at once, as n logins would run, and
// returns the CPU time this process spent on it. It collects garbage
// first, so that earlier work's is not counted.
func (f *Floor) TimeParallel(tb testing.TB, n int) time.Duration {
	runtime.GC()
	start := CPUTime(tb)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			Label("floor", func() {
				if err := f.Run(); err != nil {
					tb.Error(err)
				}
			})
		})
	}
	wg.Wait()
	return CPUTime(tb) - start
}

// Label runs f with the profiler label part=part, which the goroutines f
// starts (such as the HTTP client's) inherit.
func Label(part string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("part", part), func(context.Context) { f() })
}

// Report reports the CPU time per login and per floor, and their ratio.
func Report(b *testing.B, loginCPU, floorCPU time.Duration, logins int) {
	perLogin := float64(loginCPU.Nanoseconds()) / float64(logins)
	perFloor := float64(floorCPU.Nanoseconds()) / float64(logins)
	b.ReportMetric(perLogin, "cpu-ns/login")
	b.ReportMetric(perFloor, "cpu-ns/floor")
	b.ReportMetric(perLogin/perFloor, "x-floor")
}

// Run does the floor once, hashing the signed part included.
func (f *Floor) Run() error {
	if _, err := rsa.DecryptOAEP(sha256.New(), nil, f.priv, f.encryptedKey, nil); err != nil {
		return err
	}
	digest := sha256.Sum256(f.signed)
	return rsa.VerifyPKCS1v15(f.pub, crypto.SHA256, digest[:], f.sig)
}

func getJSON(tb testing.TB, u, bearer string, dst any) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("%s answered %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(dst); err != nil {
		tb.Fatal(fmt.Errorf("%s: %w", u, err))
	}
}

func b64(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
