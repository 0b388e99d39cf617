package caddysgid

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/spf13/cobra"

	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestSgidCommandRegistered: `caddy sgid` exists with its two subcommands
// and their flags.
func TestSgidCommandRegistered(t *testing.T) {
	c, ok := caddycmd.Commands()["sgid"]
	if !ok || c.CobraFunc == nil {
		t.Fatal("caddy sgid is not registered")
	}
	root := &cobra.Command{Use: "sgid"}
	c.CobraFunc(root)
	for _, tc := range []struct {
		sub   string
		flags []string
	}{{"keygen", []string{"out", "bits"}}, {"check", []string{"config", "adapter"}}} {
		t.Run(tc.sub, func(t *testing.T) {
			sub, flags := tc.sub, tc.flags
			cmd, _, err := root.Find([]string{sub})
			if err != nil || cmd.Name() != sub {
				t.Errorf("caddy sgid %s: not found (%v)", sub, err)
				return
			}
			for _, f := range flags {
				if cmd.Flags().Lookup(f) == nil {
					t.Errorf("caddy sgid %s lacks --%s", sub, f)
				}
			}
		})
	}
}

func TestKeygen(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sgid-key.pem")
	var w bytes.Buffer
	if err := keygen(&w, out, 2048); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(out)
	block, rest := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("key file is not one PKCS#8 PEM block: %q", raw)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := parsed.(*rsa.PrivateKey)
	if key.N.BitLen() != 2048 {
		t.Errorf("key has %d bits", key.N.BitLen())
	}
	if _, err := sgid.ParsePrivateKey(string(raw)); err != nil {
		t.Errorf("the handler would not accept the key: %v", err)
	}

	printed := w.String()
	pubBlock, _ := pem.Decode([]byte(printed[strings.Index(printed, "-----BEGIN"):]))
	if pubBlock == nil || pubBlock.Type != "PUBLIC KEY" {
		t.Fatalf("no PEM public key printed:\n%s", printed)
	}
	pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
	if err != nil || !key.PublicKey.Equal(pub) {
		t.Errorf("the printed public key is not the key's (%v)", err)
	}
	if strings.Contains(printed, "PRIVATE KEY-----") {
		t.Error("the private key was printed")
	}
	// No line of the private key's base64 body shows up either.
	for _, line := range strings.Split(string(raw), "\n")[1:5] {
		if strings.Contains(printed, line) {
			t.Errorf("output contains private key text %.10s...", line)
		}
	}
	for _, want := range []string{"private_key {file." + out + "}", "Where to paste it:"} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}
}

func TestKeygenRefuses(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "key.pem")
	os.WriteFile(existing, []byte("keep me"), 0o600)
	if err := keygen(&bytes.Buffer{}, existing, 2048); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Errorf("overwrite: %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("existing file changed to %q", b)
	}
	for _, bits := range []int{0, 1024, 2047, 2049, 8192} {
		out := filepath.Join(dir, fmt.Sprintf("k%d.pem", bits))
		if err := keygen(&bytes.Buffer{}, out, bits); err == nil {
			t.Errorf("--bits %d accepted", bits)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("--bits %d left a file", bits)
		}
	}
	if err := keygen(&bytes.Buffer{}, "", 2048); err == nil {
		t.Error("no --out accepted")
	}
}

// checkRun writes caddyfile to a temporary file and runs the check on it.
func checkRun(t *testing.T, caddyfile string) (int, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	status, err := runCheck(context.Background(), &w, path, "caddyfile", nil)
	if (status == 0) != (err == nil) {
		t.Errorf("status %d with error %v", status, err)
	}
	return status, w.String()
}

