package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // RS512 in the alg case
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// tokenProxy stands between the two implementations and mockpass. It
// passes everything through, keeping the Host header so that mockpass's
// issuer is the proxy's, except that it rewrites the ID token of token
// answers with the mutation registered for the request's client_id, and it
// answers a code it has seen with the very same body: both implementations
// exchanging one code get byte-identical tokens.
type tokenProxy struct {
	srv    *httptest.Server
	target *url.URL

	mu      sync.Mutex
	mutate  map[string]func(idToken string) string // by client_id
	answers map[string][]byte                      // token answer by code
	issued  map[string]string                      // ID token handed out, by code
}

func newTokenProxy(t testing.TB, origin string) *tokenProxy {
	t.Helper()
	target, err := url.Parse(origin)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tokenProxy{
		target:  target,
		mutate:  map[string]func(string) string{},
		answers: map[string][]byte{},
		issued:  map[string]string{},
	}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	tp.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v2/oauth/token" {
			tp.token(w, r)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(tp.srv.Close)
	return tp
}

func (tp *tokenProxy) origin() string { return tp.srv.URL }

func (tp *tokenProxy) token(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	code := form.Get("code")
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if answer, ok := tp.answers[code]; ok {
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
		return
	}
	req, err := http.NewRequest(http.MethodPost, tp.target.String()+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Host = r.Host
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	upstream, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		http.Error(w, fmt.Sprintf("mockpass answered %d: %s", resp.StatusCode, upstream), http.StatusBadGateway)
		return
	}
	var answer map[string]any
	if err := json.Unmarshal(upstream, &answer); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	idToken, _ := answer["id_token"].(string)
	if m := tp.mutate[form.Get("client_id")]; m != nil {
		idToken = m(idToken)
		answer["id_token"] = idToken
	}
	out, _ := json.Marshal(answer)
	tp.answers[code] = out
	tp.issued[code] = idToken
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// jwtParts is a compact JWS taken apart; numbers stay json.Number, so an
// unchanged claim set re-encodes to the same values.
type jwtParts struct {
	header, claims map[string]any
	raw            [3]string
}

func splitJWT(tok string) (jwtParts, error) {
	seg := strings.Split(tok, ".")
	if len(seg) != 3 {
		return jwtParts{}, fmt.Errorf("%d segments", len(seg))
	}
	p := jwtParts{raw: [3]string{seg[0], seg[1], seg[2]}}
	for i, dst := range []*map[string]any{&p.header, &p.claims} {
		b, err := base64.RawURLEncoding.DecodeString(seg[i])
		if err != nil {
			return jwtParts{}, err
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(dst); err != nil {
			return jwtParts{}, err
		}
	}
	return p, nil
}

func b64JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signJWT signs header and claims: RS256/RS512 with key, HS256 with secret.
func signJWT(header, claims map[string]any, key *rsa.PrivateKey, secret []byte) string {
	input := b64JSON(header) + "." + b64JSON(claims)
	var sig []byte
	switch header["alg"] {
	case "RS256":
		sum := sha256.Sum256([]byte(input))
		sig, _ = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	case "RS512":
		h := crypto.SHA512.New()
		h.Write([]byte(input))
		sig, _ = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA512, h.Sum(nil))
	case "HS256":
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		panic(fmt.Sprintf("signJWT: alg %v", header["alg"]))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func loadRSAKey(t testing.TB, path string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sgid.ParsePrivateKey(string(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

// idTokenEnv is what a mutation may use.
type idTokenEnv struct {
	clientID   string
	issuer     string // the proxy's issuer, which both implementations expect
	signingKey *rsa.PrivateKey
	otherKey   *rsa.PrivateKey
	secret     string
}

type idTokenCase struct {
	name string
	// mutate turns the ID token mockpass issued into the one both
	// implementations get.
	mutate func(orig string, e idTokenEnv) string
	// want is whether both implementations must accept it.
	want bool
	// exchangeOnly marks a rule only Exchange can check, as it needs the
	// access token (at_hash): VerifyIDToken alone accepts the token.
	exchangeOnly bool
	// deliberate, when set, is why ours is meant to differ from the SDK;
	// then oursWant is what ours must do (and the SDK does !oursWant).
	deliberate string
	oursWant   bool
}

// resign returns a mutation that changes the header and claims of the
// token and signs it again with mockpass's signing key (or with whatever
// key/secret the header's alg needs).
func resign(change func(h, c map[string]any, e idTokenEnv)) func(string, idTokenEnv) string {
	return func(orig string, e idTokenEnv) string {
		p, err := splitJWT(orig)
		if err != nil {
			return "unparsable:" + orig
		}
		change(p.header, p.claims, e)
		key := e.signingKey
		if p.header["alg"] == "RS256-other-key" {
			p.header["alg"] = "RS256"
			key = e.otherKey
		}
		return signJWT(p.header, p.claims, key, []byte(e.secret))
	}
}

func unix(d time.Duration) json.Number {
	return json.Number(fmt.Sprint(time.Now().Add(d).Unix()))
}

var idTokenCases = []idTokenCase{
	{name: "fresh token as mockpass issued it", want: true,
		mutate: func(orig string, _ idTokenEnv) string { return orig }},
	{name: "re-signed unchanged", want: true,
		mutate: resign(func(h, c map[string]any, e idTokenEnv) {})},
	{name: "extra claims and header fields", want: true,
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { h["typ"] = "JWT"; c["acr"] = "x"; c["custom"] = []any{1, "a"} })},
	{name: "aud as a one-element array", want: true,
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["aud"] = []any{e.clientID} })},
	{name: "two audiences with azp = client", want: true,
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["aud"] = []any{e.clientID, "other"}; c["azp"] = e.clientID })},

	{name: "signature bit flipped",
		mutate: func(orig string, _ idTokenEnv) string {
			p, _ := splitJWT(orig)
			sig, _ := base64.RawURLEncoding.DecodeString(p.raw[2])
			sig[len(sig)/2] ^= 0x01
			return p.raw[0] + "." + p.raw[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}},
	{name: "payload changed, signature kept",
		mutate: func(orig string, _ idTokenEnv) string {
			p, _ := splitJWT(orig)
			p.claims["sub"] = "u=00000000-0000-0000-0000-000000000000"
			return p.raw[0] + "." + b64JSON(p.claims) + "." + p.raw[2]
		}},
	{name: "signature stripped",
		mutate: func(orig string, _ idTokenEnv) string {
			p, _ := splitJWT(orig)
			return p.raw[0] + "." + p.raw[1] + "."
		}},
	{name: "alg none",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { h["alg"] = "none"; delete(h, "kid") })},
	{name: "alg HS256 keyed with the client secret",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { h["alg"] = "HS256"; delete(h, "kid") })},
	{name: "alg RS512 with the right key",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { h["alg"] = "RS512" })},
	{name: "signed by another RSA key under the same kid",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { h["alg"] = "RS256-other-key" })},
	{name: "unknown kid, right key",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { h["kid"] = "not-in-the-jwks" })},
	{name: "no kid, right key, one key in the JWKS", want: true,
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { delete(h, "kid") })},
	{name: "not a JWT",
		mutate: func(string, idTokenEnv) string { return "not-a-jwt" }},

	{name: "iss of another host name for the same server",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) {
			c["iss"] = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
		})},
	{name: "iss with a trailing slash",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["iss"] = e.issuer + "/" })},
	{name: "iss missing",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { delete(c, "iss") })},
	{name: "aud another client",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["aud"] = "another-client" })},
	{name: "aud missing",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { delete(c, "aud") })},
	{name: "two audiences, no azp",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["aud"] = []any{e.clientID, "other"} })},
	{name: "azp another client",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["azp"] = "another-client" })},

	{name: "exp two hours ago",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["exp"] = unix(-2 * time.Hour) })},
	{name: "exp missing",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { delete(c, "exp") })},
	{name: "exp as a string",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["exp"] = string(unix(time.Hour)) })},
	{name: "exp 20 seconds ago",
		deliberate: "ours allows sgid's clockLeeway (1 minute) of clock drift on exp and iat; the SDK allows none",
		oursWant:   true,
		mutate:     resign(func(h, c map[string]any, e idTokenEnv) { c["exp"] = unix(-20 * time.Second) })},
	{name: "iat missing",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { delete(c, "iat") })},
	{name: "iat two hours in the future",
		deliberate: "ours rejects an iat beyond the clock leeway in the future (RuleIssuedAt); the SDK only checks that iat is a number",
		oursWant:   false,
		mutate:     resign(func(h, c map[string]any, e idTokenEnv) { c["iat"] = unix(2 * time.Hour) })},
	{name: "nbf two hours in the future",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["nbf"] = unix(2 * time.Hour) })},
	{name: "nonce of another login",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["nonce"] = sgid.GenerateNonce() })},
	{name: "nonce missing",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { delete(c, "nonce") })},
	{name: "sub missing",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { delete(c, "sub") })},
	{name: "sub empty",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["sub"] = "" })},
	{name: "at_hash of another access token", exchangeOnly: true,
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" })},
	{name: "unknown critical header",
		mutate: resign(func(h, c map[string]any, e idTokenEnv) { h["crit"] = []any{"x-unknown"}; h["x-unknown"] = true })},
}

