package sgidtest_test

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func TestDiscoveryAndJWKS(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	if want := s.URL + "/v2"; s.Issuer() != want {
		t.Fatalf("Issuer() = %q, want %q", s.Issuer(), want)
	}

	resp, body := get(t, s, s.Issuer()+"/.well-known/openid-configuration", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery status %d", resp.StatusCode)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"issuer":                 s.Issuer(),
		"authorization_endpoint": s.Issuer() + "/oauth/authorize",
		"token_endpoint":         s.Issuer() + "/oauth/token",
		"userinfo_endpoint":      s.Issuer() + "/oauth/userinfo",
		"jwks_uri":               s.Issuer() + "/.well-known/jwks.json",
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %q", k, doc[k], want)
		}
	}
	for k, want := range map[string][]string{
		"response_types_supported":              {"code"},
		"id_token_signing_alg_values_supported": {"RS256"},
		"code_challenge_methods_supported":      {"S256"},
		"token_endpoint_auth_methods_supported": {"client_secret_post"},
	} {
		if got := stringList(doc[k]); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	scopes := stringList(doc["scopes_supported"])
	for _, want := range []string{"openid", "myinfo.name", "myinfo.vehicles", "myinfo.sponsored_child_records"} {
		if !slices.Contains(scopes, want) {
			t.Errorf("scopes_supported %v lacks %s", scopes, want)
		}
	}

	set := fetchJWKS(t, s)
	if set.Len() != 1 {
		t.Fatalf("JWKS has %d keys, want 1", set.Len())
	}
	key, _ := set.Key(0)
	if key.KeyType() != "RSA" || key.KeyID() == "" || key.Algorithm() != jwa.RS256 || key.KeyUsage() != "sig" {
		t.Errorf("JWK kty=%s kid=%q alg=%s use=%q", key.KeyType(), key.KeyID(), key.Algorithm(), key.KeyUsage())
	}
	if _, ok := key.Get("d"); ok {
		t.Error("JWKS leaks the private exponent")
	}
	var raw map[string][]map[string]any
	_, body = get(t, s, s.Issuer()+"/.well-known/jwks.json", nil)
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["keys"][0]["d"]; ok {
		t.Error("JWKS JSON has a private exponent")
	}

	if st := s.Stats(); st.Discovery != 1 || st.JWKS != 2 {
		t.Errorf("Stats = %+v, want 1 discovery and 2 JWKS requests", st)
	}
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

func TestNotFoundAndMethods(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	for _, path := range []string{"/", "/v2", "/v2/", "/v1/oauth/authorize", "/v2/oauth/end_session", "/v2/oauth/token/extra"} {
		if resp, _ := get(t, s, s.URL+path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, s, s.Issuer()+"/oauth/token", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET token: status %d, want 405", resp.StatusCode)
	}
}

// TestFullFlow does by hand what a relying party does, for both encodings,
// and checks every layer's algorithms.
func TestFullFlow(t *testing.T) {
	type layerAlgs struct {
		keyAlg   jwa.KeyEncryptionAlgorithm
		keyEnc   jwa.ContentEncryptionAlgorithm
		jwkAlg   string
		jwkBytes int
		fieldAlg jwa.KeyEncryptionAlgorithm
		fieldEnc jwa.ContentEncryptionAlgorithm
	}
	for _, tc := range []struct {
		enc  sgidtest.Encoding
		want layerAlgs
	}{
		{sgidtest.EncodingSgID, layerAlgs{jwa.RSA_OAEP_256, jwa.A256GCM, "A128GCM", 16, jwa.A128GCMKW, jwa.A128GCM}},
		{sgidtest.EncodingMockpass, layerAlgs{jwa.RSA_OAEP, jwa.A128CBC_HS256, "A256GCM", 32, jwa.DIRECT, jwa.A256GCM}},
	} {
		t.Run(tc.enc.String(), func(t *testing.T) {
			clock := newFakeClock()
			// The generated client key is used here, to prove that
			// ClientPrivateKeyPEM is a usable PKCS#8 key.
			s := sgidtest.NewServer(sgidtest.Options{Encoding: tc.enc, Now: clock.Now})
			defer s.Close()
			block, _ := pem.Decode([]byte(s.ClientPrivateKeyPEM()))
			if block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("ClientPrivateKeyPEM is not PKCS#8 PEM: %q", s.ClientPrivateKeyPEM())
			}
			parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			priv, ok := parsed.(*rsa.PrivateKey)
			if !ok || priv.N.BitLen() != 2048 {
				t.Fatalf("client key is %T, want a 2048-bit RSA key", parsed)
			}

			persona := s.Personas()[0]
			scopes := []string{"openid", "myinfo.name", "myinfo.nric_number", "myinfo.registered_address", "myinfo.vehicles", "myinfo.housingtype"}
			l, tr := mustTokens(t, s, strings.Join(scopes, " "))
			if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.Scope != strings.Join(scopes, " ") || tr.AccessToken == "" {
				t.Errorf("token answer %+v", tr)
			}

			set := fetchJWKS(t, s)
			tok, err := verifyIDToken(s, set, tr.IDToken, l.nonce, clock.Now())
			if err != nil {
				t.Fatalf("ID token does not verify: %v", err)
			}
			if tok.Subject() != persona.Sub {
				t.Errorf("sub %q, want %q", tok.Subject(), persona.Sub)
			}
			key0, _ := set.Key(0)
			if kid := idTokenKID(t, tr.IDToken); kid != key0.KeyID() {
				t.Errorf("ID token kid %q, JWKS kid %q", kid, key0.KeyID())
			}

			status, ui, body := fetchUserinfo(t, s, tr.AccessToken)
			if status != http.StatusOK {
				t.Fatalf("userinfo status %d: %s", status, body)
			}
			if ui.Sub != persona.Sub || ui.Key == nil {
				t.Fatalf("userinfo %s", body)
			}
			if alg, enc := jweHeader(t, *ui.Key); alg != tc.want.keyAlg || enc != tc.want.keyEnc {
				t.Errorf("key JWE is %s/%s, want %s/%s", alg, enc, tc.want.keyAlg, tc.want.keyEnc)
			}
			sym, err := decryptKey(*ui.Key, priv, tc.want.keyAlg)
			if err != nil {
				t.Fatalf("decrypting key: %v", err)
			}
			if sym.KeyType() != "oct" || sym.Algorithm().String() != tc.want.jwkAlg {
				t.Errorf("symmetric JWK kty=%s alg=%s, want oct %s", sym.KeyType(), sym.Algorithm(), tc.want.jwkAlg)
			}
			var octets []byte
			if err := sym.Raw(&octets); err != nil || len(octets) != tc.want.jwkBytes {
				t.Fatalf("symmetric key is %d bytes (%v), want %d", len(octets), err, tc.want.jwkBytes)
			}

			wantFields := scopes[1:]
			if len(ui.Data) != len(wantFields) {
				t.Errorf("data has %d fields, want %d", len(ui.Data), len(wantFields))
			}
			for _, scope := range wantFields {
				compact, ok := ui.Data[scope]
				if !ok {
					t.Errorf("data lacks %s", scope)
					continue
				}
				if alg, enc := jweHeader(t, compact); alg != tc.want.fieldAlg || enc != tc.want.fieldEnc {
					t.Errorf("%s JWE is %s/%s, want %s/%s", scope, alg, enc, tc.want.fieldAlg, tc.want.fieldEnc)
				}
				plain, err := jwe.Decrypt([]byte(compact), jwe.WithKey(tc.want.fieldAlg, octets))
				if err != nil {
					t.Errorf("decrypting %s: %v", scope, err)
					continue
				}
				if string(plain) != persona.Data[scope] {
					t.Errorf("%s = %q, want %q", scope, plain, persona.Data[scope])
				}
			}
		})
	}
}

func idTokenKID(t *testing.T, idToken string) string {
	t.Helper()
	header, _, _ := strings.Cut(idToken, ".")
	var h map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	kid, _ := h["kid"].(string)
	return kid
}
