package mock

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Encoding selects how userinfo values are encrypted. Real sgID and mockpass
// use different JWE algorithms, and a client must follow each JWE's header
// within an allow-list, so a relying party should be tried against both.
type Encoding int

const (
	// EncodingSgID is what real sgID sends: the `key` JWE is RSA-OAEP-256 +
	// A256GCM and carries a 128-bit JWK {"kty":"oct","alg":"A128GCM"}; each
	// field JWE is A128GCMKW + A128GCM under that key.
	EncodingSgID Encoding = iota
	// EncodingMockpass is what mockpass sends: the `key` JWE is RSA-OAEP +
	// A128CBC-HS256 and carries a 256-bit JWK {"kty":"oct","alg":"A256GCM"};
	// each field JWE is dir + A256GCM under that key.
	EncodingMockpass
)

// String names the encoding for log and error messages.
func (e Encoding) String() string {
	switch e {
	case EncodingSgID:
		return "sgid"
	case EncodingMockpass:
		return "mockpass"
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// Options configures a Provider. The zero value is usable: every field has a
// default.
type Options struct {
	// ClientID is the only client the provider knows. Default
	// "mock-client".
	ClientID string
	// ClientSecret is checked at the token endpoint (client_secret_post).
	// Default "mock-secret".
	ClientSecret string
	// ClientPublicKey is the relying party's key that userinfo encrypts to.
	// When nil, a 2048-bit key pair is generated and its private half is
	// available from ClientPrivateKeyPEM.
	ClientPublicKey *rsa.PublicKey
	// RedirectURIs lists the allowed redirect URIs, compared exactly. When
	// it is empty and AllowRedirect is nil, any absolute http or https URL
	// without a fragment is allowed, which suits programs whose port is
	// only known at run time; never serve such a provider to browsers.
	RedirectURIs []string
	// AllowRedirect, when set, is asked about each absolute http(s)
	// redirect URI that RedirectURIs does not list, with the request that
	// carries it: the authorize request and the login page's POST. It lets
	// a provider shared by several sites allow each request only its own
	// site's callback (the Caddy mock does this). A URI it refuses gets a
	// plain 400 page; the browser is never sent there.
	AllowRedirect func(r *http.Request, redirectURI string) bool
	// Personas are the people the provider can log in. Default
	// DefaultPersonas().
	Personas []Persona
	// CodeTTL is the lifetime of an authorization code. Default 1 minute.
	CodeTTL time.Duration
	// TokenTTL is the lifetime of ID tokens and access tokens. Default 1
	// hour.
	TokenTTL time.Duration
	// Now is the provider's clock, so that codes and tokens can be
	// expired without waiting. Default time.Now.
	Now func() time.Time
	// LoginPage makes the authorize endpoint show an HTML page on which a
	// person picks a persona or cancels. When false, the authorize endpoint
	// approves at once with the selected persona (see SelectPersona), which
	// is what scripted logins want.
	LoginPage bool
	// Encoding selects the userinfo JWE algorithms. Default EncodingSgID.
	Encoding Encoding
	// Hooks let a program that embeds the provider change the tokens and
	// userinfo answers it issues. The zero value changes nothing.
	Hooks Hooks
}

// Provider is a development sgID v2 provider. It is an http.Handler serving
// the sgID endpoints under the path prefix /v2 relative to where it is
// mounted. All methods are safe for concurrent use.
type Provider struct {
	// The fields below are set once by NewProvider and never change.
	issuer        string
	clientID      string
	clientSecret  string
	clientPub     *rsa.PublicKey
	clientPrivPEM string
	redirectURIs  []string
	allowRedirect func(*http.Request, string) bool
	personas      []Persona
	codeTTL       time.Duration
	tokenTTL      time.Duration
	now           func() time.Time
	loginPage     bool
	encoding      Encoding
	hooks         Hooks

	// formKey authenticates the login page's form (see loginForm), so
	// that showing the page stores nothing.
	formKey []byte

	// mu guards everything below.
	mu       sync.Mutex
	signKey  *rsa.PrivateKey
	signKID  string
	selected string
	codes    *expiringTable[*authCode]
	tokens   *expiringTable[*accessToken]
	// usedForms holds the MACs of login forms already submitted, so each
	// page decides once; see serveLoginDecision.
	usedForms *expiringTable[struct{}]
}

// authRequest is a validated authorize request.
type authRequest struct {
	redirectURI string
	scopes      []string
	state       string
	nonce       string
	challenge   string
}

// authCode is an issued authorization code. Used codes are kept until they
// expire so that a replay can be recognised and the tokens issued for the
// code revoked, as RFC 6749 section 4.1.2 recommends.
type authCode struct {
	req         authRequest
	sub         string
	used        bool
	revoked     bool
	accessToken string
}

// accessToken is an issued access token.
type accessToken struct {
	sub    string
	scopes []string
}

// pendingTTL bounds how long a login page stays usable. It is not an Option
// because nobody has needed to tune it; expiry is still driven by
// Options.Now.
const pendingTTL = 10 * time.Minute

// maxEntries bounds each of the provider's tables (codes, access tokens,
// submitted login forms). The provider also runs inside Caddy (the sgid
// handler's mock), where a flood of logins must not grow memory without
// end; past the bound the oldest entries go first.
const maxEntries = 100_000

// NewProvider creates a provider whose ID tokens carry issuer as iss.
// issuer must be an absolute http or https URL, normally the origin the
// handler is reachable at plus "/v2" (for example "http://127.0.0.1:1234/v2");
// a trailing slash is removed. The issuer only feeds iss and the discovery
// document: routing always uses the /v2 prefix relative to the mount point.
func NewProvider(issuer string, opts Options) (*Provider, error) {
	issuer = strings.TrimRight(issuer, "/")
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mock: issuer %q must be an absolute http(s) URL without query or fragment", issuer)
	}
	p := &Provider{
		issuer:        issuer,
		clientID:      cmp.Or(opts.ClientID, "mock-client"),
		clientSecret:  cmp.Or(opts.ClientSecret, "mock-secret"),
		clientPub:     opts.ClientPublicKey,
		redirectURIs:  slices.Clone(opts.RedirectURIs),
		allowRedirect: opts.AllowRedirect,
		formKey:       make([]byte, 32),
		codeTTL:       opts.CodeTTL,
		tokenTTL:      opts.TokenTTL,
		now:           opts.Now,
		loginPage:     opts.LoginPage,
		encoding:      opts.Encoding,
		hooks:         opts.Hooks,
		codes:         newExpiringTable[*authCode](maxEntries),
		tokens:        newExpiringTable[*accessToken](maxEntries),
		usedForms:     newExpiringTable[struct{}](maxEntries),
	}
	_, _ = rand.Read(p.formKey) // crypto/rand.Read never returns an error.
	if p.codeTTL <= 0 {
		p.codeTTL = time.Minute
	}
	if p.tokenTTL <= 0 {
		p.tokenTTL = time.Hour
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.encoding != EncodingSgID && p.encoding != EncodingMockpass {
		return nil, fmt.Errorf("mock: unknown encoding %v", p.encoding)
	}
	for _, ru := range p.redirectURIs {
		if !isAbsoluteHTTPURL(ru) {
			return nil, fmt.Errorf("mock: redirect URI %q must be an absolute http(s) URL without fragment", ru)
		}
	}

	if len(opts.Personas) == 0 {
		p.personas = DefaultPersonas()
	} else {
		p.personas = clonePersonas(opts.Personas)
	}
	seen := map[string]bool{}
	for _, pe := range p.personas {
		if pe.Sub == "" {
			return nil, errors.New("mock: every persona needs a non-empty Sub")
		}
		if seen[pe.Sub] {
			return nil, fmt.Errorf("mock: duplicate persona Sub %q", pe.Sub)
		}
		seen[pe.Sub] = true
	}
	p.selected = p.personas[0].Sub

	if p.clientPub == nil {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("mock: generating the client key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("mock: encoding the client key: %w", err)
		}
		p.clientPub = &key.PublicKey
		p.clientPrivPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}

	p.signKey, p.signKID, err = newSigningKey()
	if err != nil {
		return nil, err
	}
	return p, nil
}

func newSigningKey() (*rsa.PrivateKey, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", fmt.Errorf("mock: generating the signing key: %w", err)
	}
	return key, "mock-" + randomToken(9), nil
}

// isAbsoluteHTTPURL reports whether s is an absolute http(s) URL with a host
// and no fragment, the minimum OAuth requires of a redirect URI.
func isAbsoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == "" && !strings.Contains(s, "#")
}

