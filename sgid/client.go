package sgid

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultHost is sgID's production host.
const DefaultHost = "https://api.id.gov.sg"

// DefaultScopes are the scopes every sgID client may request.
var DefaultScopes = []string{"openid", "myinfo.name"}

// Config holds what a Client needs. ClientID, ClientSecret and at least one
// private key (PrivateKey or PrivateKeys) are required.
type Config struct {
	// ClientID and ClientSecret are the credentials sgID issued at
	// registration.
	ClientID     string
	ClientSecret string
	// PrivateKey is the PEM text of the RSA key whose public half was
	// registered with sgID; userinfo is encrypted to it. See ParsePrivateKey
	// for the forms accepted.
	PrivateKey string
	// PrivateKeys are further PEM keys userinfo may be encrypted to, for a
	// key rollover: while sgID moves from the current key to the next, the
	// client accepts userinfo encrypted to either. A key given twice counts
	// once. See Client.KeyChecks.
	PrivateKeys []string
	// RedirectURI is the registered callback URL. Optional: every call can
	// pass its own.
	RedirectURI string
	// Host is sgID's origin; default DefaultHost. Any path, query or
	// trailing slash is dropped: the issuer is always origin + "/v2".
	// It must be https, except for a loopback host (localhost, 127.0.0.0/8,
	// ::1) such as a local mockpass.
	Host string
	// Scopes requested when a call names none; default DefaultScopes.
	Scopes []string
	// HTTPClient sends the token, userinfo, JWKS and discovery requests;
	// default a client with a 10-second timeout.
	HTTPClient *http.Client
	// Observe, when set, is told about every request to sgID once its
	// answer is read: the endpoint ("token", "userinfo", "jwks" or, from
	// CheckDiscovery, "discovery"), the outcome (see the Outcome
	// constants) and how long it took. ctx is the context the call was
	// made with, so an observer can tell whose request it was. It must be
	// safe for concurrent use and should return quickly.
	Observe func(ctx context.Context, endpoint, outcome string, d time.Duration)
}

// Client speaks the sgID v2 protocol for one registered client. It is safe
// for concurrent use; create one and share it, so the JWKS cache is shared.
type Client struct {
	clientID     string
	clientSecret string
	privKeys     []clientKey // PrivateKey, then PrivateKeys; never empty
	redirectURI  string
	issuer       string
	scopes       []string
	httpClient   *http.Client
	observe      func(ctx context.Context, endpoint, outcome string, d time.Duration)

	now       func() time.Time
	jwks      jwksCache
	discovery discoveryCheck

	// authQuery is the start of every authorization URL, up to the
	// code challenge's value, and scopeQuery the escaped scope of the
	// client's scopes: both are fixed, and made once.
	authQuery, scopeQuery string
	// lastRedirect is the redirect URI AuthorizationURL checked and
	// escaped last. A site sends every login of one host to one URI, so
	// it is checked and escaped once, not for every login.
	lastRedirect atomic.Pointer[checkedRedirect]
}

// checkedRedirect is a redirect URI that passed checkRedirectURI, with its
// query escaping.
type checkedRedirect struct{ raw, escaped string }

