package caddysgid

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/assertion"
	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/identity"
	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
)

// Defaults of IdentityAssertion.
const (
	DefaultAssertionLifetime = assertion.DefaultLifetime
	DefaultJWKSPath          = "/.well-known/sgid/jwks.json"
)

// IdentityAssertion makes the handler send, with every request it passes
// on for a logged-in user, a short-lived signed statement of who the user
// is: a JWT signed with ES256 whose every claim is signed. An upstream
// that verifies it against the site's JWKS (served at jwks_path) knows who
// is calling even if a request could reach it without passing through
// Caddy, which plain identity headers cannot tell it.
//
// The claims are iss (the site's origin, scheme://host[:port]), aud, sub
// (the sgID subject), auth_time (when the user logged in, in unix
// seconds), iat, exp and each of fields the user has a value for, under
// its own name, as a string. The signing keys rotate with key_rotation,
// are shared through the session store by every instance that shares it,
// and are kept there sealed under sealing_key when one is set.
type IdentityAssertion struct {
	// The request header that carries the assertion to the
	// upstream. Copies sent by the client are deleted from every request,
	// like identity_headers. It may not be Host, Cookie, Content-Length,
	// Content-Type, Expect, Forwarded, X-Forwarded-*, Authorization or a
	// hop-by-hop header, nor one of identity_headers. Required.
	Header string `json:"header,omitempty"`
	// The aud claim: who the assertion is for, which the
	// upstream checks is itself. Default: the site's origin, as in iss.
	Audience string `json:"audience,omitempty"`
	// How long an assertion is valid after it is issued (its
	// exp minus its iat), in whole seconds. The handler reuses an
	// assertion for a session's requests within the same second. At least
	// 1s, at most 5m. Default: 1m.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
	// The further claims: data keys from sgID (such as
	// "myinfo.name"), app value keys, or the forms identity_headers takes
	// ("pseudonym:<label>", "myinfo.nric_number" masked, and
	// "myinfo.nric_number:unmasked" sent as "myinfo.nric_number"), each sent under its own name when
	// the user has a value for it. App values are chosen by the browser
	// when it starts the login. The registered claim names (iss, sub, aud,
	// exp, nbf, iat, jti, auth_time) may not be used. Default: none, so
	// the assertion names the user by sub only.
	Fields []string `json:"fields,omitempty"`
	// The path on this site where the handler serves the JSON
	// Web Key Set that verifies the assertions, for upstreams to fetch.
	// Default: /.well-known/sgid/jwks.json.
	JWKSPath string `json:"jwks_path,omitempty"`
}

// applyDefaults fills in what the configuration left out.
func (a *IdentityAssertion) applyDefaults() {
	if a.Lifetime == 0 {
		a.Lifetime = caddy.Duration(DefaultAssertionLifetime)
	}
	if a.JWKSPath == "" {
		a.JWKSPath = DefaultJWKSPath
	}
}

// validate checks the configuration after applyDefaults. identityHeaders
// are the guard's identity_headers, whose names the assertion's header
// may not share.
func (a *IdentityAssertion) validate(identityHeaders map[string]string) error {
	name := http.CanonicalHeaderKey(a.Header)
	if !idheader.IsToken(name) {
		return fmt.Errorf("identity_assertion: %q is not a valid header name", a.Header)
	}
	if idheader.Forbidden(name) {
		return fmt.Errorf("identity_assertion: %s cannot carry an assertion", name)
	}
	// Upstreams that map names to CGI-style variables take '_' for '-'.
	key := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	for other := range identityHeaders {
		if strings.ReplaceAll(strings.ToLower(other), "_", "-") == key {
			return fmt.Errorf("identity_assertion: %s is also an identity_header", name)
		}
	}
	lt := time.Duration(a.Lifetime)
	if lt < time.Second || lt > assertion.MaxLifetime || lt%time.Second != 0 {
		return fmt.Errorf("identity_assertion: lifetime %s must be a whole number of seconds from 1s to %s", lt, assertion.MaxLifetime)
	}
	seen := make(map[string]bool, len(a.Fields))
	for _, f := range a.Fields {
		if f == "" {
			return fmt.Errorf("identity_assertion: empty field name")
		}
		if assertion.Reserved(f) {
			return fmt.Errorf("identity_assertion: field %q is a registered claim the assertion sets itself", f)
		}
		if seen[f] {
			return fmt.Errorf("identity_assertion: field %q is given twice", f)
		}
		seen[f] = true
	}
	if !strings.HasPrefix(a.JWKSPath, "/") || strings.HasPrefix(a.JWKSPath, "//") || strings.ContainsAny(a.JWKSPath, "?#") {
		return fmt.Errorf("identity_assertion: jwks_path %q must be a path on this site, starting with a single /", a.JWKSPath)
	}
	return nil
}