// randomToken returns n random bytes as unpadded base64url, for identifiers
// that travel in URLs and headers.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error.
	return base64.RawURLEncoding.EncodeToString(b)
}

// Issuer returns the issuer as it appears in ID tokens and discovery.
func (p *Provider) Issuer() string { return p.issuer }

// ClientID returns the client ID the provider accepts.
func (p *Provider) ClientID() string { return p.clientID }

// ClientSecret returns the client secret the provider accepts.
func (p *Provider) ClientSecret() string { return p.clientSecret }

// ClientPrivateKeyPEM returns the generated client private key as PKCS#8 PEM,
// or "" when Options.ClientPublicKey was given (the caller then holds the
// private key).
func (p *Provider) ClientPrivateKeyPEM() string { return p.clientPrivPEM }

// Personas returns a copy of the personas the provider can log in.
func (p *Provider) Personas() []Persona { return clonePersonas(p.personas) }

// SelectPersona chooses the persona that non-interactive approvals log in.
func (p *Provider) SelectPersona(sub string) error {
	if _, ok := p.persona(sub); !ok {
		return fmt.Errorf("mock: no persona with sub %q", sub)
	}
	p.mu.Lock()
	p.selected = sub
	p.mu.Unlock()
	return nil
}

// RotateSigningKey replaces the ID token signing key with a new one under a
// new kid. Afterwards the JWKS lists only the new key and new ID tokens are
// signed with it, as after a key rotation at sgID, which a client must
// follow by refetching the JWKS.
func (p *Provider) RotateSigningKey() {
	// Generate outside the lock: RSA key generation is slow and would
	// otherwise stall concurrent requests.
	key, kid, err := newSigningKey()
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	p.mu.Lock()
	p.signKey, p.signKID = key, kid
	p.mu.Unlock()
}

