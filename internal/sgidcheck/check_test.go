package sgidcheck

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func TestRun(t *testing.T) {
	p := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(p.Close)
	gone := sgidtest.NewServer(sgidtest.Options{})
	gone.Close()
	// The secret comes from the environment, as in production.
	t.Setenv("SGIDCHECK_TEST_SECRET", p.ClientSecret())
	sealing := strings.Repeat("sealing-secret-", 3)
	t.Setenv("SGIDCHECK_TEST_SEALING", sealing)
	// The next key of a rollover.
	nextKey, nextPEM := testKey(t)
	curKey, err := sgid.ParsePrivateKey(p.ClientPrivateKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	curPrint, nextPrint := thumbprint(t, &curKey.PublicKey), thumbprint(t, &nextKey.PublicKey)

	// Providers whose discovery documents or key sets are wrong in one way.
	otherIssuer := fakeProvider(t, "/elsewhere", []string{"openid"}, `{"keys":[]}`)
	noScopes := fakeProvider(t, "", nil, `{"keys":[]}`)
	notASet := fakeProvider(t, "", []string{"openid"}, `{"keys":"none"}`)

	good := func(edit ...func(*Site)) []Site {
		s := Site{
			Server: "srv0",
			Config: sgid.Config{
				ClientID:     p.ClientID(),
				ClientSecret: "{env.SGIDCHECK_TEST_SECRET}",
				PrivateKey:   p.ClientPrivateKeyPEM(),
				Host:         p.URL,
				RedirectURI:  "https://app.example/api/redirect",
			},
			CallbackPath: "/api/redirect",
		}
		for _, e := range edit {
			e(&s)
		}
		return []Site{s}
	}
	for _, tc := range []struct {
		name       string
		sites      []Site
		checks     Checks
		wantStatus int
		want       []string
		notWant    []string
	}{
		{"passing, and a mock on a second site", append(good(func(s *Site) {
			s.Scopes = []string{"openid", "myinfo.name"}
			s.SealingKey = "{env.SGIDCHECK_TEST_SEALING}"
		}), Site{Server: "srv1", Mock: true}), Checks{}, 0, []string{
			"sgid handler 1 of 2, server srv0:\n",
			"  ok    private_key: 2048-bit RSA private key, thumbprint " + curPrint + ", decrypts a test message\n",
			"  ok    settings: client_id, client_secret, host and scopes are usable\n",
			"  ok    sealing_key: set; every key is derived from it and none is kept in the storage store\n",
			"  ok    discovery: issuer " + p.Issuer() + "\n",
			"  ok    jwks: 1 signing key(s)\n",
			"  ok    scopes: sgID supports all of openid myinfo.name (whether your client may have them is set at registration)\n",
			"  ok    redirect_uri: https://app.example/api/redirect is HTTPS\n",
			"sgid handler 2 of 2, server srv1:\n",
			"  warn  mock: this is the built-in mock provider",
			"0 failed, 1 warnings\n",
		}, nil},
		{"NRIC asked for", good(func(s *Site) { s.Scopes = []string{"openid", "myinfo.nric_number"} }), Checks{}, 0, []string{
			"  warn  scopes: myinfo.nric_number is asked for: ask for the NRIC only if the app needs it.",
		}, nil},
		{"default scopes", good(), Checks{}, 0, []string{
			"  ok    scopes: sgID supports all of " + strings.Join(sgid.DefaultScopes, " ") + " ",
		}, []string{"NRIC"}},
		// A bad key is named by its JSON field, as Provision names it.
		{"bad key", good(func(s *Site) { s.PrivateKey = "not-a-key" }), Checks{}, 1, []string{
			"  FAIL  private_key: private_key: invalid configuration: private key: ",
			"  ok    discovery: issuer " + p.Issuer() + "\n",
			"1 failed, 1 warnings\n",
		}, []string{"settings", "sgid: "}},
		// A rollover: both keys are shown, in the order given.
		{"current and next key", good(func(s *Site) { s.PrivateKeys = []string{nextPEM} }), Checks{}, 0, []string{
			"  ok    private_key 1 of 2: 2048-bit RSA private key, thumbprint " + curPrint + ", decrypts a test message\n",
			"  ok    private_key 2 of 2: 2048-bit RSA private key, thumbprint " + nextPrint + ", decrypts a test message\n",
		}, nil},
		{"next key first", good(func(s *Site) { s.PrivateKey, s.PrivateKeys = nextPEM, []string{p.ClientPrivateKeyPEM()} }), Checks{}, 0, []string{
			"  ok    private_key 1 of 2: 2048-bit RSA private key, thumbprint " + nextPrint + ",",
			"  ok    private_key 2 of 2: 2048-bit RSA private key, thumbprint " + curPrint + ",",
		}, nil},
		{"bad next key", good(func(s *Site) { s.PrivateKeys = []string{"not-a-key"} }), Checks{}, 1, []string{
			"  FAIL  private_key: private_keys[0]: invalid configuration: private key: ",
		}, []string{"PrivateKeys[0]"}},
		{"same key twice", good(func(s *Site) { s.PrivateKeys = []string{p.ClientPrivateKeyPEM()} }), Checks{}, 0, []string{
			"  ok    private_key: 2048-bit RSA private key, thumbprint " + curPrint + ",",
			"  warn  private_key: 2 keys given but 1 distinct",
		}, nil},
		{"empty client_id", good(func(s *Site) { s.ClientID = "{env.SGIDCHECK_TEST_UNSET}" }), Checks{}, 1, []string{
			"  ok    private_key: ",
			"  FAIL  settings: client_id: ",
		}, []string{"sgid: "}},
		{"unreachable host", good(func(s *Site) { s.Host = gone.URL }), Checks{}, 1, []string{
			"  ok    private_key: 2048-bit RSA private key, thumbprint " + curPrint + ",",
			"  FAIL  discovery: sgid: provider request failed: discovery request:",
			"1 failed, 1 warnings\n",
		}, nil},
		{"host not an origin", good(func(s *Site) { s.Host = "ftp://sgid.example" }), Checks{}, 1, []string{
			"  FAIL  discovery: ",
		}, []string{"jwks"}},
		{"another issuer", good(func(s *Site) { s.Host = otherIssuer.URL }), Checks{}, 1, []string{
			"  FAIL  discovery: issuer is \"" + otherIssuer.URL + "/elsewhere\", but ID tokens are checked against \"" + otherIssuer.URL + "/v2\": is host right?\n",
			"  FAIL  jwks: the JWKS holds no keys, so no ID token can be verified\n",
		}, nil},
		{"no scopes_supported", good(func(s *Site) { s.Host = noScopes.URL }), Checks{}, 1, []string{
			"  ok    discovery: issuer " + noScopes.URL + "/v2\n",
			"  warn  scopes: sgID's discovery document lists no scopes_supported; cannot check ",
		}, nil},
		{"JWKS not a key set", good(func(s *Site) { s.Host = notASet.URL }), Checks{}, 1, []string{
			"  ok    discovery: issuer " + notASet.URL + "/v2\n",
			"  FAIL  jwks: ",
		}, nil},
		// Keys kept in a shared store are readable by whoever reads it.
		{"storage without sealing_key", good(), Checks{}, 0, []string{
			"  warn  sealing_key: not set while sessions live in a shared store (storage):",
			"a secret of at least 32 random bytes",
		}, nil},
		{"redis without sealing_key", good(func(s *Site) { s.Store = json.RawMessage(`{"module":"redis","address":"redis.internal:6379"}`) }), Checks{}, 0, []string{
			"  warn  sealing_key: not set while sessions live in a shared store (redis):",
		}, nil},
		{"memory without sealing_key", good(func(s *Site) { s.Store = json.RawMessage(`{"module":"memory"}`) }), Checks{}, 0, []string{
			"  ok    sealing_key: not set; the memory store keeps its keys in this process only\n",
			"0 failed, 0 warnings\n",
		}, nil},
		{"redis with sealing_key", good(func(s *Site) {
			s.SealingKey = "{env.SGIDCHECK_TEST_SEALING}"
			s.Store = json.RawMessage(`{"module":"redis"}`)
		}), Checks{}, 0, []string{
			"  ok    sealing_key: set; every key is derived from it and none is kept in the redis store\n",
			"0 failed, 0 warnings\n",
		}, nil},
		{"sealing_key too short", good(func(s *Site) { s.SealingKey = " " + sealing[:31] + " " }), Checks{}, 1, []string{
			"  FAIL  sealing_key: 31 bytes is too short; use at least 32 random bytes\n",
		}, nil},
		{"sealing_key from an unset variable", good(func(s *Site) { s.SealingKey = "{env.SGIDCHECK_TEST_UNSET}" }), Checks{}, 1, []string{
			"  FAIL  sealing_key: sealing_key: {env.SGIDCHECK_TEST_UNSET} resolved to an empty value (is SGIDCHECK_TEST_UNSET set?)\n",
		}, nil},
		{"unsupported scope", good(func(s *Site) { s.Scopes = []string{"openid", "myinfo.shoe_size", "myinfo.name"} }), Checks{}, 1, []string{
			"  FAIL  scopes: sgID does not support myinfo.shoe_size (it supports ",
		}, nil},
		{"redirect URI in clear", good(func(s *Site) { s.RedirectURI = "http://app.example/api/redirect" }), Checks{}, 1, []string{
			"  FAIL  redirect_uri: http://app.example/api/redirect is not HTTPS",
		}, nil},
		{"redirect URI not absolute", good(func(s *Site) { s.RedirectURI = "app.example/api/redirect" }), Checks{}, 1, []string{
			"  FAIL  redirect_uri: \"app.example/api/redirect\" is not an absolute URL\n",
		}, nil},
		{"redirect URI from the Host header", good(func(s *Site) { s.RedirectURI, s.CallbackPath = "", "/sgid/callback" }), Checks{}, 0, []string{
			"  warn  redirect_uri: not set: each login derives it from the request's Host header and scheme (+ /sgid/callback)",
		}, nil},
		{"redirect URI on this machine", good(func(s *Site) { s.RedirectURI = "http://localhost:9080/api/redirect" }), Checks{}, 0, []string{
			"  warn  redirect_uri: http://localhost:9080/api/redirect is plain HTTP",
		}, nil},
		{"no site", nil, Checks{}, 1, []string{
			"FAIL  config: the config has no sgid handler\n",
		}, []string{"failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			status, err := tc.checks.Run(context.Background(), &w, "the config", tc.sites)
			out := w.String()
			if status != tc.wantStatus {
				t.Errorf("exit status %d, want %d", status, tc.wantStatus)
			}
			if (status == 0) != (err == nil) {
				t.Errorf("status %d with error %v", status, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q", w)
				}
			}
			if strings.Contains(out, p.ClientSecret()) || strings.Contains(out, sealing[:31]) {
				t.Error("a secret was printed")
			}
			for _, pemText := range []string{p.ClientPrivateKeyPEM(), nextPEM} {
				for _, line := range strings.Split(pemText, "\n")[1:4] {
					if strings.Contains(out, line) {
						t.Errorf("private key text %.10s... was printed", line)
					}
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}

	// The mock is not checked remotely.
	before := p.Stats().Discovery
	var w bytes.Buffer
	if _, err := (Checks{}).Run(context.Background(), &w, "the config", []Site{{Server: "srv0", Mock: true, Config: sgid.Config{Host: p.URL}}}); err != nil {
		t.Error(err)
	}
	if p.Stats().Discovery != before || strings.Contains(w.String(), "discovery") {
		t.Errorf("the mock was checked remotely:\n%s", w.String())
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"app.localhost", true},
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"localhost.example", false},
		{"app.example", false},
		{"10.0.0.1", false},
		{"", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			if got := isLoopbackHost(tc.host); got != tc.want {
				t.Errorf("isLoopbackHost(%q) = %v, want %v", tc.host, got, tc.want)
			}
		})
	}
}

// fakeProvider serves a discovery document whose issuer is its own /v2
// plus issuerSuffix, with scopes, and jwks as its key set.
func fakeProvider(t *testing.T, issuerSuffix string, scopes []string, jwks string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v2/.well-known/openid-configuration":
			issuer := srv.URL + "/v2"
			if issuerSuffix != "" {
				issuer = srv.URL + issuerSuffix
			}
			json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "scopes_supported": scopes})
		case "/v2/.well-known/jwks.json":
			fmt.Fprint(w, jwks)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// testKey is a new RSA key and its PKCS#1 PEM.
func testKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url, as
// computed by jwx, for comparing with what the check prints.
func thumbprint(t *testing.T, pub *rsa.PublicKey) string {
	t.Helper()
	k, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}
