package sgid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

const testRedirect = "https://app.example/api/redirect"

// newPair starts a fake provider and a client configured for it.
func newPair(t testing.TB, opts sgidtest.Options) (*sgidtest.Server, *Client) {
	t.Helper()
	srv := sgidtest.NewServer(opts)
	t.Cleanup(srv.Close)
	c, err := New(pairConfig(srv))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return srv, c
}

// pairConfig is the config of a client of srv.
func pairConfig(srv *sgidtest.Server) Config {
	return Config{
		ClientID:     srv.ClientID(),
		ClientSecret: srv.ClientSecret(),
		PrivateKey:   srv.ClientPrivateKeyPEM(),
		RedirectURI:  testRedirect,
		Host:         srv.URL,
		HTTPClient:   srv.Client(),
	}
}

// authorize runs the browser's part: it follows the authorization URL to
// the provider and returns the code and state of the redirect.
func authorize(t testing.TB, c *Client, scopes []string) (code, verifier, nonce string) {
	t.Helper()
	verifier, challenge := GeneratePKCEPair()
	u, nonce, err := c.AuthorizationURL(AuthParams{State: "st-1", Scopes: scopes, CodeChallenge: challenge})
	if err != nil {
		t.Fatalf("AuthorizationURL: %v", err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(u)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := loc.Query().Get("state"); got != "st-1" {
		t.Fatalf("state came back as %q", got)
	}
	return loc.Query().Get("code"), verifier, nonce
}

// login runs a whole login and returns the userinfo.
func login(t testing.TB, c *Client, scopes []string) (*Tokens, *UserInfo, error) {
	t.Helper()
	code, verifier, nonce := authorize(t, c, scopes)
	ctx := context.Background()
	tok, err := c.Exchange(ctx, ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
	if err != nil {
		return nil, nil, err
	}
	info, err := c.Userinfo(ctx, tok.Sub, tok.AccessToken)
	return tok, info, err
}

func TestWholeLoginBothEncodings(t *testing.T) {
	for _, enc := range []sgidtest.Encoding{sgidtest.EncodingSgID, sgidtest.EncodingMockpass} {
		t.Run(enc.String(), func(t *testing.T) {
			srv, c := newPair(t, sgidtest.Options{Encoding: enc})
			persona := srv.Personas()[0]
			scopes := []string{"openid"}
			for k := range persona.Data {
				scopes = append(scopes, k)
			}
			tok, info, err := login(t, c, scopes)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if tok.Sub != persona.Sub || info.Sub != persona.Sub {
				t.Errorf("sub = %q/%q, want %q", tok.Sub, info.Sub, persona.Sub)
			}
			if !reflect.DeepEqual(info.Data, persona.Data) {
				t.Errorf("data = %v\nwant %v", info.Data, persona.Data)
			}
		})
	}
}

// TestEveryPersonaRoundTrips logs in as every persona of the fake with
// every scope it has data for, in both encodings: the client gets each
// value exactly as the persona holds it (JSON text, "NA", partial dates,
// new lines and non-ASCII alike).
func TestEveryPersonaRoundTrips(t *testing.T) {
	for _, enc := range []sgidtest.Encoding{sgidtest.EncodingSgID, sgidtest.EncodingMockpass} {
		srv, c := newPair(t, sgidtest.Options{Encoding: enc})
		for _, persona := range srv.Personas() {
			t.Run(enc.String()+"/"+persona.Sub, func(t *testing.T) {
				if err := srv.SelectPersona(persona.Sub); err != nil {
					t.Fatal(err)
				}
				scopes := []string{"openid"}
				for k := range persona.Data {
					scopes = append(scopes, k)
				}
				tok, info, err := login(t, c, scopes)
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				if tok.Sub != persona.Sub || info.Sub != persona.Sub {
					t.Errorf("sub = %q/%q, want %q", tok.Sub, info.Sub, persona.Sub)
				}
				if len(persona.Data) == 0 && len(info.Data) == 0 {
					return
				}
				if !reflect.DeepEqual(info.Data, persona.Data) {
					t.Errorf("data = %v\nwant %v", info.Data, persona.Data)
				}
			})
		}
	}
}

func TestUserinfoNonASCIIAndOpenIDOnly(t *testing.T) {
	srv, c := newPair(t, sgidtest.Options{})
	var nonASCII sgidtest.Persona
	for _, p := range srv.Personas() {
		if name := p.Data["myinfo.name"]; name != "" && strings.ContainsFunc(name, func(r rune) bool { return r > 127 }) {
			nonASCII = p
		}
	}
	if nonASCII.Sub == "" {
		t.Fatal("sgidtest has no persona with a non-ASCII name")
	}
	if err := srv.SelectPersona(nonASCII.Sub); err != nil {
		t.Fatal(err)
	}
	_, info, err := login(t, c, []string{"openid", "myinfo.name"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Data["myinfo.name"] != nonASCII.Data["myinfo.name"] {
		t.Errorf("name = %q, want %q", info.Data["myinfo.name"], nonASCII.Data["myinfo.name"])
	}

	_, info, err = login(t, c, []string{"openid"})
	if err != nil {
		t.Fatalf("openid-only login: %v", err)
	}
	if info.Data == nil || len(info.Data) != 0 {
		t.Errorf("openid-only data = %#v, want an empty map", info.Data)
	}
}

func TestIDTokenRules(t *testing.T) {
	tests := []struct {
		fault sgidtest.Faults
		rule  IDTokenRule
	}{
		{sgidtest.Faults{WrongSignature: true}, RuleSignature},
		{sgidtest.Faults{UnknownKID: true}, RuleSignature},
		{sgidtest.Faults{AlgHS256: true}, RuleAlgorithm},
		{sgidtest.Faults{WrongIssuer: true}, RuleIssuer},
		{sgidtest.Faults{WrongAudience: true}, RuleAudience},
		{sgidtest.Faults{WrongNonce: true}, RuleNonce},
		{sgidtest.Faults{MissingNonce: true}, RuleNonce},
		{sgidtest.Faults{ExpiredToken: true}, RuleExpiry},
		{sgidtest.Faults{FutureIat: true}, RuleIssuedAt},
		{sgidtest.Faults{EmptySub: true}, RuleSubject},
		{sgidtest.Faults{JWKSStatus: 500}, RuleKeys},
	}
	for _, tc := range tests {
		t.Run(string(tc.rule), func(t *testing.T) {
			srv, c := newPair(t, sgidtest.Options{})
			srv.SetFaults(tc.fault)
			code, verifier, nonce := authorize(t, c, nil)
			_, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
			var ite *IDTokenError
			if !errors.As(err, &ite) || !errors.Is(err, ErrIDToken) {
				t.Fatalf("err = %v, want an *IDTokenError", err)
			}
			if ite.Rule != tc.rule {
				t.Errorf("rule = %q, want %q (%v)", ite.Rule, tc.rule, err)
			}
		})
	}
}

func TestJWKSCachedAndRefetchedOnRotation(t *testing.T) {
	srv, c := newPair(t, sgidtest.Options{})
	clock := testclock.New(time.Now())
	c.now = clock.Now
	for i := 0; i < 3; i++ {
		if _, _, err := login(t, c, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Stats().JWKS; n != 1 {
		t.Fatalf("JWKS fetched %d times for 3 logins, want 1 (cached)", n)
	}

	// A rotated key is picked up by one refetch...
	clock.Advance(jwksMinRefetch)
	srv.RotateSigningKey()
	if _, _, err := login(t, c, nil); err != nil {
		t.Fatalf("login after rotation: %v", err)
	}
	if n := srv.Stats().JWKS; n != 2 {
		t.Fatalf("JWKS fetched %d times after rotation, want 2", n)
	}

	// ...and forged tokens with unknown kids cannot make us refetch on
	// every request.
	srv.SetFaults(sgidtest.Faults{UnknownKID: true})
	for i := 0; i < 3; i++ {
		code, verifier, nonce := authorize(t, c, nil)
		if _, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce}); !errors.Is(err, ErrIDToken) {
			t.Fatalf("unknown kid accepted: %v", err)
		}
	}
	if n := srv.Stats().JWKS; n != 2 {
		t.Errorf("JWKS fetched %d times, want still 2 (refetch is rate-limited)", n)
	}
}

func TestUserinfoFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault sgidtest.Faults
		is    error
	}{
		{"sub mismatch", sgidtest.Faults{UserinfoSubMismatch: true}, ErrSubMismatch},
		{"undecryptable key", sgidtest.Faults{UndecryptableKey: true}, ErrKeyDecryption},
		{"undecryptable field", sgidtest.Faults{UndecryptableField: true}, ErrFieldDecryption},
		{"field alg outside the allow-list", sgidtest.Faults{FieldWrongAlg: true}, ErrFieldDecryption},
		{"HTTP 500", sgidtest.Faults{UserinfoStatus: 500}, ErrProvider},
		{"malformed JSON", sgidtest.Faults{MalformedUserinfoJSON: true}, ErrProvider},
	}
	for _, enc := range []sgidtest.Encoding{sgidtest.EncodingSgID, sgidtest.EncodingMockpass} {
		for _, tc := range tests {
			t.Run(enc.String()+"/"+tc.name, func(t *testing.T) {
				srv, c := newPair(t, sgidtest.Options{Encoding: enc})
				tok, err := func() (*Tokens, error) {
					code, verifier, nonce := authorize(t, c, []string{"openid", "myinfo.name", "myinfo.email"})
					return c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
				}()
				if err != nil {
					t.Fatal(err)
				}
				srv.SetFaults(tc.fault)
				_, err = c.Userinfo(context.Background(), tok.Sub, tok.AccessToken)
				if !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want %v", err, tc.is)
				}
				if tc.is == ErrFieldDecryption {
					var fe *FieldError
					if !errors.As(err, &fe) || fe.Field == "" {
						t.Errorf("err = %v, want a *FieldError naming the field", err)
					}
				}
			})
		}
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	srv, c := newPair(t, sgidtest.Options{})

	t.Run("HTTP 500 with body", func(t *testing.T) {
		srv.SetFaults(sgidtest.Faults{TokenStatus: 500})
		defer srv.SetFaults(sgidtest.Faults{})
		code, verifier, nonce := authorize(t, c, nil)
		_, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.StatusCode != 500 || pe.Endpoint != "token" || !errors.Is(err, ErrProvider) {
			t.Fatalf("err = %v, want a token ProviderError 500", err)
		}
		if strings.Contains(err.Error(), code) || strings.Contains(err.Error(), srv.ClientSecret()) {
			t.Errorf("error %q leaks the code or the secret", err)
		}
	})
	t.Run("malformed JSON", func(t *testing.T) {
		srv.SetFaults(sgidtest.Faults{MalformedTokenJSON: true})
		defer srv.SetFaults(sgidtest.Faults{})
		code, verifier, nonce := authorize(t, c, nil)
		_, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
		if !errors.Is(err, ErrProvider) {
			t.Fatalf("err = %v, want ErrProvider", err)
		}
	})
	t.Run("replayed code", func(t *testing.T) {
		code, verifier, nonce := authorize(t, c, nil)
		p := ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce}
		if _, err := c.Exchange(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		_, err := c.Exchange(context.Background(), p)
		var pe *ProviderError
		if !errors.As(err, &pe) || pe.StatusCode != 400 {
			t.Fatalf("replay: err = %v, want HTTP 400", err)
		}
	})
	t.Run("wrong verifier", func(t *testing.T) {
		code, _, nonce := authorize(t, c, nil)
		other, _ := GeneratePKCEPair()
		_, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: other, Nonce: nonce})
		if !errors.Is(err, ErrProvider) {
			t.Fatalf("err = %v, want ErrProvider", err)
		}
	})
	t.Run("slow provider honours the context", func(t *testing.T) {
		srv.SetFaults(sgidtest.Faults{Delay: 5 * time.Second})
		defer srv.SetFaults(sgidtest.Faults{})
		code, verifier, nonce := authorize(t, c, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Exchange(ctx, ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
		if !errors.Is(err, ErrProvider) || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("err = %v, want a deadline error", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Errorf("Exchange ignored its context")
		}
	})
}

func TestExchangeInputChecks(t *testing.T) {
	_, c := newPair(t, sgidtest.Options{})
	v, _ := GeneratePKCEPair()
	tests := []struct {
		name string
		p    ExchangeParams
	}{
		{"no code", ExchangeParams{CodeVerifier: v, Nonce: "n"}},
		{"short verifier", ExchangeParams{Code: "c", CodeVerifier: strings.Repeat("a", 42), Nonce: "n"}},
		{"long verifier", ExchangeParams{Code: "c", CodeVerifier: strings.Repeat("a", 129), Nonce: "n"}},
		{"bad character", ExchangeParams{Code: "c", CodeVerifier: strings.Repeat("a", 42) + "!", Nonce: "n"}},
		{"no nonce", ExchangeParams{Code: "c", CodeVerifier: v}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Exchange(context.Background(), tc.p); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("err = %v, want ErrInvalidInput", err)
			}
		})
	}
}

func TestAuthorizationURL(t *testing.T) {
	_, c := newPair(t, sgidtest.Options{})
	_, challenge := GeneratePKCEPair()
	u, nonce, err := c.AuthorizationURL(AuthParams{State: "s+/=", CodeChallenge: challenge})
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := url.Parse(u)
	q := parsed.Query()
	want := map[string]string{
		"client_id": c.ClientID(), "scope": "openid myinfo.name", "response_type": "code",
		"redirect_uri": testRedirect, "code_challenge": challenge, "code_challenge_method": "S256",
		"state": "s+/=", "nonce": nonce,
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if parsed.Path != "/v2/oauth/authorize" {
		t.Errorf("path = %q", parsed.Path)
	}
	_, nonce2, _ := c.AuthorizationURL(AuthParams{CodeChallenge: challenge})
	if nonce2 == nonce || len(nonce) != 43 {
		t.Errorf("nonces %q and %q: want fresh 43-character nonces", nonce, nonce2)
	}
	if _, given, _ := c.AuthorizationURL(AuthParams{CodeChallenge: challenge, Nonce: "mine"}); given != "mine" {
		t.Errorf("given nonce not used: %q", given)
	}

	bad := map[string]AuthParams{
		"no challenge":       {},
		"no openid":          {CodeChallenge: challenge, Scopes: []string{"myinfo.name"}},
		"bad scope":          {CodeChallenge: challenge, Scopes: []string{"openid", "a b"}},
		"relative redirect":  {CodeChallenge: challenge, RedirectURI: "/api/redirect"},
		"javascript: scheme": {CodeChallenge: challenge, RedirectURI: "javascript:alert(1)"},
	}
	for name, p := range bad {
		if _, _, err := c.AuthorizationURL(p); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: err = %v, want ErrInvalidInput", name, err)
		}
	}
}

func TestIssuerForHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "https://api.id.gov.sg/v2"},
		{"https://api.id.gov.sg", "https://api.id.gov.sg/v2"},
		{"https://api.id.gov.sg/", "https://api.id.gov.sg/v2"},
		{"https://api.id.gov.sg/v2/", "https://api.id.gov.sg/v2"},
		{" http://127.0.0.1:5156 ", "http://127.0.0.1:5156/v2"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got, err := IssuerForHost(tc.in); err != nil || got != tc.want {
				t.Errorf("IssuerForHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"api.id.gov.sg", "ftp://x", "https://"} {
		if _, err := IssuerForHost(bad); !errors.Is(err, ErrConfig) {
			t.Errorf("IssuerForHost(%q) err = %v, want ErrConfig", bad, err)
		}
	}
}

func TestPKCE(t *testing.T) {
	// Test vector from the protocol notes.
	got, err := CodeChallenge("bbGcObXZC1YGBQZZtZGQH9jsyO1vypqCGqnSU_4TI5S")
	if err != nil || got != "zaqUHoBV3rnhBF2g0Gkz1qkpEZXHqi2OrPK1DqRi-Lk" {
		t.Errorf("CodeChallenge = %q, %v", got, err)
	}
	for _, n := range []int{43, 64, 128} {
		v, err := GenerateCodeVerifier(n)
		if err != nil || len(v) != n || checkCodeVerifier(v) != nil {
			t.Errorf("GenerateCodeVerifier(%d) = %q, %v", n, v, err)
		}
	}
	for _, n := range []int{0, 42, 129} {
		if _, err := GenerateCodeVerifier(n); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("GenerateCodeVerifier(%d) err = %v, want ErrInvalidInput", n, err)
		}
	}
	v1, c1 := GeneratePKCEPair()
	v2, _ := GeneratePKCEPair()
	if v1 == v2 {
		t.Error("two PKCE pairs share a verifier")
	}
	if want, _ := CodeChallenge(v1); c1 != want {
		t.Errorf("pair challenge %q, want %q", c1, want)
	}
	if GenerateNonce() == GenerateNonce() {
		t.Error("two nonces are equal")
	}
}

func TestParsePrivateKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	der8, _ := x509.MarshalPKCS8PrivateKey(key)
	pkcs8 := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der8}))
	good := map[string]string{
		"PKCS#1":               pkcs1,
		"PKCS#8":               pkcs8,
		"literal \\n escapes":  strings.ReplaceAll(pkcs8, "\n", `\n`),
		"quotes and spaces":    "  \"" + pkcs1 + "\"\n ",
		"newlines as spaces":   strings.ReplaceAll(strings.TrimSpace(pkcs8), "\n", " "),
		"CRLF line endings":    strings.ReplaceAll(pkcs1, "\n", "\r\n"),
		"single-quoted escape": "'" + strings.ReplaceAll(pkcs1, "\n", `\n`) + "'",
	}
	for name, text := range good {
		got, err := ParsePrivateKey(text)
		if err != nil || !got.Equal(key) {
			t.Errorf("%s: %v", name, err)
		}
	}

	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}))
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	bad := map[string]string{
		"empty":          "",
		"not PEM":        "hello",
		"public key":     string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
		"1024-bit":       smallPEM,
		"corrupt body":   strings.Replace(pkcs8, "\n", "\n!!!!", 2),
		"mismatched END": strings.Replace(pkcs8, "END PRIVATE KEY", "END RSA PRIVATE KEY", 1),
	}
	for name, text := range bad {
		if _, err := ParsePrivateKey(text); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	// New fails at construction on a bad key, naming the key.
	_, err = New(Config{ClientID: "a", ClientSecret: "b", PrivateKey: "nope"})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "private key") {
		t.Errorf("New with a bad key: %v", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	srv, _ := newPair(t, sgidtest.Options{})
	base := Config{ClientID: "id", ClientSecret: "secret", PrivateKey: srv.ClientPrivateKeyPEM()}
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"ClientID", func(c *Config) { c.ClientID = "" }},
		{"ClientSecret", func(c *Config) { c.ClientSecret = "" }},
		{"PrivateKey", func(c *Config) { c.PrivateKey = "not a key" }},
		{"Host", func(c *Config) { c.Host = "api.id.gov.sg" }},
		{"RedirectURI", func(c *Config) { c.RedirectURI = "/cb" }},
		{"Scopes", func(c *Config) { c.Scopes = []string{"myinfo.name"} }},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			cfg := base
			tc.mutate(&cfg)
			_, err := New(cfg)
			var ce *ConfigError
			if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
				t.Errorf("bad %s: err = %v, want a ConfigError for that field", tc.field, err)
			}
		})
	}
	c, err := New(base)
	if err != nil || c.Issuer() != "https://api.id.gov.sg/v2" {
		t.Errorf("defaults: %v, issuer %q", err, c.Issuer())
	}
}

