package sgidtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// signatureHeader returns an ID token's alg and kid.
func signatureHeader(t *testing.T, idToken string) (jwa.SignatureAlgorithm, string) {
	t.Helper()
	msg, err := jws.Parse([]byte(idToken))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Signatures()[0].ProtectedHeaders()
	return h.Algorithm(), h.KeyID()
}

func TestIDTokenFaults(t *testing.T) {
	clock := newFakeClock()
	s := newServer(t, sgidtest.Options{Now: clock.Now})

	// check inspects the raw token, and the careful verifier must fail.
	for _, tc := range []struct {
		name  string
		fault sgidtest.Faults
		check func(t *testing.T, idToken string, claims map[string]any, l *login, jwksKID string)
	}{
		{"WrongSignature", sgidtest.Faults{WrongSignature: true}, func(t *testing.T, tok string, _ map[string]any, _ *login, kid string) {
			if alg, got := signatureHeader(t, tok); alg != jwa.RS256 || got != kid {
				t.Errorf("header alg=%s kid=%q, want RS256 and the JWKS kid %q", alg, got, kid)
			}
		}},
		{"UnknownKID", sgidtest.Faults{UnknownKID: true}, func(t *testing.T, tok string, _ map[string]any, _ *login, kid string) {
			if alg, got := signatureHeader(t, tok); alg != jwa.RS256 || got == kid || got == "" {
				t.Errorf("header alg=%s kid=%q, want RS256 and a kid other than %q", alg, got, kid)
			}
		}},
		{"AlgHS256", sgidtest.Faults{AlgHS256: true}, func(t *testing.T, tok string, _ map[string]any, _ *login, kid string) {
			if alg, got := signatureHeader(t, tok); alg != jwa.HS256 || got != kid {
				t.Errorf("header alg=%s kid=%q, want HS256 with kid %q", alg, got, kid)
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.HS256, []byte(s.ClientSecret()))); err != nil {
				t.Errorf("not a genuine HS256 token under the client secret: %v", err)
			}
		}},
		{"WrongIssuer", sgidtest.Faults{WrongIssuer: true}, func(t *testing.T, _ string, c map[string]any, _ *login, _ string) {
			if iss, _ := c["iss"].(string); iss == s.Issuer() || iss == "" {
				t.Errorf("iss %q", iss)
			}
		}},
		{"WrongAudience", sgidtest.Faults{WrongAudience: true}, func(t *testing.T, _ string, c map[string]any, _ *login, _ string) {
			if aud, _ := c["aud"].(string); aud == s.ClientID() || aud == "" {
				t.Errorf("aud %v", c["aud"])
			}
		}},
		{"WrongNonce", sgidtest.Faults{WrongNonce: true}, func(t *testing.T, _ string, c map[string]any, l *login, _ string) {
			if n, _ := c["nonce"].(string); n == l.nonce || n == "" {
				t.Errorf("nonce %q", n)
			}
		}},
		{"MissingNonce", sgidtest.Faults{MissingNonce: true}, func(t *testing.T, _ string, c map[string]any, _ *login, _ string) {
			if _, ok := c["nonce"]; ok {
				t.Errorf("nonce present: %v", c["nonce"])
			}
		}},
		{"ExpiredToken", sgidtest.Faults{ExpiredToken: true}, func(t *testing.T, _ string, c map[string]any, _ *login, _ string) {
			if exp, _ := c["exp"].(float64); int64(exp) >= clock.Now().Unix() {
				t.Errorf("exp %v is not in the past", c["exp"])
			}
		}},
		{"FutureIat", sgidtest.Faults{FutureIat: true}, func(t *testing.T, _ string, c map[string]any, _ *login, _ string) {
			if iat, _ := c["iat"].(float64); int64(iat) <= clock.Now().Add(5*time.Minute).Unix() {
				t.Errorf("iat %v is not well in the future", c["iat"])
			}
		}},
		{"EmptySub", sgidtest.Faults{EmptySub: true}, func(t *testing.T, _ string, c map[string]any, _ *login, _ string) {
			if sub, ok := c["sub"]; !ok || sub != "" {
				t.Errorf("sub %v (present %v), want the empty string", sub, ok)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.SetFaults(tc.fault)
			defer s.SetFaults(sgidtest.Faults{})
			l, tr := mustTokens(t, s, "openid myinfo.name")
			set := fetchJWKS(t, s)
			key, _ := set.Key(0)
			tc.check(t, tr.IDToken, unverifiedClaims(t, tr.IDToken), l, key.KeyID())
			if _, err := verifyIDToken(s, set, tr.IDToken, l.nonce, clock.Now()); err == nil {
				t.Error("a careful client would accept this ID token")
			}
			// The access token is unaffected: only the ID token is bad.
			if status, _, _ := fetchUserinfo(t, s, tr.AccessToken); status != http.StatusOK {
				t.Errorf("userinfo status %d", status)
			}
		})
	}

	// With the faults cleared, the same checks pass again.
	l, tr := mustTokens(t, s, "openid")
	if _, err := verifyIDToken(s, fetchJWKS(t, s), tr.IDToken, l.nonce, clock.Now()); err != nil {
		t.Errorf("after clearing faults: %v", err)
	}
}

