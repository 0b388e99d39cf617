package sgidcheck

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/confcheck"
	"github.com/caddy-sgid/caddy-sgid/internal/forward"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// Site is what the checks read of one sgid handler: its settings as
// written in the config, placeholders not yet resolved.
type Site struct {
	// Server is the name of the HTTP server the handler is in.
	Server string
	// Mock marks the built-in mock provider, which has nothing remote to
	// check.
	Mock bool

	// The sgID client's settings as written, placeholders unresolved.
	sgid.Config

	// CallbackPath is the handler's callback route, its default applied:
	// the redirect URI derived from a request ends in it.
	CallbackPath string
	SealingKey   string
	// Store is the JSON config of the session store; nil is the default,
	// Caddy's storage.
	Store json.RawMessage
}

// Checks runs the checks of Sites. They apply the handler's own rules of
// package confcheck, so that a config is judged as provisioning will
// judge it.
type Checks struct {
	// HTTPClient talks to sgID; nil means a client with a 10-second
	// timeout.
	HTTPClient *http.Client
}

// Run checks each site, printing a line per check to w, and returns the
// process's exit status: 1 when there is no site or a check failed.
// source names the config in the message about a config without sites.
func (cs Checks) Run(ctx context.Context, w io.Writer, source string, sites []Site) (int, error) {
	if len(sites) == 0 {
		fmt.Fprintf(w, "FAIL  config: %s has no sgid handler\n", source)
		return caddy.ExitCodeFailedStartup, errors.New("nothing to check")
	}
	c := checker{Checks: cs, w: w}
	for i, s := range sites {
		fmt.Fprintf(w, "sgid handler %d of %d, server %s:\n", i+1, len(sites), s.Server)
		hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c.check(hctx, s)
		cancel()
	}
	fmt.Fprintf(w, "%d failed, %d warnings\n", c.failed, c.warned)
	if c.failed > 0 {
		return caddy.ExitCodeFailedStartup, fmt.Errorf("%d checks failed", c.failed)
	}
	return caddy.ExitCodeSuccess, nil
}

// checker prints check lines and counts failures and warnings.
type checker struct {
	Checks
	w              io.Writer
	failed, warned int
}

func (c *checker) ok(what, format string, a ...any) { c.line("ok", what, format, a...) }

func (c *checker) warn(what, format string, a ...any) {
	c.warned++
	c.line("warn", what, format, a...)
}

func (c *checker) fail(what, format string, a ...any) {
	c.failed++
	c.line("FAIL", what, format, a...)
}

func (c *checker) line(status, what, format string, a ...any) {
	fmt.Fprintf(c.w, "  %-5s %s: %s\n", status, what, fmt.Sprintf(format, a...))
}

// check runs the checks of one handler. Placeholders are resolved as
// Provision resolves them.
func (c *checker) check(ctx context.Context, s Site) {
	if s.Mock {
		c.warn("mock", "this is the built-in mock provider: anyone can log in as anyone; nothing remote to check. Never use it in production")
		return
	}
	repl := caddy.NewReplacer()
	resolve := func(s string) string { return strings.TrimSpace(repl.ReplaceAll(s, "")) }
	cfg := sgid.Config{
		ClientID:     resolve(s.ClientID),
		ClientSecret: resolve(s.ClientSecret),
		PrivateKey:   repl.ReplaceAll(s.PrivateKey, ""),
		Host:         resolve(s.Host),
		RedirectURI:  resolve(s.RedirectURI),
		Scopes:       s.Scopes,
	}
	for _, k := range s.PrivateKeys {
		cfg.PrivateKeys = append(cfg.PrivateKeys, repl.ReplaceAll(k, ""))
	}

	c.checkKeys(cfg)
	if slices.Contains(cfg.Scopes, forward.NRIC) {
		c.warn("scopes", "%s is asked for: ask for the NRIC only if the app needs it. Identity headers and the assertion send it masked unless written %s:unmasked; keep_fields without it keeps it out of the session (docs/security.md)", forward.NRIC, forward.NRIC)
	}
	// New checks the rest of the settings as Provision will; its errors
	// about the keys were reported above.
	if _, err := sgid.New(cfg); err != nil {
		var ce *sgid.ConfigError
		if !errors.As(err, &ce) || (ce.Field != "PrivateKey" && ce.Field != "PrivateKeys") {
			c.fail("settings", "%v", confcheck.FieldError(err))
		}
	} else {
		c.ok("settings", "client_id, client_secret, host and scopes are usable")
	}

	c.checkSealingKey(s, repl)
	c.checkProvider(ctx, cfg)
	c.checkRedirectURI(cfg.RedirectURI, s.CallbackPath)
}

