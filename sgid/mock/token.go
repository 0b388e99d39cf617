package mock

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func (p *Provider) serveJWKS(w http.ResponseWriter) {
	p.mu.Lock()
	pub, kid := &p.signKey.PublicKey, p.signKID
	p.mu.Unlock()

	key, err := jwk.FromRaw(pub)
	if err != nil {
		http.Error(w, "mock: building JWK: "+err.Error(), http.StatusInternalServerError)
		return
	}
	for k, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.RS256, jwk.KeyUsageKey: "sig"} {
		if err := key.Set(k, v); err != nil {
			http.Error(w, "mock: building JWK: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		http.Error(w, "mock: building JWKS: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// writeJSON marks the answer no-store, so no HTTP cache between client
	// and provider can hide a key rotation.
	writeJSON(w, http.StatusOK, set)
}

// tokenError answers an OAuth error from the token endpoint (RFC 6749
// section 5.2).
func tokenError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		// RFC 6749 asks for a challenge on 401 even though the client
		// authenticated in the body; clients do not act on it.
		w.Header().Set("WWW-Authenticate", `Basic realm="mock"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be a form (application/x-www-form-urlencoded)")
		return
	}
	form := r.PostForm
	if form.Get("grant_type") != "authorization_code" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code")
		return
	}
	// Only client_secret_post is supported, like sgID, so the secret must
	// be in the body and the comparison must not leak timing.
	if form.Get("client_id") != p.clientID ||
		subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(p.clientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong client secret")
		return
	}
	code, redirectURI, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	if code == "" || redirectURI == "" || verifier == "" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "code, redirect_uri and code_verifier are required")
		return
	}

	now := p.now()
	p.mu.Lock()
	p.sweepLocked(now)
	ac, ok := p.codes.get(code, now)
	if !ok {
		p.mu.Unlock()
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown or expired authorization code")
		return
	}
	if ac.used {
		// A replayed code means it leaked: revoke what it bought, and
		// make sure a first use still in flight cannot add a token.
		ac.revoked = true
		p.tokens.remove(ac.accessToken)
		p.mu.Unlock()
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	}
	// Any presentation by the genuine client consumes the code, so a
	// failed PKCE or redirect_uri check cannot be retried with guesses.
	ac.used = true
	p.mu.Unlock()

	if redirectURI != ac.req.redirectURI {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorize request")
		return
	}
	if !validVerifier(verifier) || !s256Matches(verifier, ac.req.challenge) {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}

	persona, ok := p.persona(ac.sub)
	if !ok {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown persona")
		return
	}
	idToken, err := p.signIDToken(persona.Sub, ac.req.nonce, now)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}

	at := randomToken(32)
	p.mu.Lock()
	revoked := ac.revoked
	if !revoked {
		p.tokens.add(at, &accessToken{sub: persona.Sub, scopes: ac.req.scopes}, now.Add(p.tokenTTL), now)
		ac.accessToken = at
	}
	p.mu.Unlock()
	if revoked {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "authorization code was replayed")
		return
	}

	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at,
		"id_token":     idToken,
		"token_type":   "Bearer",
		"expires_in":   int64(p.tokenTTL / time.Second),
		"scope":        strings.Join(ac.req.scopes, " "),
	})
}

// validVerifier checks the RFC 7636 shape of a code verifier: 43 to 128
// characters from the unreserved set.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

// s256Matches reports whether challenge is BASE64URL(SHA256(verifier)).
func s256Matches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// signIDToken builds and signs an ID token, after Hooks.IDToken has seen
// it. The claims are a plain map rather than a jwt.Token so that whatever
// the hook sets, such as an empty sub, is serialised exactly as it is.
func (p *Provider) signIDToken(sub, nonce string, now time.Time) (string, error) {
	claims := map[string]any{
		"iss": p.issuer,
		"sub": sub,
		"aud": p.clientID,
		"iat": now.Unix(),
		"exp": now.Add(p.tokenTTL).Unix(),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	p.mu.Lock()
	tok := IDToken{Claims: claims, Alg: jwa.RS256, Key: p.signKey, KeyID: p.signKID}
	p.mu.Unlock()
	if p.hooks.IDToken != nil {
		p.hooks.IDToken(&tok)
	}
	payload, err := json.Marshal(tok.Claims)
	if err != nil {
		return "", fmt.Errorf("mock: encoding ID token claims: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, tok.KeyID); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	signed, err := jws.Sign(payload, jws.WithKey(tok.Alg, tok.Key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("mock: signing ID token: %w", err)
	}
	return string(signed), nil
}