func TestUserinfoFaults(t *testing.T) {
	for _, enc := range []sgidtest.Encoding{sgidtest.EncodingSgID, sgidtest.EncodingMockpass} {
		t.Run(enc.String(), func(t *testing.T) {
			s := newServer(t, sgidtest.Options{Encoding: enc})
			keyAlg, fieldAlg, wrongAlg := jwa.RSA_OAEP_256, jwa.A128GCMKW, jwa.A128KW
			if enc == sgidtest.EncodingMockpass {
				keyAlg, fieldAlg, wrongAlg = jwa.RSA_OAEP, jwa.DIRECT, jwa.A256KW
			}
			scopes := []string{"myinfo.sex", "myinfo.name", "myinfo.email"}
			sorted := append([]string(nil), scopes...)
			sort.Strings(sorted)
			first := sorted[0]

			fetch := func(t *testing.T, f sgidtest.Faults) userinfoResponse {
				t.Helper()
				s.SetFaults(f)
				defer s.SetFaults(sgidtest.Faults{})
				_, tr := mustTokens(t, s, "openid "+strings.Join(scopes, " "))
				status, ui, body := fetchUserinfo(t, s, tr.AccessToken)
				if status != http.StatusOK || ui.Key == nil {
					t.Fatalf("userinfo %d %s", status, body)
				}
				return ui
			}
			octets := func(t *testing.T, ui userinfoResponse) []byte {
				t.Helper()
				sym, err := decryptKey(*ui.Key, clientKey(), keyAlg)
				if err != nil {
					t.Fatalf("decrypting key: %v", err)
				}
				var b []byte
				if err := sym.Raw(&b); err != nil {
					t.Fatal(err)
				}
				return b
			}
			decryptField := func(ui userinfoResponse, key []byte, scope string) error {
				_, err := jwe.Decrypt([]byte(ui.Data[scope]), jwe.WithKey(fieldAlg, key))
				return err
			}

			t.Run("UserinfoSubMismatch", func(t *testing.T) {
				ui := fetch(t, sgidtest.Faults{UserinfoSubMismatch: true})
				if ui.Sub == s.Personas()[0].Sub || ui.Sub == "" {
					t.Errorf("sub %q", ui.Sub)
				}
			})
			t.Run("UndecryptableKey", func(t *testing.T) {
				ui := fetch(t, sgidtest.Faults{UndecryptableKey: true})
				if alg, _ := jweHeader(t, *ui.Key); alg != keyAlg {
					t.Errorf("key alg %s, want %s", alg, keyAlg)
				}
				if _, err := decryptKey(*ui.Key, clientKey(), keyAlg); err == nil {
					t.Error("the key decrypted with the client key")
				}
			})
			t.Run("UndecryptableField", func(t *testing.T) {
				ui := fetch(t, sgidtest.Faults{UndecryptableField: true})
				key := octets(t, ui)
				for _, scope := range scopes {
					err := decryptField(ui, key, scope)
					if (err != nil) != (scope == first) {
						t.Errorf("%s: decrypt error %v; only %s should fail", scope, err, first)
					}
				}
			})
			t.Run("FieldWrongAlg", func(t *testing.T) {
				ui := fetch(t, sgidtest.Faults{FieldWrongAlg: true})
				key := octets(t, ui)
				if alg, _ := jweHeader(t, ui.Data[first]); alg != wrongAlg {
					t.Errorf("%s alg %s, want %s", first, alg, wrongAlg)
				}
				// Only the algorithm is wrong: the key is right.
				if _, err := jwe.Decrypt([]byte(ui.Data[first]), jwe.WithKey(wrongAlg, key)); err != nil {
					t.Errorf("%s does not decrypt with the delivered key: %v", first, err)
				}
				for _, scope := range sorted[1:] {
					if err := decryptField(ui, key, scope); err != nil {
						t.Errorf("%s: %v", scope, err)
					}
				}
			})
		})
	}
}

