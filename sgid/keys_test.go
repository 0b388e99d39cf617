package sgid

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwe"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// testClientKeys is the key list of a client built from keys.
func testClientKeys(tb testing.TB, keys ...*rsa.PrivateKey) []clientKey {
	tb.Helper()
	out := make([]clientKey, len(keys))
	for i, k := range keys {
		ck, err := newClientKey(k)
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = ck
	}
	return out
}

// rfc7638Thumbprint computes the SHA-256 JWK thumbprint of pub by the
// letter of RFC 7638 section 3: the required members in lexical order, no
// whitespace, hashed, base64url. It is written out here so that the client's
// thumbprints are checked against something other than the library it uses.
func rfc7638Thumbprint(pub *rsa.PublicKey) string {
	b64 := base64.RawURLEncoding.EncodeToString
	e := b64(big.NewInt(int64(pub.E)).Bytes())
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`))
	return b64(sum[:])
}

// TestThumbprintIsRFC7638: the kid a JWE to one of our keys may carry is
// the RFC 7638 thumbprint, so ours must be computed exactly that way.
func TestThumbprintIsRFC7638(t *testing.T) {
	for i := range testKeyFiles {
		k := testKey(t, i)
		ck, err := newClientKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if want := rfc7638Thumbprint(&k.PublicKey); ck.thumbprint != want {
			t.Errorf("%s: thumbprint %q, want %q", testKeyFiles[i], ck.thumbprint, want)
		}
	}
}

// TestNewPrivateKeys: the configured keys, in order and without repeats,
// and errors that name the key at fault.
func TestNewPrivateKeys(t *testing.T) {
	pemA, pemB := testKeyPEM(t, keyA), testKeyPEM(t, keyB)
	thumbA, thumbB := rfc7638Thumbprint(&testKey(t, keyA).PublicKey), rfc7638Thumbprint(&testKey(t, keyB).PublicKey)
	// The same key A as PKCS#1 on one line is still key A.
	oneLineA := strings.ReplaceAll(pemA, "\n", `\n`)
	for _, tc := range []struct {
		name  string
		key   string
		keys  []string
		want  []string // thumbprints, when New succeeds
		field string   // ConfigError field, when it fails
		index int
		msg   string
	}{
		{name: "PrivateKey alone", key: pemA, want: []string{thumbA}},
		{name: "current and next", key: pemA, keys: []string{pemB}, want: []string{thumbA, thumbB}},
		{name: "next and current", key: pemB, keys: []string{pemA}, want: []string{thumbB, thumbA}},
		{name: "PrivateKeys alone", keys: []string{pemB, pemA}, want: []string{thumbB, thumbA}},
		{name: "repeats count once", key: pemA, keys: []string{oneLineA, pemB, pemB}, want: []string{thumbA, thumbB}},
		{name: "no key at all", field: "PrivateKey", msg: "the private key is empty"},
		{name: "bad PrivateKey", key: "not a key", keys: []string{pemB}, field: "PrivateKey", msg: "no PEM block found"},
		{name: "bad second entry", key: pemA, keys: []string{pemB, "/etc/sgid/next.pem"}, field: "PrivateKeys", index: 1, msg: "file path"},
		{name: "empty entry", key: pemA, keys: []string{""}, field: "PrivateKeys", index: 0, msg: "the private key is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{ClientID: "id", ClientSecret: "secret", PrivateKey: tc.key, PrivateKeys: tc.keys})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				var got []string
				for _, kc := range c.KeyChecks() {
					got = append(got, kc.Thumbprint)
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("keys %q, want %q", got, tc.want)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) || ce.Field != tc.field || ce.Index != tc.index || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("New: err = %#v (%v), want a %s[%d] ConfigError saying %q", ce, err, tc.field, tc.index, tc.msg)
			}
			if tc.field == "PrivateKeys" && !strings.Contains(err.Error(), fmt.Sprintf("PrivateKeys[%d]", tc.index)) {
				t.Errorf("the message does not name the entry: %v", err)
			}
		})
	}
}

// rolloverProvider is a fake sgID whose userinfo `key` is encrypted to
// the public half of recipient, carrying kid in its header when kid is set
// (sgidtest sends no kid, so the answer is re-encrypted here with one).
type rolloverProvider struct {
	*sgidtest.Provider
	host string
	hc   *http.Client

	mu  sync.Mutex
	kid string
}

func newRolloverProvider(t *testing.T, recipient *rsa.PrivateKey) *rolloverProvider {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	rp := &rolloverProvider{host: "http://" + ts.Listener.Addr().String()}
	p, err := sgidtest.NewProvider(rp.host+"/v2", sgidtest.Options{ClientPublicKey: &recipient.PublicKey})
	if err != nil {
		ts.Close()
		t.Fatal(err)
	}
	rp.Provider = p
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rp.mu.Lock()
		kid := rp.kid
		rp.mu.Unlock()
		if kid == "" || r.URL.Path != "/v2/oauth/userinfo" {
			p.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, r)
		var answer map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &answer) != nil {
			t.Errorf("userinfo answered %d %q", rec.Code, rec.Body)
			http.Error(w, "bad fixture", http.StatusInternalServerError)
			return
		}
		if key, ok := answer["key"].(string); ok {
			answer["key"] = withKid(t, key, recipient, kid)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	})
	ts.Start()
	t.Cleanup(ts.Close)
	rp.hc = ts.Client()
	return rp
}

func (rp *rolloverProvider) setKid(kid string) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.kid = kid
}

// withKid encrypts the plaintext of the compact JWE compact (to recipient)
// again, with the same algorithms, adding kid to its protected header.
func withKid(t *testing.T, compact string, recipient *rsa.PrivateKey, kid string) string {
	t.Helper()
	msg, err := jwe.Parse([]byte(compact))
	if err != nil {
		t.Fatal(err)
	}
	alg, enc := msg.ProtectedHeaders().Algorithm(), msg.ProtectedHeaders().ContentEncryption()
	plain, err := jwe.Decrypt([]byte(compact), jwe.WithKey(alg, recipient))
	if err != nil {
		t.Fatal(err)
	}
	hdr := jwe.NewHeaders()
	if err := hdr.Set(jwe.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	out, err := jwe.Encrypt(plain, jwe.WithKey(alg, &recipient.PublicKey), jwe.WithContentEncryption(enc), jwe.WithProtectedHeaders(hdr))
	if err != nil {
		t.Fatal(err)
	}
	if m, err := jwe.Parse(out); err != nil || m.ProtectedHeaders().KeyID() != kid {
		t.Fatalf("re-encrypted key has kid %q, %v", m.ProtectedHeaders().KeyID(), err)
	}
	return string(out)
}

// TestUserinfoKeyRollover: with two keys configured, in either order,
// userinfo encrypted to either decrypts, with or without a kid; a kid that
// is one of our thumbprints picks that key alone; a JWE to a key we do not
// hold fails with ErrKeyDecryption.
func TestUserinfoKeyRollover(t *testing.T) {
	keys := []*rsa.PrivateKey{testKey(t, keyA), testKey(t, keyB), testKey(t, keyStranger)}
	// One provider per recipient key: each generates its own signing key,
	// which is most of the cost of this test.
	providers := make([]*rolloverProvider, len(keys))
	for i, k := range keys {
		providers[i] = newRolloverProvider(t, k)
	}
	thumb := func(i int) string { return rfc7638Thumbprint(&keys[i].PublicKey) }
	const ok = ""
	type kidKind int
	const (
		noKid kidKind = iota
		recipientKid
		otherKid   // the thumbprint of the configured key that is not the recipient
		foreignKid // a name the key was registered under, not a thumbprint
	)
	for _, tc := range []struct {
		name      string
		to        int   // the key the provider encrypts to
		order     []int // PrivateKey, then PrivateKeys
		kid       kidKind
		wantError string
	}{
		{"to A, A then B, no kid", keyA, []int{keyA, keyB}, noKid, ok},
		{"to A, B then A, no kid", keyA, []int{keyB, keyA}, noKid, ok},
		{"to B, A then B, no kid", keyB, []int{keyA, keyB}, noKid, ok},
		{"to B, B then A, no kid", keyB, []int{keyB, keyA}, noKid, ok},
		{"to A, A then B, kid", keyA, []int{keyA, keyB}, recipientKid, ok},
		{"to A, B then A, kid", keyA, []int{keyB, keyA}, recipientKid, ok},
		{"to B, A then B, kid", keyB, []int{keyA, keyB}, recipientKid, ok},
		{"to B, B then A, kid", keyB, []int{keyB, keyA}, recipientKid, ok},
		{"to B, A then B, foreign kid", keyB, []int{keyA, keyB}, foreignKid, ok},
		{"to A, kid naming B", keyA, []int{keyA, keyB}, otherKid, "does not decrypt"},
		{"to a stranger, no kid", keyStranger, []int{keyA, keyB}, noKid, "does not decrypt"},
		{"to a stranger, kid naming A", keyStranger, []int{keyA, keyB}, otherKid, "does not decrypt"},
		{"to a stranger, its own kid", keyStranger, []int{keyA, keyB}, recipientKid, "does not decrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kid string
			switch tc.kid {
			case recipientKid:
				kid = thumb(tc.to)
			case otherKid:
				kid = thumb(keyA)
				if tc.to == keyA {
					kid = thumb(keyB)
				}
			case foreignKid:
				kid = "sgid-client-key-2"
			}
			p := providers[tc.to]
			p.setKid(kid)
			var pems []string
			for _, i := range tc.order {
				pems = append(pems, testKeyPEM(t, i))
			}
			c, err := New(Config{
				ClientID: p.ClientID(), ClientSecret: p.ClientSecret(), RedirectURI: testRedirect,
				PrivateKey: pems[0], PrivateKeys: pems[1:], Host: p.host, HTTPClient: p.hc,
			})
			if err != nil {
				t.Fatal(err)
			}
			persona := p.Personas()[0]
			_, info, err := login(t, c, []string{"openid", "myinfo.name"})
			if tc.wantError == ok {
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				if info.Data["myinfo.name"] != persona.Data["myinfo.name"] {
					t.Fatalf("name %q, want %q", info.Data["myinfo.name"], persona.Data["myinfo.name"])
				}
				return
			}
			if !errors.Is(err, ErrKeyDecryption) || !strings.Contains(err.Error(), "check that the private key") {
				t.Fatalf("login: err = %v, want ErrKeyDecryption", err)
			}
		})
	}
}

// TestKeyChecks: every key is listed with its thumbprint and passes; a key
// whose kid would select another key is reported, which shows the check
// goes through userinfo's key selection.
func TestKeyChecks(t *testing.T) {
	c, err := New(Config{ClientID: "id", ClientSecret: "secret", PrivateKey: testKeyPEM(t, keyB), PrivateKeys: []string{testKeyPEM(t, keyA)}})
	if err != nil {
		t.Fatal(err)
	}
	checks := c.KeyChecks()
	want := []string{rfc7638Thumbprint(&testKey(t, keyB).PublicKey), rfc7638Thumbprint(&testKey(t, keyA).PublicKey)}
	if len(checks) != 2 {
		t.Fatalf("%d checks, want 2", len(checks))
	}
	for i, kc := range checks {
		if kc.Thumbprint != want[i] || !kc.Decrypts || kc.Err != nil || kc.Bits != 2048 {
			t.Errorf("check %d = %+v, want thumbprint %s decrypting", i, kc, want[i])
		}
	}

	// Key 1 claims key 0's thumbprint: a message to key 1 with that kid is
	// handed to key 0 alone, and fails.
	c.privKeys[1].thumbprint = c.privKeys[0].thumbprint
	checks = c.KeyChecks()
	if !checks[0].Decrypts {
		t.Errorf("key 0: %v", checks[0].Err)
	}
	if checks[1].Decrypts || checks[1].Err == nil {
		t.Errorf("key 1 with a wrong thumbprint passed: %+v", checks[1])
	}
}
