package caddysgid

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestKeyErrorNamesSettingOnce: a bad private_key fails provisioning with
// sgid's own explanation, the Caddy setting to fix, and one "sgid:" prefix.
func TestKeyErrorNamesSettingOnce(t *testing.T) {
	for key, want := range map[string]string{
		"/etc/caddy/sgid.pem": "this looks like a file path: use {file./path}",
		"":                    "the private key is empty",
	} {
		var h Handler
		raw, _ := json.Marshal(map[string]any{"client_id": "id", "client_secret": "secret", "private_key": key})
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		err := h.Provision(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "private_key") {
			t.Errorf("private_key %q: err = %v, want it to say %q and name private_key", key, err, want)
			continue
		}
		if n := strings.Count(err.Error(), "sgid:"); n != 1 {
			t.Errorf("private_key %q: %q says sgid: %d times", key, err, n)
		}
	}
}
