package assertion

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

var ctx = context.Background()

// start is a moment well inside an epoch of a day: 2023-11-14 22:13:20 UTC.
var start = time.Unix(1_700_000_000, 0)

// clock is a settable clock for a Signer.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// openStore opens a fresh scope of a memory store.
func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := (&store.Memory{MaxEntries: 1000}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newSigner returns a Signer on st with cfg's other settings, at clk.
func newSigner(t testing.TB, st KeyStore, clk *clock, cfg Config) *Signer {
	t.Helper()
	cfg.Store = st
	cfg.Now = clk.Now
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jwksOf(t testing.TB, s *Signer) jwk.Set {
	t.Helper()
	body, _, err := s.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// verify checks tok as an upstream would, at now, and returns its claims.
func verify(t testing.TB, tok string, set jwk.Set, now time.Time, iss, aud string) (map[string]any, error) {
	t.Helper()
	parsed, err := jwt.Parse([]byte(tok), jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithIssuer(iss), jwt.WithAudience(aud))
	if err != nil {
		return nil, err
	}
	return parsed.AsMap(ctx)
}

// protectedHeaders decodes the JOSE header of a compact JWS.
func protectedHeaders(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAssertionVerifies(t *testing.T) {
	login := start.Add(-time.Hour)
	tests := []struct {
		name     string
		lifetime time.Duration
		fields   []Field
		// want are the claims besides iss, aud, sub, auth_time, iat, exp.
		want map[string]any
	}{
		{"sub only", 0, nil, map[string]any{}},
		{"named fields", 2 * time.Minute,
			[]Field{{"myinfo.name", "TAN AH KOW"}, {"iceCream", "vanilla"}},
			map[string]any{"myinfo.name": "TAN AH KOW", "iceCream": "vanilla"}},
		{"values needing escapes", time.Second,
			[]Field{{"q", "a\"b\\c\n\x01<&>"}, {"u", "李 ✓"}, {"bad", "x\xffy"}},
			map[string]any{"q": "a\"b\\c\n\x01<&>", "u": "李 ✓", "bad": "x\uFFFDy"}},
		{"longest lifetime", MaxLifetime, []Field{{"empty", ""}}, map[string]any{"empty": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: start}
			s := newSigner(t, openStore(t), clk, Config{Lifetime: tc.lifetime})
			const iss, aud = "https://app.example.sg", "https://api.example.sg"
			tok, err := s.Assertion(ctx, "session-1", aud, Claims{Issuer: iss, Subject: "u-123", AuthTime: login, Fields: tc.fields})
			if err != nil {
				t.Fatal(err)
			}
			set := jwksOf(t, s)
			claims, err := verify(t, tok, set, start, iss, aud)
			if err != nil {
				t.Fatalf("verifying: %v", err)
			}
			lifetime := tc.lifetime
			if lifetime == 0 {
				lifetime = DefaultLifetime
			}
			want := map[string]any{
				"iss": iss, "aud": []string{aud}, "sub": "u-123",
				"auth_time": float64(login.Unix()),
				"iat":       start.UTC(), "exp": start.Add(lifetime).UTC(),
			}
			maps.Copy(want, tc.want)
			if len(claims) != len(want) {
				t.Errorf("claims %v, want %v", claims, want)
			}
			for k, v := range want {
				got := claims[k]
				if tm, ok := got.(time.Time); ok {
					got = tm.UTC()
				}
				if gj, wj := mustJSON(t, got), mustJSON(t, v); gj != wj {
					t.Errorf("claim %s = %s, want %s", k, gj, wj)
				}
			}

			h := protectedHeaders(t, tok)
			if h["alg"] != "ES256" || h["typ"] != "JWT" || len(h) != 3 {
				t.Errorf("JOSE header %v, want alg ES256, typ JWT and kid only", h)
			}
			// The kid is the RFC 7638 thumbprint of the key that verifies.
			key, ok := set.LookupKeyID(h["kid"].(string))
			if !ok {
				t.Fatalf("kid %v is not in the JWKS", h["kid"])
			}
			tp, err := key.Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if base64.RawURLEncoding.EncodeToString(tp) != h["kid"] {
				t.Errorf("kid %v is not the key's thumbprint", h["kid"])
			}
			if _, err := jws.Verify([]byte(tok), jws.WithKey(jwa.ES256, key)); err != nil {
				t.Errorf("signature: %v", err)
			}

			// Expired at exp, for a verifier allowing no skew.
			if _, err := verify(t, tok, set, start.Add(lifetime), iss, aud); err == nil {
				t.Error("the assertion verifies at its exp")
			}
			// Every claim is signed: one changed byte of the payload fails.
			parts := strings.Split(tok, ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			forged := strings.Replace(string(payload), "u-123", "u-124", 1)
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(forged))
			if _, err := verify(t, strings.Join(parts, "."), set, start, iss, aud); err == nil {
				t.Error("a changed payload verifies")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConfigBounds(t *testing.T) {
	st := openStore(t)
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{Store: st}, true},
		{"no store", Config{}, false},
		{"one second", Config{Store: st, Lifetime: time.Second}, true},
		{"five minutes", Config{Store: st, Lifetime: 5 * time.Minute}, true},
		{"over five minutes", Config{Store: st, Lifetime: 5*time.Minute + time.Second}, false},
		{"under a second", Config{Store: st, Lifetime: 500 * time.Millisecond}, false},
		{"fraction of a second", Config{Store: st, Lifetime: 1500 * time.Millisecond}, false},
		{"negative", Config{Store: st, Lifetime: -time.Second}, false},
		{"rotation of a minute", Config{Store: st, Rotation: time.Minute}, true},
		{"rotation under a minute", Config{Store: st, Rotation: 59 * time.Second}, false},
		{"secret of 32 bytes", Config{Store: st, Secret: make([]byte, 32)}, true},
		{"secret of 31 bytes", Config{Store: st, Secret: make([]byte, 31)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestBadClaims(t *testing.T) {
	s := newSigner(t, openStore(t), &clock{t: start}, Config{})
	ok := Claims{Issuer: "https://a.example", Subject: "s", AuthTime: start}
	tests := []struct {
		name     string
		audience string
		edit     func(*Claims)
	}{
		{"no issuer", "aud", func(c *Claims) { c.Issuer = "" }},
		{"no subject", "aud", func(c *Claims) { c.Subject = "" }},
		{"no audience", "", func(*Claims) {}},
		{"reserved field", "aud", func(c *Claims) { c.Fields = []Field{{"exp", "9999999999"}} }},
		{"auth_time field", "aud", func(c *Claims) { c.Fields = []Field{{"auth_time", "0"}} }},
		{"empty field name", "aud", func(c *Claims) { c.Fields = []Field{{"", "x"}} }},
		{"duplicate field", "aud", func(c *Claims) { c.Fields = []Field{{"a", "1"}, {"b", "2"}, {"a", "3"}} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if tok, err := s.Assertion(ctx, "sess", tc.audience, c); err == nil {
				t.Fatalf("signed %s", tok)
			}
		})
	}
	if _, err := s.Assertion(ctx, "sess", "aud", ok); err != nil {
		t.Fatalf("the valid claims fail: %v", err)
	}
}

func TestReuse(t *testing.T) {
	base := Claims{Issuer: "https://a.example", Subject: "s1", AuthTime: start.Add(-time.Minute), Fields: []Field{{"f", "1"}}}
	tests := []struct {
		name    string
		session string
		aud     string
		after   time.Duration
		edit    func(*Claims)
		reused  bool
	}{
		{"same request again", "A", "aud", 0, nil, true},
		{"later in the same second", "A", "aud", 999 * time.Millisecond, nil, true},
		{"the next second", "A", "aud", time.Second, nil, false},
		{"another session", "B", "aud", 0, nil, false},
		{"another audience", "A", "aud2", 0, nil, false},
		{"another issuer", "A", "aud", 0, func(c *Claims) { c.Issuer = "https://b.example" }, false},
		{"another subject", "A", "aud", 0, func(c *Claims) { c.Subject = "s2" }, false},
		{"another login time", "A", "aud", 0, func(c *Claims) { c.AuthTime = start }, false},
		{"another field value", "A", "aud", 0, func(c *Claims) { c.Fields = []Field{{"f", "2"}} }, false},
		{"one field fewer", "A", "aud", 0, func(c *Claims) { c.Fields = nil }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: start}
			s := newSigner(t, openStore(t), clk, Config{})
			first, err := s.Assertion(ctx, "A", "aud", base)
			if err != nil {
				t.Fatal(err)
			}
			c := base
			c.Fields = append([]Field(nil), base.Fields...)
			if tc.edit != nil {
				tc.edit(&c)
			}
			now := start.Add(tc.after)
			clk.Set(now)
			second, err := s.Assertion(ctx, tc.session, tc.aud, c)
			if err != nil {
				t.Fatal(err)
			}
			if (first == second) != tc.reused {
				t.Fatalf("reused = %v, want %v", first == second, tc.reused)
			}
			// Whichever it is, it is valid now and says what was asked.
			claims, err := verify(t, second, jwksOf(t, s), now, c.Issuer, tc.aud)
			if err != nil {
				t.Fatal(err)
			}
			if claims["sub"] != c.Subject {
				t.Errorf("sub %v, want %s", claims["sub"], c.Subject)
			}
			iat := claims["iat"].(time.Time)
			if age := now.Sub(iat); age < 0 || age >= time.Second {
				t.Errorf("iat is %s before now, want under a second", age)
			}
			if exp := claims["exp"].(time.Time); exp.Sub(iat) != DefaultLifetime {
				t.Errorf("exp - iat = %s, want %s", exp.Sub(iat), DefaultLifetime)
			}
		})
	}
}

// The caller's slice of fields may change after the call; the reused
// assertion must not follow it.
func TestReuseKeepsItsOwnFields(t *testing.T) {
	s := newSigner(t, openStore(t), &clock{t: start}, Config{})
	fields := []Field{{"f", "1"}}
	c := Claims{Issuer: "https://a.example", Subject: "s", AuthTime: start, Fields: fields}
	first, err := s.Assertion(ctx, "A", "aud", c)
	if err != nil {
		t.Fatal(err)
	}
	fields[0].Value = "2"
	second, err := s.Assertion(ctx, "A", "aud", c)
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatal("the assertion for f=1 was reused for f=2")
	}
}

func TestCacheBound(t *testing.T) {
	var c assertionCache
	c.init()
	cl := &Claims{Subject: "s"}
	sec := start.Unix()
	for i := range cacheEntries * 2 {
		c.put(cacheKey{session: string(rune(i)) + "x", audience: "a"}, sec, cl, "tok")
	}
	if n := c.len(); n > cacheEntries {
		t.Fatalf("%d assertions kept, bound %d", n, cacheEntries)
	}
	// The first put of the next second in each shard drops the earlier
	// second's assertions from it.
	swept := func() bool {
		for i := range c.shards {
			if c.shards[i].swept != sec+1 {
				return false
			}
		}
		return true
	}
	for i := 0; !swept(); i++ {
		if i > 100*cacheShards {
			t.Fatal("test error: some shard got no put")
		}
		c.put(cacheKey{session: string(rune(i)) + "y", audience: "a"}, sec+1, cl, "tok")
	}
	for i := range c.shards {
		for k, e := range c.shards[i].m {
			if e.iat != sec+1 {
				t.Fatalf("%v of the earlier second is kept after a second passed", k)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name               string
		rotation, lifetime time.Duration
	}{
		{"defaults", 0, 0},
		{"a minute's rotation, longest lifetime", time.Minute, MaxLifetime},
		{"lifetime equal to rotation", time.Minute, time.Minute},
		{"an hour's rotation", time.Hour, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{}
			s := newSigner(t, openStore(t), clk, Config{Rotation: tc.rotation, Lifetime: tc.lifetime})
			rot, life := s.rotation, time.Duration(s.lifetime)*time.Second
			e := s.epoch(start)
			begin := time.Unix(0, int64(e)*int64(rot))
			end := begin.Add(rot)
			const iss, aud = "https://a.example", "aud"
			c := Claims{Issuer: iss, Subject: "s", AuthTime: begin}

			// A set fetched during the previous epoch already holds the
			// key that signs in this one.
			clk.Set(begin.Add(-time.Nanosecond))
			early := jwksOf(t, s)
			_, maxAge, err := s.JWKS(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if maxAge <= 0 || maxAge > rot || maxAge > 5*time.Minute {
				t.Errorf("max-age %s, want in (0, min(rotation, 5m)]", maxAge)
			}

			// Signed in the last second of the epoch...
			signedAt := end.Add(-time.Second)
			clk.Set(signedAt)
			tok, err := s.Assertion(ctx, "sess", aud, c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verify(t, tok, early, signedAt, iss, aud); err != nil {
				t.Errorf("the set fetched in epoch e-1 does not verify an assertion of epoch e: %v", err)
			}
			// ...reused until the second ends, and then still valid until
			// its exp: every set served until then verifies it.
			for _, at := range []time.Duration{0, time.Second, life - time.Second} {
				clk.Set(end.Add(-time.Nanosecond).Add(at))
				set := jwksOf(t, s)
				if _, err := verify(t, tok, set, signedAt, iss, aud); err != nil {
					t.Errorf("the set served %s after the epoch's end does not verify its assertion: %v", at, err)
				}
			}
			// The next epoch signs with its own key.
			clk.Set(end)
			next, err := s.Assertion(ctx, "sess", aud, c)
			if err != nil {
				t.Fatal(err)
			}
			if protectedHeaders(t, next)["kid"] == protectedHeaders(t, tok)["kid"] {
				t.Error("the next epoch signs with the same key")
			}
			// Once no assertion of epoch e can be valid any more, its key
			// is no longer published.
			clk.Set(end.Add(life + time.Second + rot))
			kid := protectedHeaders(t, tok)["kid"].(string)
			if _, ok := jwksOf(t, s).LookupKeyID(kid); ok {
				t.Error("the key of an epoch long past is still published")
			}
		})
	}
}

func TestSharedStore(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
	}{
		{"without secret", nil},
		{"with secret", []byte(strings.Repeat("k", 32))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			clk := &clock{t: start}
			a := newSigner(t, st, clk, Config{Secret: tc.secret})
			b := newSigner(t, st, clk, Config{Secret: tc.secret})
			c := Claims{Issuer: "https://a.example", Subject: "s", AuthTime: start}
			ta, err := a.Assertion(ctx, "sess", "aud", c)
			if err != nil {
				t.Fatal(err)
			}
			tb, err := b.Assertion(ctx, "sess", "aud", c)
			if err != nil {
				t.Fatal(err)
			}
			if protectedHeaders(t, ta)["kid"] != protectedHeaders(t, tb)["kid"] {
				t.Fatal("two signers sharing a store sign with different keys")
			}
			ja, _, _ := a.JWKS(ctx)
			jb, _, _ := b.JWKS(ctx)
			if string(ja) != string(jb) {
				t.Fatal("two signers sharing a store publish different sets")
			}
			set := jwksOf(t, b)
			if _, err := verify(t, ta, set, start, "https://a.example", "aud"); err != nil {
				t.Fatalf("b's set does not verify a's assertion: %v", err)
			}
		})
	}
}

func TestStoredKeys(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	other := []byte(strings.Repeat("o", 32))
	tests := []struct {
		name        string
		first, then []byte // the secrets of the signer that creates the key and of another
		readable    bool   // whether the stored bytes are a private key
		thenFails   bool
	}{
		{"without secret", nil, nil, true, false},
		{"with secret", secret, secret, false, false},
		{"with another secret", secret, other, false, true},
		{"sealed, read without secret", secret, nil, false, true},
		{"clear, read with a secret", nil, secret, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			clk := &clock{t: start}
			a := newSigner(t, st, clk, Config{Secret: tc.first})
			c := Claims{Issuer: "https://a.example", Subject: "s", AuthTime: start}
			if _, err := a.Assertion(ctx, "sess", "aud", c); err != nil {
				t.Fatal(err)
			}
			raw, err := st.Get(ctx, storeKey(a.epoch(start)))
			if err != nil {
				t.Fatal(err)
			}
			k, err := x509.ParsePKCS8PrivateKey(raw)
			if _, isEC := k.(*ecdsa.PrivateKey); (err == nil && isEC) != tc.readable {
				t.Errorf("stored key parses as a private key: %v, want %v", err == nil, tc.readable)
			}

			b := newSigner(t, st, clk, Config{Secret: tc.then})
			_, err = b.Assertion(ctx, "sess2", "aud", c)
			if tc.thenFails != (err != nil) {
				t.Fatalf("second signer: %v, want failure %v", err, tc.thenFails)
			}
			if tc.thenFails {
				if !errors.Is(err, ErrKeyUnreadable) {
					t.Errorf("error %v, want ErrKeyUnreadable", err)
				}
				if _, _, err := b.JWKS(ctx); !errors.Is(err, ErrKeyUnreadable) {
					t.Errorf("JWKS error %v, want ErrKeyUnreadable", err)
				}
			}
		})
	}
}

// A sealed key is bound to its epoch's store key: copied under another
// epoch's name, it does not open.
func TestSealedKeyBoundToItsName(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	st := openStore(t)
	clk := &clock{t: start}
	s := newSigner(t, st, clk, Config{Secret: secret})
	if _, _, err := s.JWKS(ctx); err != nil {
		t.Fatal(err)
	}
	e := s.epoch(start)
	raw, err := st.Get(ctx, storeKey(e))
	if err != nil {
		t.Fatal(err)
	}
	// Epoch e+5 has no key yet; plant e's sealed key there.
	if err := st.Put(ctx, storeKey(e+5), raw, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.key(ctx, e+5); !errors.Is(err, ErrKeyUnreadable) {
		t.Fatalf("a sealed key moved to another epoch: %v, want ErrKeyUnreadable", err)
	}
}

// Malformed stored values fail cleanly, never panic.
func TestMalformedStoredKey(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	tests := []struct {
		name   string
		secret []byte
		value  []byte
	}{
		{"version only", secret, []byte{sealedVersion}},
		{"wrong version", secret, append([]byte{9}, make([]byte, 60)...)},
		{"short nonce", secret, []byte{sealedVersion, 1, 2, 3}},
		{"garbage, clear", nil, []byte("not a key")},
		{"truncated DER", nil, []byte{0x30, 0x03, 0x02, 0x01, 0x00}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			clk := &clock{t: start}
			s := newSigner(t, st, clk, Config{Secret: tc.secret})
			if err := st.Put(ctx, storeKey(s.epoch(start)), tc.value, time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Assertion(ctx, "sess", "aud", Claims{Issuer: "i", Subject: "s"}); !errors.Is(err, ErrKeyUnreadable) {
				t.Fatalf("error %v, want ErrKeyUnreadable", err)
			}
		})
	}
}

// Another curve in the store (which a signer never writes) is refused.
func TestStoredKeyOfAnotherCurve(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: start}
	s := newSigner(t, st, clk, Config{})
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, storeKey(s.epoch(start)), der, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assertion(ctx, "sess", "aud", Claims{Issuer: "i", Subject: "s"}); !errors.Is(err, ErrKeyUnreadable) {
		t.Fatalf("error %v, want ErrKeyUnreadable", err)
	}
}

func TestStoreKeysAreValid(t *testing.T) {
	for _, e := range []uint64{0, 19675, 1<<64 - 1} {
		k := storeKey(e)
		if len(k) > store.MaxKeyLen || strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			t.Errorf("store key %q is not a valid store key", k)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"plain", "plain"},
		{`"quoted" \ back`, `"quoted" \ back`},
		{"tab\tnl\ncr\r nul\x00 us\x1f del\x7f", "tab\tnl\ncr\r nul\x00 us\x1f del\x7f"},
		{"日本語 ✓ 😀", "日本語 ✓ 😀"},
		{"bad \xff\xfe end", "bad \uFFFD\uFFFD end"},
		{"cut \xe6\x97", "cut \uFFFD\uFFFD"},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b := appendJSONString(nil, tc.in)
			// Strict JSON: valid UTF-8, no raw control characters.
			if !utf8.Valid(b) || strings.ContainsFunc(string(b), func(r rune) bool { return r < 0x20 }) {
				t.Fatalf("%q is not strict JSON", b)
			}
			var got string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%s is not a JSON string: %v", b, err)
			}
			if got != tc.want {
				t.Fatalf("decoded %q, want %q", got, tc.want)
			}
		})
	}
}

// Many goroutines asking at once all get assertions that verify (run with
// -race to check the locking).
func TestConcurrent(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: start}
	s := newSigner(t, st, clk, Config{})
	var wg sync.WaitGroup
	toks := make([]string, 32)
	errs := make([]error, 32)
	for i := range toks {
		wg.Go(func() {
			if i%8 == 0 {
				clk.Set(start.Add(time.Duration(i) * 100 * time.Millisecond))
			}
			toks[i], errs[i] = s.Assertion(ctx, string(rune('a'+i%4)), "aud", Claims{Issuer: "https://a.example", Subject: "s", AuthTime: start})
		})
	}
	wg.Wait()
	set := jwksOf(t, s)
	for i, tok := range toks {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if _, err := verify(t, tok, set, start.Add(4*time.Second), "https://a.example", "aud"); err != nil {
			t.Fatal(err)
		}
	}
}