// checkKeys reports each private key (private_key, then private_keys) by
// its thumbprint, and whether a test message encrypted to it decrypts as
// userinfo would. The keys are checked by a client of their own, so that a
// mistake in another setting does not hide them. Nothing secret is
// printed: a thumbprint is a hash of the public half.
func (c *checker) checkKeys(cfg sgid.Config) {
	client, err := sgid.New(sgid.Config{ClientID: "key-check", ClientSecret: "key-check", PrivateKey: cfg.PrivateKey, PrivateKeys: cfg.PrivateKeys})
	if err != nil {
		c.fail("private_key", "%v", confcheck.FieldError(err))
		return
	}
	checks := client.KeyChecks()
	for i, kc := range checks {
		what := "private_key"
		if len(checks) > 1 {
			what = fmt.Sprintf("private_key %d of %d", i+1, len(checks))
		}
		if !kc.Decrypts {
			c.fail(what, "%d-bit RSA, thumbprint %s: a test message encrypted to it does not decrypt: %v", kc.Bits, kc.Thumbprint, kc.Err)
			continue
		}
		c.ok(what, "%d-bit RSA private key, thumbprint %s, decrypts a test message", kc.Bits, kc.Thumbprint)
	}
	given := len(cfg.PrivateKeys)
	if cfg.PrivateKey != "" {
		given++
	}
	if given > len(checks) {
		c.warn("private_key", "%d keys given but %d distinct: the same key is given twice", given, len(checks))
	}
}

// checkSealingKey warns when a shared store holds the keys that a
// sealing_key would otherwise derive: whoever reads such a store can forge
// login cookies and tell whether a known sub has sessions (see
// docs/security.md). The memory store keeps its keys in this process.
func (c *checker) checkSealingKey(s Site, repl *caddy.Replacer) {
	var st struct {
		Module string `json:"module"`
	}
	if s.Store != nil {
		_ = json.Unmarshal(s.Store, &st)
	}
	module := cmp.Or(st.Module, "storage")
	if s.SealingKey == "" {
		if module == "memory" {
			c.ok("sealing_key", "not set; the memory store keeps its keys in this process only")
			return
		}
		c.warn("sealing_key", "not set while sessions live in a shared store (%s): the keys that seal login cookies and name the session index are then kept in the store, so whoever can read it can forge login cookies and test whether a known sub has sessions; set sealing_key to a secret of at least %d random bytes (see docs/security.md)", module, confcheck.MinSealingKey)
		return
	}
	secret := s.SealingKey
	if err := confcheck.Resolve(repl, "sealing_key", &secret, true); err != nil {
		c.fail("sealing_key", "%v", err)
		return
	}
	if len(secret) < confcheck.MinSealingKey {
		c.fail("sealing_key", "%d bytes is too short; use at least %d random bytes", len(secret), confcheck.MinSealingKey)
		return
	}
	c.ok("sealing_key", "set; every key is derived from it and none is kept in the %s store", module)
}

// checkProvider fetches sgID's discovery document and JWKS and compares
// them with the settings.
func (c *checker) checkProvider(ctx context.Context, cfg sgid.Config) {
	issuer, err := sgid.IssuerForHost(cfg.Host)
	if err != nil {
		c.fail("discovery", "%v", err)
		return
	}
	d, err := sgid.Discover(ctx, cfg.Host, c.HTTPClient)
	if d == nil {
		c.fail("discovery", "%v", err)
		return
	}
	if d.Issuer != issuer {
		c.fail("discovery", "issuer is %q, but ID tokens are checked against %q: is host right?", d.Issuer, issuer)
	} else {
		c.ok("discovery", "issuer %s", d.Issuer)
	}
	switch {
	case err != nil:
		c.fail("jwks", "%v", err)
	case d.JWKSKeys == 0:
		c.fail("jwks", "the JWKS holds no keys, so no ID token can be verified")
	default:
		c.ok("jwks", "%d signing key(s)", d.JWKSKeys)
	}

	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = sgid.DefaultScopes
	}
	if len(d.ScopesSupported) == 0 {
		c.warn("scopes", "sgID's discovery document lists no scopes_supported; cannot check %s", strings.Join(scopes, " "))
		return
	}
	var missing []string
	for _, s := range scopes {
		if !slices.Contains(d.ScopesSupported, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		c.fail("scopes", "sgID does not support %s (it supports %s)", strings.Join(missing, " "), strings.Join(d.ScopesSupported, " "))
	} else {
		c.ok("scopes", "sgID supports all of %s (whether your client may have them is set at registration)", strings.Join(scopes, " "))
	}
}

// checkRedirectURI: sgID sends the authorization code to the redirect URI,
// so it must be HTTPS outside local development, and should be fixed
// rather than built from a Host header the client chose.
func (c *checker) checkRedirectURI(uri, callbackPath string) {
	if uri == "" {
		c.warn("redirect_uri", "not set: each login derives it from the request's Host header and scheme (+ %s); set it to the URL registered with sgID", callbackPath)
		return
	}
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		c.fail("redirect_uri", "%q is not an absolute URL", uri)
		return
	}
	switch {
	case u.Scheme == "https":
		c.ok("redirect_uri", "%s is HTTPS", uri)
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		c.warn("redirect_uri", "%s is plain HTTP: fine on this machine for development, never in production", uri)
	default:
		c.fail("redirect_uri", "%s is not HTTPS: the authorization code would cross the network in clear", uri)
	}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
