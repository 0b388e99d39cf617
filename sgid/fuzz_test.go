package sgid

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/fuzzseeds"
)

// The fuzz targets of the parsers that take bytes from sgID. Their seed
// corpora under testdata/fuzz/<FuzzName>/ hold well-formed inputs made
// with the fixed keys in testdata, at the fixed time fuzzNow, so that the
// fuzzer starts from answers that pass every check and mutates them from
// there; TestFuzzSeedsAreAccepted keeps those seeds valid.

// fuzzNow is the clock of the fuzz targets: the seeds' tokens were issued
// just before it and expire long after.
var fuzzNow = time.Unix(1_800_000_000, 0)

// Claims of the seed ID tokens.
const (
	fuzzIssuer   = "https://sgid.example/v2"
	fuzzClientID = "fuzz-client"
	fuzzKID      = "fuzz-key"
	fuzzSub      = "fuzz-sub"
	fuzzNonce    = "fuzz-nonce"
)

func readKey(tb testing.TB, file string) *rsa.PrivateKey {
	tb.Helper()
	pemText, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ParsePrivateKey(string(pemText))
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// fuzzClient is a client at fuzzNow whose JWKS cache holds the provider
// key of testdata under fuzzKID, fetched "just now" so that no token makes
// it fetch again (it has no HTTP client), and whose private key is the
// client key of testdata.
func fuzzClient(tb testing.TB) *Client {
	tb.Helper()
	pub, err := jwk.FromRaw(readKey(tb, "testdata/fuzz_provider_key.pem").Public())
	if err != nil {
		tb.Fatal(err)
	}
	if err := pub.Set(jwk.KeyIDKey, fuzzKID); err != nil {
		tb.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		tb.Fatal(err)
	}
	c := &Client{clientID: fuzzClientID, issuer: fuzzIssuer, privKeys: testClientKeys(tb, readKey(tb, "testdata/fuzz_client_key.pem"))}
	c.now = func() time.Time { return fuzzNow }
	c.jwks.set, c.jwks.fetchedAt = set, fuzzNow
	return c
}

// FuzzVerifyIDToken feeds arbitrary tokens to the ID token checks. Only
// tokens signed with the provider's key can pass, so an accepted token is
// one of the seeds (perhaps re-encoded) and names their sub; every refusal
// is an ErrIDToken, which the handler turns into reason invalid_token.
func FuzzVerifyIDToken(f *testing.F) {
	c := fuzzClient(f)
	f.Add("", fuzzNonce, "")
	f.Add("a.b.c", fuzzNonce, "")
	f.Add(`{"payload":"e30","signatures":[]}`, fuzzNonce, "")
	f.Fuzz(func(t *testing.T, token, nonce, accessToken string) {
		sub, err := c.verifyIDToken(context.Background(), token, nonce, accessToken)
		switch {
		case err == nil && sub != fuzzSub:
			t.Fatalf("accepted a token for sub %q, which no seed names", sub)
		case err == nil && nonce != fuzzNonce:
			t.Fatalf("accepted a token with nonce %q", nonce)
		case err != nil && nonce == "" && !errors.Is(err, ErrInvalidInput):
			t.Fatalf("an empty nonce gave %v, want ErrInvalidInput", err)
		case err != nil && nonce != "" && !errors.Is(err, ErrIDToken):
			t.Fatalf("refused with %v, which is not an ErrIDToken", err)
		}
	})
}

// FuzzDecryptUserinfo feeds arbitrary `key` and field values to userinfo's
// decryption. Every refusal wraps ErrKeyDecryption or ErrFieldDecryption
// (the handler's userinfo_failed), and what it decrypts is UTF-8.
func FuzzDecryptUserinfo(f *testing.F) {
	c := fuzzClient(f)
	f.Add("", "")
	f.Add("a.b.c.d.e", "a.b.c.d.e")
	f.Fuzz(func(t *testing.T, key, field string) {
		data, err := c.decryptData(key, map[string]string{"myinfo.name": field})
		if err != nil {
			if !errors.Is(err, ErrKeyDecryption) && !errors.Is(err, ErrFieldDecryption) {
				t.Fatalf("refused with %v, which is neither ErrKeyDecryption nor ErrFieldDecryption", err)
			}
			return
		}
		v, ok := data["myinfo.name"]
		if !ok || len(data) != 1 {
			t.Fatalf("decrypted %q, want the one field", data)
		}
		if !utf8.ValidString(v) {
			t.Fatalf("decrypted a value that is not UTF-8: %q", v)
		}
	})
}

// FuzzParseData feeds arbitrary userinfo values to ParseData: a value
// comes back as the same string, or, when it is JSON text of an array or
// an object, decoded.
func FuzzParseData(f *testing.F) {
	for _, v := range []string{"", "NA", "TAN CHEE HOW", `["a","b"]`, `{"a":1}`, " [1] ", `[`, `{"a":}`, `[1]x`} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := ParseData(map[string]string{"k": v})
		if len(got) != 1 {
			t.Fatalf("ParseData returned %d values for 1", len(got))
		}
		switch g := got["k"].(type) {
		case string:
			if g != v {
				t.Fatalf("value %q came back as %q", v, g)
			}
			if trimmed := strings.TrimSpace(v); trimmed != "" && strings.ContainsRune("[{", rune(trimmed[0])) && json.Valid([]byte(trimmed)) {
				t.Fatalf("the JSON array or object %q was not decoded", v)
			}
		case []any, map[string]any:
			// ParseData trims white space (Unicode's, which is more than
			// JSON's) before it decodes.
			if !json.Valid([]byte(strings.TrimSpace(v))) {
				t.Fatalf("value %q is not JSON but was decoded to %v", v, g)
			}
		default:
			t.Fatalf("value %q came back as %T", v, g)
		}
	})
}

