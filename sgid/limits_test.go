package sgid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
)

// A provider's answers are read only up to a bound, and an error body is
// kept only in part.
func TestResponseSizeLimits(t *testing.T) {
	huge := strings.Repeat("a", maxBodySize+10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/oauth/token":
			w.Write([]byte(`{"access_token":"` + huge + `","id_token":"x"}`))
		case "/v2/oauth/userinfo":
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(huge))
		}
	}))
	defer srv.Close()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	c, err := New(Config{
		ClientID: "id", ClientSecret: "secret", Host: srv.URL, RedirectURI: testRedirect,
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
	})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := GeneratePKCEPair()
	_, err = c.Exchange(context.Background(), ExchangeParams{Code: "c", CodeVerifier: v, Nonce: "n"})
	if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized token answer: %v", err)
	}
	_, err = c.Userinfo(context.Background(), "sub", "token")
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.StatusCode != 500 || len(pe.Body) != maxErrorBody {
		t.Errorf("oversized error answer: %v; want a ProviderError with a %d-byte body", err, maxErrorBody)
	}
}

// decryptData refuses what the allow-lists and checks exclude, even when
// the keys are right: a key-layer algorithm outside its list, a compressed
// field, and a value that is not UTF-8.
func TestDecryptDataChecks(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	c := &Client{privKeys: testClientKeys(t, key)}
	sym := make([]byte, 16)
	rand.Read(sym)
	jwkJSON, _ := json.Marshal(map[string]string{"kty": "oct", "alg": "A128GCM", "k": base64.RawURLEncoding.EncodeToString(sym)})
	encrypt := func(payload []byte, opts ...jwe.EncryptOption) string {
		t.Helper()
		out, err := jwe.Encrypt(payload, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	goodKey := encrypt(jwkJSON, jwe.WithKey(jwa.RSA_OAEP_256, &key.PublicKey), jwe.WithContentEncryption(jwa.A256GCM))
	field := func(v string, opts ...jwe.EncryptOption) string {
		return encrypt([]byte(v), append([]jwe.EncryptOption{jwe.WithKey(jwa.A128GCMKW, sym), jwe.WithContentEncryption(jwa.A128GCM)}, opts...)...)
	}

	if data, err := c.decryptData(goodKey, map[string]string{"myinfo.name": field("TAN")}); err != nil || data["myinfo.name"] != "TAN" {
		t.Fatalf("well-formed answer: %v %v", data, err)
	}
	rsa15Key := encrypt(jwkJSON, jwe.WithKey(jwa.RSA1_5, &key.PublicKey), jwe.WithContentEncryption(jwa.A256GCM))
	if _, err := c.decryptData(rsa15Key, map[string]string{"myinfo.name": field("TAN")}); !errors.Is(err, ErrKeyDecryption) {
		t.Errorf("RSA1_5 key layer: %v, want ErrKeyDecryption", err)
	}
	if _, err := c.decryptData(goodKey, map[string]string{"myinfo.name": field("TAN", jwe.WithCompress(jwa.Deflate))}); !errors.Is(err, ErrFieldDecryption) {
		t.Errorf("compressed field: %v, want ErrFieldDecryption", err)
	}
	if _, err := c.decryptData(goodKey, map[string]string{"myinfo.name": field("\xff\xfe")}); !errors.Is(err, ErrFieldDecryption) {
		t.Errorf("non-UTF-8 field: %v, want ErrFieldDecryption", err)
	}
}