// newAssertionSigner builds the signer of a's assertions (nil without
// identity_assertion), once the session store is open (the keys live
// there), with the handler's sealing_key (none when empty) and
// key_rotation; jar makes the issuer, the site's origin.
func newAssertionSigner(a *IdentityAssertion, st assertion.KeyStore, sealingKey string, rotation time.Duration, jar cookie.Jar, logger *zap.Logger) (*assertionSigner, error) {
	if a == nil {
		return nil, nil
	}
	a.applyDefaults()
	s, err := a.newSigner(st, sealingKey, rotation)
	if err != nil {
		return nil, err
	}
	return &assertionSigner{cfg: a, sign: identity.Signer{Header: a.Header, Audience: a.Audience, Origins: jar, Signer: s}, logger: logger}, nil
}

// newSigner builds the signer of a's assertions, on the session store,
// with the handler's sealing_key (none when empty) and key_rotation.
func (a *IdentityAssertion) newSigner(st assertion.KeyStore, sealingKey string, rotation time.Duration) (*assertion.Signer, error) {
	var secret []byte
	if sealingKey != "" {
		secret = []byte(sealingKey)
	}
	s, err := assertion.New(assertion.Config{
		Store:    st,
		Secret:   secret,
		Rotation: rotation,
		Lifetime: time.Duration(a.Lifetime),
	})
	if err != nil {
		return nil, fmt.Errorf("identity_assertion: %w", err)
	}
	return s, nil
}

// serveJWKS answers a request for the JWKS: GET or HEAD, cacheable for as
// long as the signer allows. When the keys cannot be loaded (the store
// cannot be reached, or holds keys sealed under another sealing_key) it
// answers 503, which an upstream's JWKS client retries, and returns the
// error for the caller to count and log; the response is written either
// way.
func serveJWKS(w http.ResponseWriter, r *http.Request, s *assertion.Signer) error {
	h := w.Header()
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	body, maxAge, err := s.JWKS(r.Context())
	if err != nil {
		h.Set("Retry-After", "5")
		_ = writeError(w, http.StatusServiceUnavailable, "keys_unavailable", "The key set is not available right now; try again shortly.")
		return err
	}
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		// A write error means the client has gone; there is no one left
		// to answer.
		_, _ = w.Write(body)
	}
	return nil
}

// assertionSigner puts the signed identity assertion on the requests the
// guard passes on (its sign, see identity.Signer), and serves the keys
// that verify it.
type assertionSigner struct {
	cfg    *IdentityAssertion
	sign   identity.Signer
	logger *zap.Logger
}

// serveJWKS answers the JWKS route, logging keys that cannot be loaded.
func (a *assertionSigner) serveJWKS(w http.ResponseWriter, r *http.Request) error {
	if err := serveJWKS(w, r, a.sign.Signer); err != nil {
		a.logger.Warn("sgid assertion keys could not be loaded", zap.Error(err), zap.String("request_id", requestID(r)))
	}
	return nil
}
