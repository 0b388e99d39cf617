package sgid

import (
	"context"
	"crypto/rsa"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func BenchmarkAuthorizationURL(b *testing.B) {
	_, c := newPair(b, sgidtest.Options{})
	_, challenge := GeneratePKCEPair()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.AuthorizationURL(AuthParams{State: "state", CodeChallenge: challenge}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchange measures a code exchange with the ID-token check
// against the in-process fake; the fake's own work (code bookkeeping, RS256
// signing) is included, so this is an upper bound on the client's cost.
func BenchmarkExchange(b *testing.B) {
	_, c := newPair(b, sgidtest.Options{})
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		code, verifier, nonce := authorize(b, c, nil)
		b.StartTimer()
		if _, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyIDToken is the client's own part of the exchange: the
// JWS signature (cached JWKS) and claim checks.
func BenchmarkVerifyIDToken(b *testing.B) {
	_, c := newPair(b, sgidtest.Options{})
	code, verifier, nonce := authorize(b, c, nil)
	tok, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.VerifyIDToken(context.Background(), tok.IDToken, nonce); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUserinfoDecrypt decrypts a real-sgID-encoded userinfo answer
// with 8 fields: one RSA-OAEP-256 decryption plus 8 AES-GCM ones.
func BenchmarkUserinfoDecrypt(b *testing.B) {
	key, fields := encodedUserinfo(b, 8)
	c := &Client{privKeys: testClientKeys(b, key)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.decryptData(fields["key"], without(fields, "key")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRSAFloor is the physical floor of one login: the single RSA
// private-key operation (RSA-OAEP-256 decryption of the key JWE).
func BenchmarkRSAFloor(b *testing.B) {
	key, fields := encodedUserinfo(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwe.Decrypt([]byte(fields["key"]), jwe.WithKey(jwa.RSA_OAEP_256, key)); err != nil {
			b.Fatal(err)
		}
	}
}

// encodedUserinfo fetches one real userinfo answer from the fake provider
// (sgID encoding) and returns the client key and the encrypted parts.
func encodedUserinfo(b *testing.B, nFields int) (*rsa.PrivateKey, map[string]string) {
	b.Helper()
	srv, c := newPair(b, sgidtest.Options{})
	persona := srv.Personas()[0]
	scopes := []string{"openid"}
	for k := range persona.Data {
		if len(scopes) > nFields {
			break
		}
		scopes = append(scopes, k)
	}
	code, verifier, nonce := authorize(b, c, scopes)
	tok, err := c.Exchange(context.Background(), ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
	if err != nil {
		b.Fatal(err)
	}
	// Capture the raw answer through the client's own request path.
	var raw userinfoResponse
	req, _ := newUserinfoRequest(context.Background(), c, tok.AccessToken)
	if err := c.doJSON(req, "userinfo", &raw); err != nil {
		b.Fatal(err)
	}
	if len(raw.Data) < nFields {
		b.Fatalf("persona has %d fields, want %d", len(raw.Data), nFields)
	}
	out := map[string]string{"key": raw.Key}
	for k, v := range raw.Data {
		out[k] = v
	}
	return c.privKeys[0].priv, out
}

func without(m map[string]string, k string) map[string]string {
	out := make(map[string]string, len(m))
	for kk, v := range m {
		if kk != k {
			out[kk] = v
		}
	}
	return out
}
