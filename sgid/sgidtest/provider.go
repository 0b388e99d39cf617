package sgidtest

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid/mock"
)

// Encoding selects how userinfo values are encrypted; see mock.Encoding.
type Encoding = mock.Encoding

const (
	// EncodingSgID is what real sgID sends; see mock.EncodingSgID.
	EncodingSgID = mock.EncodingSgID
	// EncodingMockpass is what mockpass sends; see mock.EncodingMockpass.
	EncodingMockpass = mock.EncodingMockpass
)

// Persona is a made-up person the provider can log in; see mock.Persona.
type Persona = mock.Persona

// DefaultPersonas returns the built-in made-up people, a fresh copy on
// every call; see mock.DefaultPersonas.
func DefaultPersonas() []Persona { return mock.DefaultPersonas() }

// Options configures a Provider: those of mock.Options, with the defaults
// "sgidtest-client" and "sgidtest-secret" for the client. Its Hooks are
// the test provider's own (they apply the faults of SetFaults), so any
// given are replaced.
type Options = mock.Options

// Stats counts requests per endpoint, including failed ones, so that tests can
// assert how often a client talks to the provider (for example that a JWKS is
// cached and refetched at most once).
type Stats struct {
	Discovery int64
	Authorize int64
	Token     int64
	Userinfo  int64
	JWKS      int64
}

// Provider is a fake sgID v2 provider: a mock.Provider that can also be
// made to misbehave (see SetFaults) and counts the requests it serves. It
// is an http.Handler serving the sgID endpoints under the path prefix /v2
// relative to where it is mounted. All methods are safe for concurrent use.
type Provider struct {
	*mock.Provider

	encoding Encoding

	// strayKey is an RSA key pair that belongs to nobody. Faults use it to
	// sign or encrypt with the wrong key; it is generated on first use
	// because most tests never need it and RSA key generation is slow.
	strayKey func() *rsa.PrivateKey

	stats struct {
		discovery, authorize, token, userinfo, jwks atomic.Int64
	}

	mu     sync.Mutex
	faults Faults
}

// NewProvider creates a provider whose ID tokens carry issuer as iss.
// issuer must be an absolute http or https URL, normally the origin the
// handler is reachable at plus "/v2" (for example "http://127.0.0.1:1234/v2");
// a trailing slash is removed. The issuer only feeds iss and the discovery
// document: routing always uses the /v2 prefix relative to the mount point.
func NewProvider(issuer string, opts Options) (*Provider, error) {
	p := &Provider{
		encoding: opts.Encoding,
		strayKey: sync.OnceValue(func() *rsa.PrivateKey {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				// crypto/rand does not fail on supported platforms, so
				// this is unreachable in practice; a panic is the honest
				// answer.
				panic("sgidtest: generating a stray RSA key: " + err.Error())
			}
			return key
		}),
	}
	opts.ClientID = cmp.Or(opts.ClientID, "sgidtest-client")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "sgidtest-secret")
	opts.Hooks = mock.Hooks{IDToken: p.alterIDToken, Userinfo: p.alterUserinfo}
	mp, err := mock.NewProvider(issuer, opts)
	if err != nil {
		return nil, err
	}
	p.Provider = mp
	return p, nil
}

// SetFaults makes the provider misbehave as described by f from now on. The
// zero Faults restores correct behaviour.
func (p *Provider) SetFaults(f Faults) {
	p.mu.Lock()
	p.faults = f
	p.mu.Unlock()
}

func (p *Provider) currentFaults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults
}

// Stats returns the request counters.
func (p *Provider) Stats() Stats {
	return Stats{
		Discovery: p.stats.discovery.Load(),
		Authorize: p.stats.authorize.Load(),
		Token:     p.stats.token.Load(),
		Userinfo:  p.stats.userinfo.Load(),
		JWKS:      p.stats.jwks.Load(),
	}
}

// Transport returns an http.RoundTripper that serves every request with
// this provider in the test process, faults included, whatever host the
// URL names; see mock.NewTransport.
func (p *Provider) Transport() http.RoundTripper { return mock.NewTransport(p) }

// ServeHTTP counts the request, applies the faults that act on whole
// answers (Delay, the forced statuses and the malformed JSON), and lets
// the mock provider answer the rest.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// status and malformed pick this endpoint's faults. They stay nil for
	// a method the endpoint does not serve, which gets its 405 at once.
	var (
		status    func(Faults) int
		malformed func(Faults) bool
	)
	switch r.URL.Path {
	case "/v2/.well-known/openid-configuration":
		p.stats.discovery.Add(1)
	case "/v2/.well-known/jwks.json":
		p.stats.jwks.Add(1)
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			status = func(f Faults) int { return f.JWKSStatus }
		}
	case "/v2/oauth/authorize":
		p.stats.authorize.Add(1)
	case "/v2/oauth/token":
		p.stats.token.Add(1)
		if r.Method == http.MethodPost {
			status = func(f Faults) int { return f.TokenStatus }
			malformed = func(f Faults) bool { return f.MalformedTokenJSON }
		}
	case "/v2/oauth/userinfo":
		p.stats.userinfo.Add(1)
		if r.Method == http.MethodGet {
			status = func(f Faults) int { return f.UserinfoStatus }
			malformed = func(f Faults) bool { return f.MalformedUserinfoJSON }
		}
	}
	if status == nil {
		p.Provider.ServeHTTP(w, r)
		return
	}
	f := p.currentFaults()
	if !sleepCtx(r, f.Delay) {
		return
	}
	if s := status(f); s != 0 {
		writeFaultStatus(w, s)
		return
	}
	if malformed == nil || !malformed(f) {
		p.Provider.ServeHTTP(w, r)
		return
	}
	// The endpoint does its work (a code is still consumed), and only the
	// answer is cut off, as a truncated response would look.
	rec := httptest.NewRecorder()
	p.Provider.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		body = body[:len(body)/2]
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// sleepCtx waits for d or until the request is gone, whichever is first,
// and reports whether the full delay elapsed. A stopped timer instead of
// time.After keeps nothing alive once the request is gone.
func sleepCtx(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// randomToken returns n random bytes as unpadded base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error.
	return base64.RawURLEncoding.EncodeToString(b)
}