// New checks cfg and returns a Client. It makes no network calls: a bad key
// or host fails here, at start-up, not at the first login.
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" {
		return nil, &ConfigError{Field: "ClientID", Err: fmt.Errorf("%w: client ID is empty", ErrConfig)}
	}
	if cfg.ClientSecret == "" {
		return nil, &ConfigError{Field: "ClientSecret", Err: fmt.Errorf("%w: client secret is empty", ErrConfig)}
	}
	keys, err := parseClientKeys(cfg)
	if err != nil {
		return nil, err
	}
	issuer, err := IssuerForHost(cfg.Host)
	if err != nil {
		return nil, &ConfigError{Field: "Host", Err: err}
	}
	if cfg.RedirectURI != "" {
		if err := checkRedirectURI(cfg.RedirectURI); err != nil {
			return nil, &ConfigError{Field: "RedirectURI", Err: fmt.Errorf("%w: %w", ErrConfig, err)}
		}
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	if err := checkScopes(scopes); err != nil {
		return nil, &ConfigError{Field: "Scopes", Err: fmt.Errorf("%w: %w", ErrConfig, err)}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second, Transport: newTransport()}
	}
	c := &Client{
		clientID:     cfg.ClientID,
		clientSecret: cfg.ClientSecret,
		privKeys:     keys,
		redirectURI:  cfg.RedirectURI,
		issuer:       issuer,
		scopes:       append([]string(nil), scopes...),
		httpClient:   hc,
		observe:      cfg.Observe,
		now:          time.Now,
	}
	c.jwks.url = issuer + "/.well-known/jwks.json"
	c.authQuery = issuer + "/oauth/authorize?client_id=" + url.QueryEscape(c.clientID) + "&code_challenge="
	c.scopeQuery = url.QueryEscape(strings.Join(c.scopes, " "))
	return c, nil
}

// maxIdleConns is how many idle connections to sgID a default client
// keeps. net/http's default transport keeps 2 per host, so with more
// logins at once than that every extra one dials (and on HTTPS handshakes)
// afresh and closes its connection after: a handshake costs about as much
// CPU as the login's own cryptography.
const maxIdleConns = 64

// newTransport is net/http's default transport (proxy from the
// environment, HTTP/2, timeouts) keeping more idle connections to sgID;
// when a program has replaced the default transport with one of another
// type, it is used as it is.
func newTransport() http.RoundTripper {
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t := dt.Clone()
	t.MaxIdleConns = maxIdleConns
	t.MaxIdleConnsPerHost = maxIdleConns
	return t
}

// IssuerForHost returns the issuer for an sgID host: its origin + "/v2".
// An empty host means DefaultHost. Plain http:// is refused unless the host
// is loopback.
func IssuerForHost(host string) (string, error) {
	if host == "" {
		host = DefaultHost
	}
	u, err := url.Parse(strings.TrimSpace(host))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%w: host %q is not an http(s) origin such as %s", ErrConfig, host, DefaultHost)
	}
	// The client secret, the code, the tokens and the provider's signing
	// keys travel to and from this host: in clear text anyone on the path
	// could read the secret or swap the keys. Plain http is left for a
	// provider on this machine (mockpass, test servers), where there is no
	// path to listen on.
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return "", fmt.Errorf("%w: host %q: http:// is only allowed for loopback hosts (localhost, 127.0.0.0/8, ::1); sgID's token and key traffic must use https", ErrConfig, host)
	}
	return u.Scheme + "://" + u.Host + "/v2", nil
}

// isLoopbackHost reports whether hostname (no port, no brackets) is
// "localhost" or a loopback IP address. Only these exact forms count: a
// name such as localhost.example or 127.0.0.1.nip.io resolves through DNS
// and may lead anywhere.
func isLoopbackHost(hostname string) bool {
	if strings.EqualFold(hostname, "localhost") {
		return true
	}
	ip := net.ParseIP(hostname)
	return ip != nil && ip.IsLoopback()
}

// Issuer returns the issuer the client expects in ID tokens.
func (c *Client) Issuer() string { return c.issuer }

// ClientID returns the configured client ID.
func (c *Client) ClientID() string { return c.clientID }

// AuthParams are the inputs of an authorization URL.
type AuthParams struct {
	// State is echoed back to the redirect URI; it should be random and is
	// what ties the callback to the login that started it.
	State string
	// Scopes default to the client's.
	Scopes []string
	// Nonce is generated when empty.
	Nonce string
	// RedirectURI defaults to the client's.
	RedirectURI string
	// CodeChallenge is the S256 PKCE challenge (see GeneratePKCEPair).
	CodeChallenge string
}

