package caddysgid

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/caddy-sgid/caddy-sgid/internal/confcheck"
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

// TestCheck runs `caddy sgid check` on Caddyfiles: the checks themselves
// are tested in their package; these cases show that the command hands
// them each handler's settings and the handler's own rules (how a field
// and an empty placeholder are named, the shortest sealing_key, the
// default callback_path).
func TestCheck(t *testing.T) {
	p := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(p.Close)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	os.WriteFile(keyFile, []byte(p.ClientPrivateKeyPEM()), 0o600)
	// The secret comes from the environment, as in production.
	t.Setenv("SGID_CHECK_TEST_SECRET", p.ClientSecret())
	sealing := strings.Repeat("sealing-secret-", 3)
	t.Setenv("SGID_CHECK_TEST_SEALING", sealing)

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
		{"passing, and a mock on a second site", site(good+"\n\t\t\tscopes openid\n\t\t\tsealing_key {env.SGID_CHECK_TEST_SEALING}") + "http://dev.example {\n\tsgid {\n\t\tmock\n\t}\n}\n", 0, []string{
			"sgid handler 1 of 2, server srv0:",
			"  ok    private_key: 2048-bit RSA private key, thumbprint ",
			"  ok    settings: client_id, client_secret, host and scopes are usable\n",
			"  ok    sealing_key: set; every key is derived from it and none is kept in the storage store\n",
			"  ok    discovery: issuer " + p.Issuer() + "\n",
			"  ok    jwks: 1 signing key(s)\n",
			"  ok    scopes: sgID supports all of openid (whether",
			"  ok    redirect_uri: https://app.example/api/redirect is HTTPS\n",
			"sgid handler 2 of 2, server srv0:",
			"  warn  mock: this is the built-in mock provider",
			"0 failed, 1 warnings\n",
		}},
		// A bad key is named by its JSON field and index.
		{"bad next key", site(good + "\n\t\t\tprivate_key not-a-key"), 1, []string{
			"  FAIL  private_key: private_keys[0]: invalid configuration: private key: ",
		}},
		{"client_id from an unset variable", strings.Replace(site(good), "client_id     "+p.ClientID(), "client_id     {env.SGID_CHECK_TEST_UNSET}", 1), 1, []string{
			"  FAIL  settings: client_id: ",
		}},
		{"redis without sealing_key", site(good + "\n\t\t\tstore redis {\n\t\t\t\taddress redis.internal:6379\n\t\t\t}"), 0, []string{
			"  warn  sealing_key: not set while sessions live in a shared store (redis):",
			fmt.Sprintf("a secret of at least %d random bytes", confcheck.MinSealingKey),
		}},
		{"memory without sealing_key", site(good + "\n\t\t\tstore memory"), 0, []string{
			"  ok    sealing_key: not set; the memory store keeps its keys in this process only\n",
			"0 failed, 0 warnings\n",
		}},
		{"sealing_key from an unset variable", site(good + "\n\t\t\tsealing_key {env.SGID_CHECK_TEST_UNSET}"), 1, []string{
			"  FAIL  sealing_key: sealing_key: {env.SGID_CHECK_TEST_UNSET} resolved to an empty value",
		}},
		{"sealing_key too short", site(good + "\n\t\t\tsealing_key " + sealing[:confcheck.MinSealingKey-1]), 1, []string{
			fmt.Sprintf("  FAIL  sealing_key: %d bytes is too short; use at least %d random bytes\n", confcheck.MinSealingKey-1, confcheck.MinSealingKey),
		}},
		{"redirect URI from the Host header", site(strings.Replace(good, "redirect_uri https://app.example/api/redirect", "", 1)), 0, []string{
			"  warn  redirect_uri: not set: each login derives it from the request's Host header and scheme (+ " + DefaultCallbackPath + ")",
		}},
		{"redirect URI from the Host header and callback_path", site(strings.Replace(good, "redirect_uri https://app.example/api/redirect", "callback_path /api/sgid-callback", 1)), 0, []string{
			"  warn  redirect_uri: not set: each login derives it from the request's Host header and scheme (+ /api/sgid-callback)",
		}},
		{"no sgid handler", "http://app.example {\n\trespond ok\n}\n", 1, []string{
			"FAIL  config: ",
			"/Caddyfile has no sgid handler\n",
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
			if strings.Contains(out, p.ClientSecret()) || strings.Contains(out, sealing[:confcheck.MinSealingKey-1]) {
				t.Error("a secret was printed")
			}
			for _, line := range strings.Split(p.ClientPrivateKeyPEM(), "\n")[1:4] {
				if strings.Contains(out, line) {
					t.Errorf("private key text %.10s... was printed", line)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

// TestCheckLoadFails: a config that cannot be loaded is exit status 1
// with the reason, before any check runs.
func TestCheckLoadFails(t *testing.T) {
	dir := t.TempDir()
	existing, notJSON := filepath.Join(dir, "Caddyfile"), filepath.Join(dir, "caddy.json")
	for _, f := range []string{existing, notJSON} {
		if err := os.WriteFile(f, []byte("http://app.example {\n\trespond ok\n}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A client_id that is a number does not decode into the handler.
	badHandler := filepath.Join(dir, "bad-handler.json")
	if err := os.WriteFile(badHandler, []byte(`{"apps":{"http":{"servers":{"srv0":{"routes":[{"handle":[{"handler":"sgid","client_id":5}]}]}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, configFile, adapter, wantErr string
	}{
		{"missing file", filepath.Join(t.TempDir(), "Caddyfile"), "caddyfile", "no such file"},
		{"unknown adapter", existing, "no-such-adapter", "no-such-adapter"},
		{"not JSON", notJSON, "", "invalid character"},
		{"sgid handler that does not decode", badHandler, "", "server srv0: sgid handler: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			status, err := runCheck(context.Background(), &w, tc.configFile, tc.adapter, nil)
			if status != 1 || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("status %d, error %v; want 1 and an error containing %q", status, err, tc.wantErr)
			}
			if w.Len() != 0 {
				t.Errorf("printed %q", w.String())
			}
		})
	}
}