func TestParseData(t *testing.T) {
	got := ParseData(map[string]string{
		"myinfo.vehicles":                `[{"vehicle_number":"SXX1234A"}]`,
		"pocdex.public_officer_details":  `{"work_email":"a@b"}`,
		"myinfo.name":                    "TAN AH KOW",
		"myinfo.sex":                     "NA",
		"myinfo.registered_address":      "[not json",
		"myinfo.sponsored_child_records": "[]",
	})
	want := map[string]any{
		"myinfo.vehicles":                []any{map[string]any{"vehicle_number": "SXX1234A"}},
		"pocdex.public_officer_details":  map[string]any{"work_email": "a@b"},
		"myinfo.name":                    "TAN AH KOW",
		"myinfo.sex":                     "NA",
		"myinfo.registered_address":      "[not json",
		"myinfo.sponsored_child_records": []any{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseData = %#v\nwant %#v", got, want)
	}
}

// FuzzParsePrivateKey: any text gives a usable key or an ErrConfig, never
// a panic.
func FuzzParsePrivateKey(f *testing.F) {
	f.Add("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----")
	f.Add(`"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"`)
	f.Add("-----BEGIN X-----")
	f.Fuzz(func(t *testing.T, text string) {
		key, err := ParsePrivateKey(text)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v is not an ErrConfig", err)
			}
			return
		}
		if key.N.BitLen() < 2048 {
			t.Errorf("accepted a %d-bit key", key.N.BitLen())
		}
	})
}

