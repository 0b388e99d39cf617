package sgid

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// clockLeeway absorbs clock drift between us and sgID in the exp and iat
// checks.
const clockLeeway = time.Minute

// ExchangeParams are the inputs of a code exchange.
type ExchangeParams struct {
	// Code is the `code` query parameter sgID sent to the redirect URI.
	Code string
	// CodeVerifier is the PKCE verifier whose challenge went into the
	// authorization URL.
	CodeVerifier string
	// Nonce is the nonce AuthorizationURL returned. Required: the ID token
	// must carry it.
	Nonce string
	// RedirectURI must equal the one in the authorization URL; it defaults
	// to the client's.
	RedirectURI string
}

// Tokens is the result of a successful code exchange.
type Tokens struct {
	// Sub is the user's pairwise, opaque identifier from the verified ID
	// token.
	Sub string
	// AccessToken authorizes one userinfo call.
	AccessToken string
	// IDToken is the verified compact JWT.
	IDToken string
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
}

// Exchange trades an authorization code for tokens and verifies the ID
// token: RS256 signature against the provider's JWKS, iss, aud, exp, iat,
// nonce and sub.
func (c *Client) Exchange(ctx context.Context, p ExchangeParams) (*Tokens, error) {
	if p.Code == "" {
		return nil, invalidInput("code is empty")
	}
	if err := checkCodeVerifier(p.CodeVerifier); err != nil {
		return nil, err
	}
	if p.Nonce == "" {
		return nil, invalidInput("nonce is empty; pass the nonce AuthorizationURL returned")
	}
	redirectURI, err := c.redirect(p.RedirectURI)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"client_id":     {c.clientID},
		"client_secret": {c.clientSecret},
		"redirect_uri":  {redirectURI},
		"code":          {p.Code},
		"grant_type":    {"authorization_code"},
		"code_verifier": {p.CodeVerifier},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: token request: %w", ErrProvider, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var tr tokenResponse
	if err := c.doJSON(req, "token", &tr); err != nil {
		return nil, err
	}
	if tr.AccessToken == "" || tr.IDToken == "" {
		return nil, fmt.Errorf("%w: token answer lacks access_token or id_token", ErrProvider)
	}
	sub, err := c.verifyIDToken(ctx, tr.IDToken, p.Nonce, tr.AccessToken)
	if err != nil {
		return nil, err
	}
	return &Tokens{Sub: sub, AccessToken: tr.AccessToken, IDToken: tr.IDToken}, nil
}

// VerifyIDToken checks an ID token as Exchange does and returns its sub.
// Without the access token it cannot check at_hash; Exchange does.
func (c *Client) VerifyIDToken(ctx context.Context, idToken, nonce string) (string, error) {
	return c.verifyIDToken(ctx, idToken, nonce, "")
}

func (c *Client) verifyIDToken(ctx context.Context, idToken, nonce, accessToken string) (string, error) {
	if nonce == "" {
		return "", invalidInput("nonce is empty")
	}
	msg, err := jws.Parse([]byte(idToken))
	if err != nil || len(msg.Signatures()) != 1 {
		return "", &IDTokenError{Rule: RuleMalformed, Reason: "not a compact JWS", Err: err}
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	if hdr.Algorithm() != jwa.RS256 {
		return "", &IDTokenError{Rule: RuleAlgorithm, Reason: fmt.Sprintf("alg is %q; sgID signs with RS256", hdr.Algorithm())}
	}
	// RFC 7515 section 4.1.11: extensions named in crit must be understood;
	// we understand none.
	if _, ok := hdr.Get(jws.CriticalKey); ok {
		return "", &IDTokenError{Rule: RuleMalformed, Reason: "header has crit extensions, which this client does not support"}
	}
	payload, err := c.verifySignature(ctx, []byte(idToken), hdr.KeyID())
	if err != nil {
		return "", err
	}
	if err := checkNumericDates(payload); err != nil {
		return "", err
	}
	tok, err := jwt.Parse(payload, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return "", &IDTokenError{Rule: RuleMalformed, Reason: "payload is not a JWT claim set", Err: err}
	}
	sub, err := c.checkClaims(tok, nonce)
	if err != nil {
		return "", err
	}
	if accessToken != "" {
		if err := checkAtHash(tok, accessToken); err != nil {
			return "", err
		}
	}
	return sub, nil
}

// checkNumericDates rejects exp, iat and nbf that are not JSON numbers
// (RFC 7519 NumericDate): the JWT library would accept numeric strings.
func checkNumericDates(payload []byte) error {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return &IDTokenError{Rule: RuleMalformed, Reason: "payload is not a JSON object", Err: err}
	}
	for _, name := range []string{"exp", "iat", "nbf"} {
		raw, ok := claims[name]
		if !ok {
			continue
		}
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil || len(raw) == 0 || raw[0] == '"' {
			return &IDTokenError{Rule: RuleMalformed, Reason: name + " is not a number"}
		}
	}
	return nil
}