// TestIDTokenAcceptanceMatchesSDK hands our client and the SDK the same ID
// tokens: mockpass's own, and tampered or re-signed variants (with
// mockpass's signing key, which its package ships), and checks that ours
// accepts exactly what the SDK's callback accepts.
func TestIDTokenAcceptanceMatchesSDK(t *testing.T) {
	p := requirePrereqs(t)
	mp := startMockpass(t, p, defaultNRIC)
	proxy := newTokenProxy(t, mp.origin)
	clientKey := p.clientKey(t)
	const secret = "conformance-secret"
	env := idTokenEnv{
		issuer:     proxy.origin() + "/v2",
		signingKey: loadRSAKey(t, p.signingKeyPath()),
		otherKey:   loadRSAKey(t, p.clientKeyPath()),
		secret:     secret,
	}

	type outcome struct {
		s        started
		exchange error
		verify   error
		sub      string
		issued   string
	}
	outcomes := make([]outcome, len(idTokenCases))
	reqs := make([]sdkRequest, len(idTokenCases))
	for i, tc := range idTokenCases {
		e := env
		e.clientID = fmt.Sprintf("conformance-idtoken-%02d", i)
		proxy.mu.Lock()
		proxy.mutate[e.clientID] = func(orig string) string { return tc.mutate(orig, e) }
		proxy.mu.Unlock()
		c, err := sgid.New(sgid.Config{
			ClientID: e.clientID, ClientSecret: secret, PrivateKey: clientKey,
			Host: proxy.origin(), RedirectURI: testRedirectURI,
		})
		if err != nil {
			t.Fatal(err)
		}
		o := &outcomes[i]
		o.s = startLogin(t, c, scopesName, "")
		tok, err := c.Exchange(context.Background(), sgid.ExchangeParams{
			Code: o.s.cb.Code, CodeVerifier: o.s.verifier, Nonce: o.s.nonce,
		})
		o.exchange = err
		if err == nil {
			o.sub = tok.Sub
		}
		proxy.mu.Lock()
		o.issued = proxy.issued[o.s.cb.Code]
		proxy.mu.Unlock()
		_, o.verify = c.VerifyIDToken(context.Background(), o.issued, o.s.nonce)
		reqs[i] = sdkRequest{
			Hostname: proxy.origin(), ClientID: e.clientID, ClientSecret: secret,
			PrivateKey: clientKey, RedirectURI: testRedirectURI,
			Code: o.s.cb.Code, CodeVerifier: o.s.verifier, Nonce: o.s.nonce,
		}
	}
	results := runSDK(t, p, reqs)
	mp.checkAlive(t)

	for i, tc := range idTokenCases {
		o, res := outcomes[i], results[i]
		t.Run(tc.name, func(t *testing.T) {
			ours := o.exchange == nil
			if o.exchange != nil && !errors.Is(o.exchange, sgid.ErrIDToken) {
				t.Errorf("our Exchange failed with %v; a token problem must be an ErrIDToken", o.exchange)
			}
			if (o.verify == nil) != ours && !(tc.exchangeOnly && o.verify == nil) {
				t.Errorf("Exchange and VerifyIDToken disagree on the same token: Exchange %v, VerifyIDToken %v", o.exchange, o.verify)
			}
			if res.OK && res.IDToken != o.issued {
				t.Errorf("the SDK was handed another ID token than ours")
			}
			sdk := res.OK
			if !res.OK && res.Step != "callback" {
				t.Fatalf("SDK failed in %s, not in callback: %s", res.Step, res.Error)
			}
			verdicts := fmt.Sprintf("ours: %s; SDK: %s", verdict(o.exchange), verdictSDK(res))
			switch {
			case tc.deliberate != "":
				if ours != tc.oursWant || sdk != !tc.oursWant {
					t.Errorf("want ours accept=%v and SDK accept=%v (%s); %s", tc.oursWant, !tc.oursWant, tc.deliberate, verdicts)
				} else {
					t.Logf("deliberate divergence: %s; %s", tc.deliberate, verdicts)
				}
			default:
				if ours != tc.want || sdk != tc.want {
					t.Errorf("want both accept=%v; %s", tc.want, verdicts)
				}
			}
			if ours && sdk && o.sub != res.Sub {
				t.Errorf("sub: ours %q, SDK %q", o.sub, res.Sub)
			}
		})
	}
}

func verdict(err error) string {
	if err == nil {
		return "accepted"
	}
	return "rejected (" + err.Error() + ")"
}

func verdictSDK(res sdkResult) string {
	if res.OK {
		return "accepted"
	}
	return "rejected (" + res.Error + ")"
}