// The registration hint goes only with answers that blame the client's
// registration: not with invalid_grant, which any browser can cause by
// sending an expired or used code, and not with sgID's own failures.
func TestProviderErrorHint(t *testing.T) {
	const hint = "check the client ID"
	for _, tc := range []struct {
		err  ProviderError
		code string
		hint bool
	}{
		{ProviderError{"token", 401, `{"error":"invalid_client"}`}, "invalid_client", true},
		{ProviderError{"token", 400, `{"error":"invalid_request"}`}, "invalid_request", true},
		{ProviderError{"token", 400, `{"error":"invalid_grant","error_description":"authorization code already used"}`}, "invalid_grant", false},
		{ProviderError{"token", 500, `oops`}, "", false},
		{ProviderError{"token", 400, `<html>`}, "", true},
	} {
		if got := tc.err.Code(); got != tc.code {
			t.Errorf("%+v: Code() = %q, want %q", tc.err, got, tc.code)
		}
		if got := strings.Contains(tc.err.Error(), hint); got != tc.hint {
			t.Errorf("%+v: %q has the hint: %v, want %v", tc.err, tc.err.Error(), got, tc.hint)
		}
	}
}

// A client made without an HTTP client keeps enough idle connections to
// sgID for concurrent logins to reuse them, where net/http's default
// transport keeps 2 per host.
func TestDefaultClientReusesConnections(t *testing.T) {
	srv := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(srv.Close)
	cfg := pairConfig(srv)
	cfg.HTTPClient = nil
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := c.httpClient.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("the default client's transport is %T", c.httpClient.Transport)
	}
	if tr.MaxIdleConnsPerHost < 8 || tr.MaxIdleConns < tr.MaxIdleConnsPerHost {
		t.Errorf("idle connections kept: %d per host, %d in all", tr.MaxIdleConnsPerHost, tr.MaxIdleConns)
	}
	if tr.Proxy == nil || tr.TLSHandshakeTimeout == 0 || c.httpClient.Timeout != 10*time.Second {
		t.Error("the default client lost net/http's defaults or its timeout")
	}
}

