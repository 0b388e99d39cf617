package caddysgid

import (
	"net/http"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
)

// newSPARoutes sets up the routes a single-page app follows its session
// with (docs/spa.md): session_path and its extension, and, in the folder
// of auth_url_path, sgid.js and the login window. ServeHTTP serves them
// before it looks the session up, since each looks it up as it needs:
// the session route without counting as a use. sameOrigin is the
// handler's origin policy for writes.
func newSPARoutes(authURLPath, logoutPath, sessionPath string, m *session.Manager, sameOrigin func(*http.Request) bool) *sparoutes.Routes {
	return sparoutes.New(sparoutes.Config{
		AuthURLPath: authURLPath,
		LogoutPath:  logoutPath,
		SessionPath: sessionPath,
		Sessions:    m,
		SameOrigin:  sameOrigin,
	})
}
