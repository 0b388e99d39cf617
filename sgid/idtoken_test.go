package sgid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// tokenClient is a client whose JWKS cache holds one key, so ID tokens can
// be crafted claim by claim without a provider.
func tokenClient(t *testing.T, kid string) (*Client, *rsa.PrivateKey) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := jwk.FromRaw(key.Public())
	if kid != "" {
		pub.Set(jwk.KeyIDKey, kid)
	}
	set := jwk.NewSet()
	set.AddKey(pub)
	c := &Client{clientID: "client", issuer: "https://sgid.example/v2", now: time.Now}
	c.jwks.set, c.jwks.fetchedAt = set, time.Now()
	return c, key
}

func signClaims(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any, extraHeader map[string]any) string {
	t.Helper()
	payload, _ := json.Marshal(claims)
	hdr := jws.NewHeaders()
	if kid != "" {
		hdr.Set(jws.KeyIDKey, kid)
	}
	for k, v := range extraHeader {
		hdr.Set(k, v)
	}
	tok, err := jws.Sign(payload, jws.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

func TestIDTokenClaimRules(t *testing.T) {
	const accessToken = "access-token-value"
	sum := sha256.Sum256([]byte(accessToken))
	atHash := base64.RawURLEncoding.EncodeToString(sum[:16])
	nowUnix := time.Now().Unix()
	valid := func() map[string]any {
		return map[string]any{"iss": "https://sgid.example/v2", "aud": "client", "sub": "u=1", "nonce": "n", "iat": nowUnix, "exp": nowUnix + 600}
	}
	tests := []struct {
		name   string
		kid    string // kid in the token header ("k1" is the JWKS key's)
		mutate func(map[string]any)
		header map[string]any
		rule   IDTokenRule // "" = accepted
	}{
		{"valid", "k1", nil, nil, ""},
		{"valid with matching at_hash and azp", "k1", func(m map[string]any) { m["at_hash"] = atHash; m["azp"] = "client" }, nil, ""},
		{"at_hash of another token", "k1", func(m map[string]any) { m["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }, nil, RuleAccessTokenHash},
		{"several audiences without azp", "k1", func(m map[string]any) { m["aud"] = []string{"client", "other"} }, nil, RuleAudience},
		{"azp of another client", "k1", func(m map[string]any) { m["azp"] = "other" }, nil, RuleAudience},
		{"several audiences with our azp", "k1", func(m map[string]any) { m["aud"] = []string{"client", "other"}; m["azp"] = "client" }, nil, ""},
		{"nbf in the future", "k1", func(m map[string]any) { m["nbf"] = nowUnix + 3600 }, nil, RuleNotBefore},
		{"nbf in the past", "k1", func(m map[string]any) { m["nbf"] = nowUnix - 10 }, nil, ""},
		{"exp as a string", "k1", func(m map[string]any) { m["exp"] = "9999999999" }, nil, RuleMalformed},
		{"iat as a string", "k1", func(m map[string]any) { m["iat"] = "1" }, nil, RuleMalformed},
		{"crit header", "k1", nil, map[string]any{"crit": []string{"exp-ext"}, "exp-ext": true}, RuleMalformed},
		{"issuer prefix only", "k1", func(m map[string]any) { m["iss"] = "https://sgid.example/v2/x" }, nil, RuleIssuer},
		{"missing exp", "k1", func(m map[string]any) { delete(m, "exp") }, nil, RuleExpiry},
		{"missing iat", "k1", func(m map[string]any) { delete(m, "iat") }, nil, RuleIssuedAt},
		{"missing sub", "k1", func(m map[string]any) { delete(m, "sub") }, nil, RuleSubject},
		{"expired within leeway", "k1", func(m map[string]any) { m["exp"] = nowUnix - 30 }, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, key := tokenClient(t, "k1")
			claims := valid()
			if tc.mutate != nil {
				tc.mutate(claims)
			}
			_, err := c.verifyIDToken(context.Background(), signClaims(t, key, tc.kid, claims, tc.header), "n", accessToken)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var ite *IDTokenError
			if !errors.As(err, &ite) || ite.Rule != tc.rule {
				t.Fatalf("err = %v, want rule %q", err, tc.rule)
			}
		})
	}
}

// A token without kid is accepted when the JWKS has exactly one key (OIDC
// Core 10.1), and refused when the key could be any of several.
func TestIDTokenWithoutKid(t *testing.T) {
	c, key := tokenClient(t, "")
	nowUnix := time.Now().Unix()
	claims := map[string]any{"iss": "https://sgid.example/v2", "aud": "client", "sub": "u=1", "nonce": "n", "iat": nowUnix, "exp": nowUnix + 600}
	if _, err := c.VerifyIDToken(context.Background(), signClaims(t, key, "", claims, nil), "n"); err != nil {
		t.Fatalf("single-key JWKS, no kid: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub, _ := jwk.FromRaw(other.Public())
	c.jwks.set.AddKey(pub)
	if _, err := c.VerifyIDToken(context.Background(), signClaims(t, key, "", claims, nil), "n"); !errors.Is(err, ErrIDToken) {
		t.Fatalf("two-key JWKS, no kid: %v", err)
	}
}

// jwx reports an empty plaintext as a failure; an empty field is a value.
func TestEmptyFieldDecrypts(t *testing.T) {
	symKey := make([]byte, 16)
	rand.Read(symKey)
	for _, tc := range []struct {
		alg jwa.KeyEncryptionAlgorithm
		enc jwa.ContentEncryptionAlgorithm
		key []byte
	}{{jwa.A128GCMKW, jwa.A128GCM, symKey}, {jwa.DIRECT, jwa.A256GCM, append(symKey, symKey...)}} {
		compact, err := jwe.Encrypt([]byte{}, jwe.WithKey(tc.alg, tc.key), jwe.WithContentEncryption(tc.enc))
		if err != nil {
			t.Fatal(err)
		}
		got, err := fieldLayer.decrypt(string(compact), tc.key)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: empty field = %q, %v", tc.alg, got, err)
		}
		// The empty-value path still needs the right key.
		wrong := make([]byte, len(tc.key))
		if _, err := fieldLayer.decrypt(string(compact), wrong); err == nil {
			t.Errorf("%s: empty field decrypted with a wrong key", tc.alg)
		}
	}
}