// fuzzAccessToken is the access token the seed ID tokens' at_hash is of.
const fuzzAccessToken = "fuzz-access-token"

func fuzzClaims() map[string]any {
	sum := sha256.Sum256([]byte(fuzzAccessToken))
	return map[string]any{
		"iss": fuzzIssuer, "aud": fuzzClientID, "sub": fuzzSub, "nonce": fuzzNonce,
		"iat": fuzzNow.Unix() - 60, "exp": fuzzNow.Unix() + 3600,
		"at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]),
	}
}

// fuzzUserinfo encrypts value as userinfo's myinfo.name the way sgID
// (or, with mockpass, mockpass) does: a fresh symmetric JWK encrypted to
// the client's key, and the field encrypted under it. It returns the
// `key` and the field.
func fuzzUserinfo(t *testing.T, c *Client, mockpass bool, value string) []string {
	t.Helper()
	keyAlg, keyEnc, size, fieldAlg, fieldEnc := jwa.RSA_OAEP_256, jwa.A256GCM, 16, jwa.A128GCMKW, jwa.A128GCM
	if mockpass {
		keyAlg, keyEnc, size, fieldAlg, fieldEnc = jwa.RSA_OAEP, jwa.A128CBC_HS256, 32, jwa.DIRECT, jwa.A256GCM
	}
	sym := make([]byte, size)
	rand.Read(sym)
	symJWK, err := jwk.FromRaw(sym)
	if err != nil {
		t.Fatal(err)
	}
	jwkJSON, err := json.Marshal(symJWK)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwe.Encrypt(jwkJSON, jwe.WithKey(keyAlg, &c.privKeys[0].priv.PublicKey), jwe.WithContentEncryption(keyEnc))
	if err != nil {
		t.Fatal(err)
	}
	field, err := jwe.Encrypt([]byte(value), jwe.WithKey(fieldAlg, sym), jwe.WithContentEncryption(fieldEnc))
	if err != nil {
		t.Fatal(err)
	}
	return []string{string(key), string(field)}
}

// TestFuzzSeedsAreAccepted checks that the committed seeds of
// FuzzVerifyIDToken and FuzzDecryptUserinfo still get the outcome they
// were made for, so that the fuzzer keeps starting from inputs that reach
// the last check. Run with -update-fuzz-seeds to make them afresh.
func TestFuzzSeedsAreAccepted(t *testing.T) {
	c := fuzzClient(t)
	provider := readKey(t, "testdata/fuzz_provider_key.pem")
	other := readKey(t, "testdata/fuzz_client_key.pem")
	tokens := []struct {
		file string
		make func() string
		rule IDTokenRule // "" = accepted
	}{
		{"valid", func() string { return signClaims(t, provider, fuzzKID, fuzzClaims(), nil) }, ""},
		{"valid-azp", func() string {
			m := fuzzClaims()
			m["aud"], m["azp"] = []string{fuzzClientID, "another"}, fuzzClientID
			return signClaims(t, provider, fuzzKID, m, nil)
		}, ""},
		{"expired", func() string {
			m := fuzzClaims()
			m["exp"] = fuzzNow.Unix() - 3600
			return signClaims(t, provider, fuzzKID, m, nil)
		}, RuleExpiry},
		{"unknown-kid", func() string { return signClaims(t, other, "another-key", fuzzClaims(), nil) }, RuleSignature},
		{"crit", func() string {
			return signClaims(t, provider, fuzzKID, fuzzClaims(), map[string]any{"crit": []string{"exp"}})
		}, RuleMalformed},
	}
	for _, tc := range tokens {
		seed := fuzzseeds.Keep(t, "FuzzVerifyIDToken", tc.file, func() []string { return []string{tc.make(), fuzzNonce, fuzzAccessToken} })
		sub, err := c.verifyIDToken(context.Background(), seed[0], seed[1], seed[2])
		var ite *IDTokenError
		switch {
		case tc.rule == "" && (err != nil || sub != fuzzSub):
			t.Errorf("seed %s: %q, %v; want it accepted", tc.file, sub, err)
		case tc.rule != "" && (!errors.As(err, &ite) || ite.Rule != tc.rule):
			t.Errorf("seed %s: %v; want rule %s", tc.file, err, tc.rule)
		}
	}

	userinfos := []struct {
		file, value string
		mockpass    bool
	}{
		{"sgid", "TAN CHEE HOW", false},
		{"mockpass", "陈志豪", true},
		{"sgid-json", `[{"vehicle_number":"SBA1234A"}]`, false},
	}
	for _, tc := range userinfos {
		seed := fuzzseeds.Keep(t, "FuzzDecryptUserinfo", tc.file, func() []string { return fuzzUserinfo(t, c, tc.mockpass, tc.value) })
		data, err := c.decryptData(seed[0], map[string]string{"myinfo.name": seed[1]})
		if err != nil || data["myinfo.name"] != tc.value {
			t.Errorf("seed %s: %q, %v; want %q", tc.file, data, err, tc.value)
		}
	}
}
