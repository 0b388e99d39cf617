package caddysgid

import (
	"slices"

	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
)

// spaConfig is the configuration of the routes a single-page app follows
// its session with (docs/spa.md): session_path and its extension, in the
// folder of auth_url_path sgid.js and the login window, and, when the
// scopes ask for officer details, profiles_path (docs/officers.md).
// ServeHTTP serves them before it looks the session up, since each looks
// it up as it needs: the session route without counting as a use.
func spaConfig(h *Handler) sparoutes.Config {
	c := sparoutes.Config{
		AuthURLPath: h.AuthURLPath,
		LogoutPath:  h.LogoutPath,
		SessionPath: h.SessionPath,
		Sessions:    h.sessions,
		SameOrigin:  h.origins.SameOrigin,
		KeepFields:  h.KeepFields,
	}
	if slices.Contains(h.Scopes, officer.Scope) {
		c.ProfilesPath = h.ProfilesPath
	}
	return c
}