// checkAtHash checks at_hash when the token has one (OIDC Core 3.1.3.6:
// optional in the code flow): base64url of the left half of SHA-256 of
// the access token.
func checkAtHash(tok jwt.Token, accessToken string) error {
	v, ok := tok.Get("at_hash")
	if !ok {
		return nil
	}
	sum := sha256.Sum256([]byte(accessToken))
	want := base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	if got, _ := v.(string); got != want {
		return &IDTokenError{Rule: RuleAccessTokenHash, Reason: "at_hash does not match the access token"}
	}
	return nil
}

// verifySignature verifies the JWS with the JWKS key named by kid, refetching
// the JWKS once (rate-limited) when the kid is unknown or the check fails:
// the provider may have rotated its key.
func (c *Client) verifySignature(ctx context.Context, token []byte, kid string) ([]byte, error) {
	set, err := c.keys(ctx)
	if err != nil {
		return nil, &IDTokenError{Rule: RuleKeys, Reason: "cannot fetch the provider's signing keys", Err: err}
	}
	payload, verr := verifyWithSet(token, set, kid)
	if verr == nil {
		return payload, nil
	}
	fresh, changed, err := c.refreshKeys(ctx, set)
	if err != nil {
		return nil, &IDTokenError{Rule: RuleKeys, Reason: "cannot refetch the provider's signing keys", Err: err}
	}
	if changed {
		if payload, verr = verifyWithSet(token, fresh, kid); verr == nil {
			return payload, nil
		}
	}
	return nil, &IDTokenError{Rule: RuleSignature, Reason: verr.Error()}
}

func verifyWithSet(token []byte, set jwk.Set, kid string) ([]byte, error) {
	var key jwk.Key
	var ok bool
	if kid != "" {
		key, ok = set.LookupKeyID(kid)
	} else if set.Len() == 1 {
		// OIDC Core 10.1: kid may be left out when the JWKS has one key.
		key, ok = set.Key(0)
	}
	if !ok {
		return nil, fmt.Errorf("no key with kid %q in the provider's JWKS", kid)
	}
	if key.KeyType() != jwa.RSA {
		return nil, fmt.Errorf("JWKS key %q is not an RSA key", kid)
	}
	payload, err := jws.Verify(token, jws.WithKey(jwa.RS256, key))
	if err != nil {
		return nil, fmt.Errorf("signature does not verify with JWKS key %q", kid)
	}
	return payload, nil
}

func (c *Client) checkClaims(tok jwt.Token, nonce string) (string, error) {
	now := c.now()
	if tok.Issuer() != c.issuer {
		return "", &IDTokenError{Rule: RuleIssuer, Reason: fmt.Sprintf("iss is %q, expected %q; check the configured host", tok.Issuer(), c.issuer)}
	}
	if !slices.Contains(tok.Audience(), c.clientID) {
		return "", &IDTokenError{Rule: RuleAudience, Reason: fmt.Sprintf("aud %q does not name this client; check the client ID", tok.Audience())}
	}
	// OIDC Core 3.1.3.7: with several audiences azp must be present, and
	// when present it must be this client.
	azp, hasAzp := tok.PrivateClaims()["azp"]
	if hasAzp && azp != c.clientID || !hasAzp && len(tok.Audience()) > 1 {
		return "", &IDTokenError{Rule: RuleAudience, Reason: "azp is missing for several audiences, or names another client"}
	}
	if tok.Expiration().IsZero() {
		return "", &IDTokenError{Rule: RuleExpiry, Reason: "exp is missing"}
	}
	if now.After(tok.Expiration().Add(clockLeeway)) {
		return "", &IDTokenError{Rule: RuleExpiry, Reason: "token has expired; check this machine's clock"}
	}
	if nbf := tok.NotBefore(); !nbf.IsZero() && nbf.After(now.Add(clockLeeway)) {
		return "", &IDTokenError{Rule: RuleNotBefore, Reason: "nbf is in the future; check this machine's clock"}
	}
	if tok.IssuedAt().IsZero() {
		return "", &IDTokenError{Rule: RuleIssuedAt, Reason: "iat is missing"}
	}
	if tok.IssuedAt().After(now.Add(clockLeeway)) {
		return "", &IDTokenError{Rule: RuleIssuedAt, Reason: "iat is in the future; check this machine's clock"}
	}
	got, _ := tok.PrivateClaims()["nonce"].(string)
	if got == "" || got != nonce {
		return "", &IDTokenError{Rule: RuleNonce, Reason: "nonce differs from the one sent in the authorization URL"}
	}
	if tok.Subject() == "" {
		return "", &IDTokenError{Rule: RuleSubject, Reason: "sub is missing or empty"}
	}
	return tok.Subject(), nil
}
