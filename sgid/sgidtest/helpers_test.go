package sgidtest_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

const testRedirect = "http://app.example/callback"

// clientKey is shared by most tests because RSA key generation is the
// slowest part of starting a server.
var clientKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// newServer starts a server using the shared client key unless opts names
// another, and closes it when the test ends.
func newServer(t *testing.T, opts sgidtest.Options) *sgidtest.Server {
	t.Helper()
	if opts.ClientPublicKey == nil {
		opts.ClientPublicKey = &clientKey().PublicKey
	}
	s := sgidtest.NewServer(opts)
	t.Cleanup(s.Close)
	return s
}

// noRedirect returns the server's client, but one that hands redirects back
// instead of following them, so tests can read the Location header.
func noRedirect(s *sgidtest.Server) *http.Client {
	c := *s.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// pkcePair returns a fresh verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// login holds one authorize round trip's inputs and outputs.
type login struct {
	verifier, nonce, state, redirect string
	code                             string
}

// authorizeParams returns valid authorize parameters for s.
func authorizeParams(s *sgidtest.Server, scope string) (url.Values, *login) {
	verifier, challenge := pkcePair()
	l := &login{verifier: verifier, nonce: "n-" + randString(), state: "s-" + randString(), redirect: testRedirect}
	return url.Values{
		"client_id":             {s.ClientID()},
		"scope":                 {scope},
		"redirect_uri":          {l.redirect},
		"response_type":         {"code"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"state":                 {l.state},
		"nonce":                 {l.nonce},
	}, l
}

func randString() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// get performs a GET without following redirects and returns the response
// with its body read.
func get(t *testing.T, s *sgidtest.Server, u string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, s, req)
}

// postForm performs a form POST without following redirects.
func postForm(t *testing.T, s *sgidtest.Server, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, s, req)
}

// do sends req without following redirects and reads the body.
func do(t *testing.T, s *sgidtest.Server, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirect(s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// location parses the redirect target of a 302.
func location(t *testing.T, resp *http.Response) *url.URL {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authorize runs a non-interactive authorize request and returns the code.
func authorize(t *testing.T, s *sgidtest.Server, scope string) *login {
	t.Helper()
	params, l := authorizeParams(s, scope)
	resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
	u := location(t, resp)
	if got := u.Scheme + "://" + u.Host + u.Path; got != l.redirect {
		t.Fatalf("redirected to %q, want %q", got, l.redirect)
	}
	q := u.Query()
	if q.Get("state") != l.state {
		t.Fatalf("state %q, want %q", q.Get("state"), l.state)
	}
	l.code = q.Get("code")
	if l.code == "" {
		t.Fatalf("no code in %s", u)
	}
	return l
}

// tokenForm is the token request that redeems l.
func tokenForm(s *sgidtest.Server, l *login) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {s.ClientID()},
		"client_secret": {s.ClientSecret()},
		"redirect_uri":  {l.redirect},
		"code":          {l.code},
		"code_verifier": {l.verifier},
	}
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	Error       string `json:"error"`
}

// redeem exchanges l's code and returns the status and decoded answer.
func redeem(t *testing.T, s *sgidtest.Server, form url.Values) (int, tokenResponse) {
	t.Helper()
	resp, body := postForm(t, s, s.Issuer()+"/oauth/token", form)
	var tr tokenResponse
	if err := json.Unmarshal([]byte(body), &tr); err != nil {
		t.Fatalf("token answer %q: %v", body, err)
	}
	return resp.StatusCode, tr
}

// mustTokens logs in and redeems the code, failing the test on any error.
func mustTokens(t *testing.T, s *sgidtest.Server, scope string) (*login, tokenResponse) {
	t.Helper()
	l := authorize(t, s, scope)
	status, tr := redeem(t, s, tokenForm(s, l))
	if status != http.StatusOK {
		t.Fatalf("token status %d: %+v", status, tr)
	}
	return l, tr
}

// fetchJWKS downloads and parses the provider's JWKS.
func fetchJWKS(t *testing.T, s *sgidtest.Server) jwk.Set {
	t.Helper()
	resp, body := get(t, s, s.Issuer()+"/.well-known/jwks.json", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS status %d", resp.StatusCode)
	}
	set, err := jwk.Parse([]byte(body))
	if err != nil {
		t.Fatalf("JWKS %q: %v", body, err)
	}
	return set
}

// unverifiedClaims reads an ID token's claims without checking anything, so
// that fault tests can look at exactly what the provider put there.
func unverifiedClaims(t *testing.T, idToken string) map[string]any {
	t.Helper()
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

type userinfoResponse struct {
	Sub  string            `json:"sub"`
	Key  *string           `json:"key"`
	Data map[string]string `json:"data"`
}

// fetchUserinfo calls userinfo with token and decodes a 200 answer.
func fetchUserinfo(t *testing.T, s *sgidtest.Server, token string) (int, userinfoResponse, string) {
	t.Helper()
	resp, body := get(t, s, s.Issuer()+"/oauth/userinfo", http.Header{"Authorization": {"Bearer " + token}})
	var ui userinfoResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &ui); err != nil {
			t.Fatalf("userinfo %q: %v", body, err)
		}
	}
	return resp.StatusCode, ui, body
}

// jweHeader returns a compact JWE's alg and enc.
func jweHeader(t *testing.T, compact string) (jwa.KeyEncryptionAlgorithm, jwa.ContentEncryptionAlgorithm) {
	t.Helper()
	msg, err := jwe.Parse([]byte(compact))
	if err != nil {
		t.Fatalf("parsing JWE: %v", err)
	}
	h := msg.ProtectedHeaders()
	return h.Algorithm(), h.ContentEncryption()
}

// decryptKey decrypts userinfo's key with the client private key, insisting
// on the algorithms given, and returns the symmetric JWK.
func decryptKey(compact string, priv *rsa.PrivateKey, alg jwa.KeyEncryptionAlgorithm) (jwk.Key, error) {
	plain, err := jwe.Decrypt([]byte(compact), jwe.WithKey(alg, priv))
	if err != nil {
		return nil, err
	}
	return jwk.ParseKey(plain)
}

// verifyIDToken checks an ID token the way a careful client would.
func verifyIDToken(s *sgidtest.Server, set jwk.Set, idToken, nonce string, now time.Time) (jwt.Token, error) {
	tok, err := jwt.Parse([]byte(idToken),
		jwt.WithKeySet(set),
		jwt.WithValidate(true),
		jwt.WithIssuer(s.Issuer()),
		jwt.WithAudience(s.ClientID()),
		jwt.WithClaimValue("nonce", nonce),
		jwt.WithRequiredClaim("iat"),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("sub"),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
	)
	if err != nil {
		return nil, err
	}
	if tok.Subject() == "" {
		return nil, errEmptySub
	}
	return tok, nil
}

type testError string

func (e testError) Error() string { return string(e) }

const errEmptySub = testError("empty sub")
