package caddysgid

import (
	"slices"

	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
)

// spaConfig is the configuration of the routes a single-page app follows
// its session with (docs/spa.md): session_path and its extension, in the
// folder of auth_url_path sgid.js and the login window, and, only when
// scopes ask for officer details, profiles_path (docs/officers.md).
// ServeHTTP serves them before it looks the session up, since each looks
// it up as it needs: the session route without counting as a use.
func spaConfig(c sparoutes.Config, scopes []string) sparoutes.Config {
	if !slices.Contains(scopes, officer.Scope) {
		c.ProfilesPath = ""
	}
	return c
}
