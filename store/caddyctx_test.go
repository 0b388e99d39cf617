package store

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// caddyCtx returns a bare Caddy context for modules whose Provision needs
// no storage; it is cancelled when the test ends.
func caddyCtx(t *testing.T) caddy.Context {
	t.Helper()
	c, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	return c
}