// AuthorizationURL returns the sgID URL to send the user's browser to, and
// the nonce it carries, which Exchange must be given.
func (c *Client) AuthorizationURL(p AuthParams) (authURL, nonce string, err error) {
	// Written on the stack: the URL's string is the one allocation.
	var buf [1024]byte
	b, nonce, err := c.appendAuthorizationURL(buf[:0], p, &plainURLText)
	if err != nil {
		return "", "", err
	}
	return string(b), nonce, nil
}

// urlText is the fixed text of an authorization URL between its values.
type urlText struct {
	method, redirect, scope, state string
}

var plainURLText = urlText{
	method:   "&code_challenge_method=S256&nonce=",
	redirect: "&redirect_uri=",
	scope:    "&response_type=code&scope=",
	state:    "&state=",
}

// appendAuthorizationURL appends the authorization URL for p to dst, with
// the fixed text t.
func (c *Client) appendAuthorizationURL(dst []byte, p AuthParams, t *urlText) ([]byte, string, error) {
	redirectURI, err := c.escapedRedirect(p.RedirectURI)
	if err != nil {
		return dst, "", err
	}
	scopeQuery := c.scopeQuery
	if len(p.Scopes) > 0 {
		if err := checkScopes(p.Scopes); err != nil {
			return dst, "", invalidInput("%v", err)
		}
		scopeQuery = url.QueryEscape(strings.Join(p.Scopes, " "))
	}
	if len(p.CodeChallenge) != 43 {
		return dst, "", invalidInput("code challenge must be the 43-character S256 challenge of the code verifier (see CodeChallenge)")
	}
	nonce := p.Nonce
	if nonce == "" {
		nonce = GenerateNonce()
	}
	start := c.authQuery
	// The query is written in the order url.Values.Encode writes it
	// (sorted by key), without building the map it needs: this runs for
	// every login.
	challenge, nonceQuery, state := url.QueryEscape(p.CodeChallenge), url.QueryEscape(nonce), url.QueryEscape(p.State)
	dst = slices.Grow(dst, len(start)+len(challenge)+len(nonceQuery)+len(redirectURI)+len(scopeQuery)+len(state)+
		len(t.method)+len(t.redirect)+len(t.scope)+len(t.state))
	dst = append(dst, start...)
	dst = append(dst, challenge...)
	dst = append(dst, t.method...)
	dst = append(dst, nonceQuery...)
	dst = append(dst, t.redirect...)
	dst = append(dst, redirectURI...)
	dst = append(dst, t.scope...)
	dst = append(dst, scopeQuery...)
	if p.State != "" {
		dst = append(dst, t.state...)
		dst = append(dst, state...)
	}
	return dst, nonce, nil
}

// escapedRedirect is redirect's URI, query-escaped.
func (c *Client) escapedRedirect(perCall string) (string, error) {
	if last := c.lastRedirect.Load(); last != nil && (last.raw == perCall || perCall == "" && last.raw == c.redirectURI) {
		return last.escaped, nil
	}
	raw, err := c.redirect(perCall)
	if err != nil {
		return "", err
	}
	checked := &checkedRedirect{raw: raw, escaped: url.QueryEscape(raw)}
	c.lastRedirect.Store(checked)
	return checked.escaped, nil
}

// redirect picks the per-call redirect URI or the client's.
func (c *Client) redirect(perCall string) (string, error) {
	if perCall == "" {
		perCall = c.redirectURI
	}
	if perCall == "" {
		return "", invalidInput("no redirect URI: set Config.RedirectURI or pass one with the call")
	}
	if err := checkRedirectURI(perCall); err != nil {
		return "", invalidInput("%v", err)
	}
	return perCall, nil
}

func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("redirect URI %q is not an absolute http(s) URL", s)
	}
	return nil
}

func checkScopes(scopes []string) error {
	hasOpenID := false
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			return fmt.Errorf("scope %q is not a single scope name", s)
		}
		if s == "openid" {
			hasOpenID = true
		}
	}
	if !hasOpenID {
		return fmt.Errorf("scopes %q must include openid", strings.Join(scopes, " "))
	}
	return nil
}