func TestStatusFaults(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	l := authorize(t, s, "openid")
	_, good := mustTokens(t, s, "openid")

	s.SetFaults(sgidtest.Faults{TokenStatus: http.StatusBadGateway, UserinfoStatus: http.StatusServiceUnavailable, JWKSStatus: http.StatusInternalServerError})
	for _, tc := range []struct {
		name string
		do   func() (*http.Response, string)
		want int
	}{
		{"token", func() (*http.Response, string) { return postForm(t, s, s.Issuer()+"/oauth/token", tokenForm(s, l)) }, http.StatusBadGateway},
		{"userinfo", func() (*http.Response, string) {
			return get(t, s, s.Issuer()+"/oauth/userinfo", http.Header{"Authorization": {"Bearer " + good.AccessToken}})
		}, http.StatusServiceUnavailable},
		{"jwks", func() (*http.Response, string) { return get(t, s, s.Issuer()+"/.well-known/jwks.json", nil) }, http.StatusInternalServerError},
	} {
		resp, body := tc.do()
		if resp.StatusCode != tc.want || body == "" || len(body) > 200 || json.Valid([]byte(body)) {
			t.Errorf("%s: status %d body %q, want %d with a short non-JSON body", tc.name, resp.StatusCode, body, tc.want)
		}
	}

	// The faulty token request did not consume the code.
	s.SetFaults(sgidtest.Faults{})
	if status, tr := redeem(t, s, tokenForm(s, l)); status != http.StatusOK {
		t.Errorf("after the fault: %d %+v", status, tr)
	}
}

func TestMalformedJSONFaults(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	_, good := mustTokens(t, s, "openid myinfo.name")
	s.SetFaults(sgidtest.Faults{MalformedTokenJSON: true, MalformedUserinfoJSON: true})

	l := authorize(t, s, "openid")
	resp, body := postForm(t, s, s.Issuer()+"/oauth/token", tokenForm(s, l))
	if resp.StatusCode != http.StatusOK || json.Valid([]byte(body)) {
		t.Errorf("token: status %d body %q, want 200 with broken JSON", resp.StatusCode, body)
	}
	resp, body = get(t, s, s.Issuer()+"/oauth/userinfo", http.Header{"Authorization": {"Bearer " + good.AccessToken}})
	if resp.StatusCode != http.StatusOK || json.Valid([]byte(body)) {
		t.Errorf("userinfo: status %d body %q, want 200 with broken JSON", resp.StatusCode, body)
	}
}

func TestDelayFault(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	s.SetFaults(sgidtest.Faults{Delay: 150 * time.Millisecond})
	start := time.Now()
	fetchJWKS(t, s)
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
		t.Errorf("JWKS answered after %v, want at least 150ms", elapsed)
	}

	// A client that gives up must not leave the handler sleeping: the
	// delay honours the request context, so Close returns promptly.
	s.SetFaults(sgidtest.Faults{Delay: time.Minute})
	for _, path := range []string{"/.well-known/jwks.json", "/oauth/userinfo", "/oauth/token"} {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		method := http.MethodGet
		if path == "/oauth/token" {
			method = http.MethodPost
		}
		req, _ := http.NewRequestWithContext(ctx, method, s.Issuer()+path, nil)
		resp, err := s.Client().Do(req)
		cancel()
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			t.Errorf("%s answered despite a one-minute delay", path)
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v", path, err)
		}
	}
	start = time.Now()
	s.Close()
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Close took %v: a delayed handler kept running", elapsed)
	}
}

func TestRotateSigningKey(t *testing.T) {
	clock := newFakeClock()
	s := newServer(t, sgidtest.Options{Now: clock.Now})
	oldSet := fetchJWKS(t, s)
	oldKey, _ := oldSet.Key(0)
	_, before := mustTokens(t, s, "openid")

	s.RotateSigningKey()
	newSet := fetchJWKS(t, s)
	if newSet.Len() != 1 {
		t.Fatalf("JWKS has %d keys after rotation, want 1", newSet.Len())
	}
	newKey, _ := newSet.Key(0)
	if newKey.KeyID() == oldKey.KeyID() {
		t.Fatal("kid unchanged by rotation")
	}
	l, after := mustTokens(t, s, "openid")
	if _, kid := signatureHeader(t, after.IDToken); kid != newKey.KeyID() {
		t.Errorf("new token kid %q, want %q", kid, newKey.KeyID())
	}
	if _, err := verifyIDToken(s, newSet, after.IDToken, l.nonce, clock.Now()); err != nil {
		t.Errorf("new token does not verify against the new JWKS: %v", err)
	}
	if _, err := verifyIDToken(s, oldSet, after.IDToken, l.nonce, clock.Now()); err == nil {
		t.Error("new token verifies against the old JWKS")
	}
	if _, kid := signatureHeader(t, before.IDToken); kid != oldKey.KeyID() {
		t.Errorf("old token kid %q, want %q", kid, oldKey.KeyID())
	}
}
