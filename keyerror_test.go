package caddysgid

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestKeyErrorNamesSetting: a bad private_key fails provisioning with
// sgid's own explanation and the Caddy setting to fix, and without an
// "sgid:" of its own (Caddy names the module).
func TestKeyErrorNamesSetting(t *testing.T) {
	for _, tc := range []struct {
		key, want string
	}{
		{"/etc/caddy/sgid.pem", "this looks like a file path: use {file./path}"},
		{"", "the private key is empty"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var h Handler
			raw, _ := json.Marshal(map[string]any{"client_id": "id", "client_secret": "secret", "private_key": tc.key})
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			err := h.Provision(ctx)
			cancel()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "private_key") {
				t.Fatalf("private_key %q: err = %v, want it to begin with private_key and say %q", tc.key, err, tc.want)
			}
			if strings.Contains(err.Error(), "sgid:") {
				t.Errorf("private_key %q: %q repeats sgid:", tc.key, err)
			}
		})
	}
}
