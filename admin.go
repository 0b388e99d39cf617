package caddysgid

import (
	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/sites"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// live is every provisioned sgid handler's site, so that the admin API
// reaches the sessions of the running config and the metrics count what
// it does. The admin routes themselves (/sgid/sessions, /sgid/health) are
// described in internal/sites.
var live = new(sites.Registry)

// register adds h's site to live, once h is provisioned.
func register(h *Handler) {
	live.Register(sites.Site{Scope: h.scope, Server: h.site, Sessions: h.sessions, Provider: h.client.CheckDiscovery, Hooks: sites.Hooks{
		Revoked: h.metrics.Revocation,
		Held:    h.metrics.SessionsHeld,
		Ready:   h.metrics.SetReady,
	}})
}

// unregister takes h's site out of live, at cleanup.
func unregister(h *Handler) { live.Unregister(h.sessions) }

// adminAPI is the admin.api.sgid module. It holds nothing: the sessions
// are reached through the live handlers.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.sgid",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the /sgid/ routes, served by Caddy's own admin endpoint
// (the `admin` global option) and guarded by its settings: this plugin
// opens no endpoint of its own.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/sgid/", Handler: caddy.AdminHandlerFunc(live.ServeAdmin)}}
}

// Interface guard.
var _ caddy.AdminRouter = adminAPI{}
