package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestKeyRollover logs in through a running Caddy whose sgid block has two
// private_key lines, as during a key rollover: userinfo encrypted to either
// key decrypts, whichever line holds it. The steps run in order on one
// Caddy, each a reload: the second changes only the second key, so it also
// shows that such a change rebuilds the sgID client rather than keep the
// one built from the old keys.
func TestKeyRollover(t *testing.T) {
	e := newEnv(t, sgidtest.Options{}, "store memory")
	dir := t.TempDir()
	otherPEM := newKeyPEM(t)
	unusedPEM := newKeyPEM(t)
	registered := e.provider.ClientPrivateKeyPEM()
	secondFile := filepath.Join(dir, "second.pem")
	for i, tc := range []struct {
		name          string
		first, second string
		wantLogin     bool
	}{
		{"neither is the registered key", otherPEM, unusedPEM, false},
		{"the registered key second", otherPEM, registered, true},
		{"the registered key first", registered, otherPEM, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(e.keyFile, []byte(tc.first), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(secondFile, []byte(tc.second), 0o600); err != nil {
				t.Fatal(err)
			}
			e.extra = "store memory\n\t\tprivate_key {file." + secondFile + "}"
			e.load(strings.Repeat(" ", i+1))
			loc := newBrowser(t).Login("")
			if got := loc == "/logged-in"; got != tc.wantLogin {
				t.Errorf("login ended at %q; want a login: %v", loc, tc.wantLogin)
			}
		})
	}
}

// newKeyPEM makes an RSA key in PEM text that sgID was never told about.
func newKeyPEM(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}
