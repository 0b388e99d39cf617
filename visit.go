package caddysgid

import (
	"github.com/caddy-sgid/caddy-sgid/internal/identity"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// visit is what ServeHTTP learns of a request before it routes it, made
// once and handed to the route or the guard that answers it.
type visit struct {
	// opened is the live session the session cookie names, or nil.
	opened *session.Opened
	// view is what opened's requests carry (see identity.View); nil
	// with it.
	view *identity.View
	// storeErr is set when the store could not say whether there is a
	// session: nobody may then be told "logged out".
	storeErr error
	// crossOrigin marks a write another origin's page sent (see
	// internal/crossorigin): it acts for nobody, so opened is nil.
	crossOrigin bool
}
