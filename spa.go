package caddysgid

import "github.com/caddy-sgid/caddy-sgid/internal/sparoutes"

// provisionSPA sets up the routes a single-page app follows its session
// with (docs/spa.md): session_path and its extension, and, in the folder
// of auth_url_path, sgid.js and the login window. ServeHTTP serves them
// before it looks the session up, since each looks it up as it needs:
// the session route without counting as a use.
func (h *Handler) provisionSPA() {
	h.spa = sparoutes.New(sparoutes.Config{
		AuthURLPath: h.AuthURLPath,
		LogoutPath:  h.LogoutPath,
		SessionPath: h.SessionPath,
		Sessions:    h.sessions,
		SameOrigin:  h.origins.sameOrigin,
	})
}
