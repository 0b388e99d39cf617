package caddysgid

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestMockRefusesRealSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		field string
		value any
	}{
		{"client_id", "x"}, {"client_secret", "x"}, {"private_key", "x"}, {"private_keys", []string{"x"}}, {"host", "x"},
	} {
		field := tc.field
		h := Handler{Mock: true}
		raw, _ := json.Marshal(map[string]any{"mock": true, field: tc.value})
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
		err := h.Provision(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "mock: cannot be combined with "+field) {
			t.Errorf("mock + %s: err = %v", field, err)
		}
	}
}