func TestCheck(t *testing.T) {
	p := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(p.Close)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(keyFile, []byte(p.ClientPrivateKeyPEM()), 0o600)
	gone := sgidtest.NewServer(sgidtest.Options{})
	gone.Close()
	// The secret comes from the environment, as in production.
	t.Setenv("SGID_CHECK_TEST_SECRET", p.ClientSecret())
	sealing := strings.Repeat("sealing-secret-", 3)
	t.Setenv("SGID_CHECK_TEST_SEALING", sealing)
	// The next key of a rollover, in a file of its own.
	nextKey, nextPEM := testKey(t)
	nextFile := filepath.Join(t.TempDir(), "next.pem")
	os.WriteFile(nextFile, []byte(nextPEM), 0o600)
	curKey, err := sgid.ParsePrivateKey(p.ClientPrivateKeyPEM())
	if err != nil {
		t.Fatal(err)
	}
	curPrint, nextPrint := thumbprint(t, &curKey.PublicKey), thumbprint(t, &nextKey.PublicKey)

	site := func(settings string) string {
		return fmt.Sprintf(`http://app.example {
	handle /api/* {
		sgid {
			client_id     %s
			client_secret {env.SGID_CHECK_TEST_SECRET}
			%s
		}
	}
}
`, p.ClientID(), settings)
	}
	good := fmt.Sprintf("private_key {file.%s}\n\t\t\thost %s\n\t\t\tredirect_uri https://app.example/api/redirect", keyFile, p.URL)

	for _, tc := range []struct {
		name       string
		caddyfile  string
		wantStatus int
		want       []string
	}{
		{"passing, and a mock on a second site", site(good+"\n\t\t\tscopes openid myinfo.name\n\t\t\tsealing_key {env.SGID_CHECK_TEST_SEALING}") + "http://dev.example {\n\tsgid {\n\t\tmock\n\t}\n}\n", 0, []string{
			"sgid handler 1 of 2, server srv0:",
			"  ok    private_key: 2048-bit RSA private key, thumbprint " + curPrint + ", decrypts a test message\n",
			"  ok    settings: client_id, client_secret, host and scopes are usable\n",
			"  ok    sealing_key: set; every key is derived from it and none is kept in the storage store\n",
			"  ok    discovery: issuer " + p.Issuer() + "\n",
			"  ok    jwks: 1 signing key(s)\n",
			"  ok    scopes: sgID supports all of openid myinfo.name",
			"  ok    redirect_uri: https://app.example/api/redirect is HTTPS\n",
			"sgid handler 2 of 2, server srv0:",
			"  warn  mock: this is the built-in mock provider",
			"0 failed, 1 warnings\n",
		}},
		{"bad key", site(strings.Replace(good, "{file."+keyFile+"}", "not-a-key", 1)), 1, []string{
			"  FAIL  private_key: private_key: ",
			"  ok    discovery: issuer " + p.Issuer() + "\n",
			"1 failed, 1 warnings\n",
		}},
		// A rollover: both keys are shown, in the order given, and a bad
		// next key is named by its JSON field.
		{"current and next key", site(good + "\n\t\t\tprivate_key {file." + nextFile + "}"), 0, []string{
			"  ok    private_key 1 of 2: 2048-bit RSA private key, thumbprint " + curPrint + ", decrypts a test message\n",
			"  ok    private_key 2 of 2: 2048-bit RSA private key, thumbprint " + nextPrint + ", decrypts a test message\n",
		}},
		{"next key first", site(strings.Replace(good, "{file."+keyFile+"}", "{file."+nextFile+"}\n\t\t\tprivate_key {file."+keyFile+"}", 1)), 0, []string{
			"  ok    private_key 1 of 2: 2048-bit RSA private key, thumbprint " + nextPrint + ",",
			"  ok    private_key 2 of 2: 2048-bit RSA private key, thumbprint " + curPrint + ",",
		}},
		{"bad next key", site(good + "\n\t\t\tprivate_key not-a-key"), 1, []string{
			"  FAIL  private_key: private_keys[0]: invalid configuration: private key: ",
		}},
		{"same key twice", site(good + "\n\t\t\tprivate_key {file." + keyFile + "}"), 0, []string{
			"  ok    private_key: 2048-bit RSA private key, thumbprint " + curPrint + ",",
			"  warn  private_key: 2 keys given but 1 distinct",
		}},
		{"unreachable host", site(strings.Replace(good, p.URL, gone.URL, 1)), 1, []string{
			"  ok    private_key: 2048-bit RSA private key, thumbprint " + curPrint + ",",
			"  FAIL  discovery: sgid: provider request failed: discovery request:",
			"1 failed, 1 warnings\n",
		}},
		// Keys kept in a shared store are readable by whoever reads it.
		{"storage without sealing_key", site(good), 0, []string{
			"  warn  sealing_key: not set while sessions live in a shared store (storage):",
		}},
		{"redis without sealing_key", site(good + "\n\t\t\tstore redis {\n\t\t\t\taddress redis.internal:6379\n\t\t\t}"), 0, []string{
			"  warn  sealing_key: not set while sessions live in a shared store (redis):",
		}},
		{"memory without sealing_key", site(good + "\n\t\t\tstore memory"), 0, []string{
			"  ok    sealing_key: not set; the memory store keeps its keys in this process only\n",
			"0 failed, 0 warnings\n",
		}},
		{"redis with sealing_key", site(good + "\n\t\t\tsealing_key {env.SGID_CHECK_TEST_SEALING}\n\t\t\tstore redis {\n\t\t\t\taddress redis.internal:6379\n\t\t\t}"), 0, []string{
			"  ok    sealing_key: set; every key is derived from it and none is kept in the redis store\n",
			"0 failed, 0 warnings\n",
		}},
		{"sealing_key from an unset variable", site(good + "\n\t\t\tsealing_key {env.SGID_CHECK_TEST_UNSET}"), 1, []string{
			"  FAIL  sealing_key: sealing_key: {env.SGID_CHECK_TEST_UNSET} resolved to an empty value",
		}},
		{"unsupported scope", site(good + "\n\t\t\tscopes openid myinfo.shoe_size myinfo.name"), 1, []string{
			"  FAIL  scopes: sgID does not support myinfo.shoe_size (it supports ",
		}},
		{"redirect URI in clear", site(strings.Replace(good, "https://app.example", "http://app.example", 1)), 1, []string{
			"  FAIL  redirect_uri: http://app.example/api/redirect is not HTTPS",
		}},
		{"redirect URI from the Host header", site(strings.Replace(good, "redirect_uri https://app.example/api/redirect", "", 1)), 0, []string{
			"  warn  redirect_uri: not set: each login derives it from the request's Host header",
		}},
		{"redirect URI on this machine", site(strings.Replace(good, "https://app.example", "http://localhost:9080", 1)), 0, []string{
			"  warn  redirect_uri: http://localhost:9080/api/redirect is plain HTTP",
		}},
		{"no sgid handler", "http://app.example {\n\trespond ok\n}\n", 1, []string{
			"FAIL  config: ",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := checkRun(t, tc.caddyfile)
			if status != tc.wantStatus {
				t.Errorf("exit status %d, want %d", status, tc.wantStatus)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if strings.Contains(out, p.ClientSecret()) || strings.Contains(out, sealing) {
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
	_, out := checkRun(t, "http://dev.example {\n\tsgid {\n\t\tmock\n\t}\n}\n")
	if p.Stats().Discovery != before || strings.Contains(out, "discovery") {
		t.Errorf("the mock was checked remotely:\n%s", out)
	}
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