func (p *Provider) persona(sub string) (Persona, bool) {
	for _, pe := range p.personas {
		if pe.Sub == sub {
			return pe, true
		}
	}
	return Persona{}, false
}

// sweepLocked drops expired codes, tokens and used login forms. It runs on
// every request that touches them, so no background goroutine is needed
// (and none can leak); each table looks only at what has expired, so the
// cost does not grow with the number of live entries. p.mu must be held.
func (p *Provider) sweepLocked(now time.Time) {
	p.codes.sweep(now)
	p.tokens.sweep(now)
	p.usedForms.sweep(now)
}

// ServeHTTP serves the sgID v2 endpoints under /v2 and answers 404 to
// everything else.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v2/.well-known/openid-configuration":
		if allowMethods(w, r, http.MethodGet, http.MethodHead) {
			p.serveDiscovery(w)
		}
	case "/v2/.well-known/jwks.json":
		if allowMethods(w, r, http.MethodGet, http.MethodHead) {
			p.serveJWKS(w)
		}
	case "/v2/oauth/authorize":
		// HEAD is not served: a new authorize request has side effects
		// (without the login page it issues a code).
		switch r.Method {
		case http.MethodGet:
			p.serveAuthorize(w, r)
		case http.MethodPost:
			p.serveLoginDecision(w, r)
		default:
			allowMethods(w, r, http.MethodGet, http.MethodPost)
		}
	case "/v2/oauth/token":
		if allowMethods(w, r, http.MethodPost) {
			p.serveToken(w, r)
		}
	case "/v2/oauth/userinfo":
		if allowMethods(w, r, http.MethodGet) {
			p.serveUserinfo(w, r)
		}
	default:
		http.NotFound(w, r)
	}
}

// allowMethods answers 405 and reports false unless r uses one of methods.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

func (p *Provider) serveDiscovery(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.issuer + "/oauth/authorize",
		"token_endpoint":                        p.issuer + "/oauth/token",
		"userinfo_endpoint":                     p.issuer + "/oauth/userinfo",
		"jwks_uri":                              p.issuer + "/.well-known/jwks.json",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		"scopes_supported":                      supportedScopes(p.personas),
	})
}

// writeJSON writes v as a JSON answer that no cache may keep, since token
// and userinfo answers carry secrets.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "mock: encoding JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