// TestAuthorizationURLRedirects: each call's URL carries that call's
// redirect URI, and a bad one is refused whichever was checked before it,
// so remembering the last checked URI never lets another through.
func TestAuthorizationURLRedirects(t *testing.T) {
	_, c := newPair(t, sgidtest.Options{})
	_, challenge := GeneratePKCEPair()
	for i, tc := range []struct {
		redirect, want string
		bad            bool
	}{
		{"", testRedirect, false},
		{"https://a.example/cb", "https://a.example/cb", false},
		{"https://a.example/cb", "https://a.example/cb", false},
		{"/relative", "", true},
		{"https://b.example/cb?x=1&y", "https://b.example/cb?x=1&y", false},
		{"javascript:alert(1)", "", true},
		{"", testRedirect, false},
		{"https://b.example/cb?x=1&y", "https://b.example/cb?x=1&y", false},
	} {
		u, _, err := c.AuthorizationURL(AuthParams{CodeChallenge: challenge, RedirectURI: tc.redirect})
		if tc.bad {
			if !errors.Is(err, ErrInvalidInput) {
				t.Errorf("call %d with %q: err = %v, want ErrInvalidInput", i, tc.redirect, err)
			}
			continue
		}
		parsed, perr := url.Parse(u)
		if err != nil || perr != nil || parsed.Query().Get("redirect_uri") != tc.want {
			t.Errorf("call %d with %q: %q, %v; want redirect_uri %q", i, tc.redirect, u, err, tc.want)
		}
	}
}
