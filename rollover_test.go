package caddysgid

import (
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
	_, otherPEM := testKey(t)
	_, unusedPEM := testKey(t)
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
			loc := newBrowser(t).login("")
			if got := loc == "/logged-in"; got != tc.wantLogin {
				t.Errorf("login ended at %q; want a login: %v", loc, tc.wantLogin)
			}
		})
	}
}
