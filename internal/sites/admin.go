package sites

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// The admin API's /sgid/ routes, served by Caddy's own admin endpoint (the
// `admin` global option; localhost:2019 by default) and guarded by its
// settings: the plugin opens no endpoint of its own.
//
//	GET    /sgid/sessions                       sessions per site
//	DELETE /sgid/sessions?sub=<sub>             end every session of a user
//	DELETE /sgid/sessions?confirm=all-sessions  end every session
//	GET    /sgid/health                         readiness per site (see health.go)

// confirmAll is the value of `confirm` that DELETE needs to end every
// session, so that a DELETE missing its `sub` ends nothing.
const confirmAll = "all-sessions"

// maxSubLen bounds the sub an admin call may give; sgID's are far shorter.
const maxSubLen = 256

// adminTimeout bounds one admin call's store work.
const adminTimeout = time.Minute

// siteSessions is one scope in an admin answer. It names servers and a
// scope hash (the name of the records' folder or key prefix in the store),
// never a user.
type siteSessions struct {
	Scope   string   `json:"scope"`
	Servers []string `json:"servers"`
	// Sessions is the count for GET; Exact tells whether it is exact
	// (memory) or the live entries of the session index (storage, redis).
	Sessions *int  `json:"sessions,omitempty"`
	Exact    *bool `json:"exact,omitempty"`
	// Ended is the count for DELETE.
	Ended *int `json:"ended,omitempty"`
}

// ServeAdmin serves the admin API's /sgid/ routes, as a
// caddy.AdminHandlerFunc: the errors it returns are caddy.APIErrors, which
// Caddy's admin endpoint writes out with their status.
func (r *Registry) ServeAdmin(w http.ResponseWriter, req *http.Request) error {
	if req.URL.Path == "/sgid/health" {
		return r.serveHealth(w, req)
	}
	if req.URL.Path != "/sgid/sessions" {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("resource not found: %s", req.URL.Path)}
	}
	ctx, cancel := context.WithTimeout(req.Context(), adminTimeout)
	defer cancel()
	switch req.Method {
	case http.MethodGet:
		return r.count(ctx, w)
	case http.MethodDelete:
		return r.revoke(ctx, w, req)
	}
	w.Header().Set("Allow", "GET, DELETE")
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed: %s", req.Method)}
}

// count answers GET /sgid/sessions: the sessions of every scope, counted
// through its newest site.
func (r *Registry) count(ctx context.Context, w http.ResponseWriter) error {
	out := struct {
		Sites []siteSessions `json:"sites"`
	}{Sites: []siteSessions{}}
	for _, g := range r.groups() {
		n, exact, err := g.newest().Sessions.Count(ctx, true)
		if err != nil {
			return storeAPIError(g, "counting", err)
		}
		out.Sites = append(out.Sites, siteSessions{Scope: g.scope, Servers: g.servers, Sessions: &n, Exact: &exact})
	}
	return writeJSON(w, out)
}

// revoke answers DELETE /sgid/sessions: it ends the sessions of one user,
// or with the confirmation every session, in every scope.
func (r *Registry) revoke(ctx context.Context, w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	sub, confirm := q.Get("sub"), q.Get("confirm")
	var target session.Target
	switch {
	case q.Has("sub") && q.Has("confirm"):
		return badRequest("give either sub or confirm, not both")
	case q.Has("sub"):
		if sub == "" || len(sub) > maxSubLen {
			return badRequest(fmt.Sprintf("sub must be 1 to %d bytes", maxSubLen))
		}
		target = session.UserSessions(sub)
	case confirm == confirmAll:
		target = session.AllSessions()
	default:
		return badRequest("give sub=<sub> to end a user's sessions, or confirm=" + confirmAll + " to end every session")
	}
	out := struct {
		Ended int            `json:"ended"`
		Sites []siteSessions `json:"sites"`
	}{Sites: []siteSessions{}}
	for _, g := range r.groups() {
		n, err := g.newest().Sessions.Revoke(ctx, target)
		// Sessions shared by several servers (the same client_id, host
		// and cookie_name) are counted once, under the first name.
		if revoked := g.newest().Hooks.Revoked; revoked != nil {
			revoked(g.servers[0], n)
		}
		if err != nil {
			return storeAPIError(g, "ending sessions", err)
		}
		out.Ended += n
		out.Sites = append(out.Sites, siteSessions{Scope: g.scope, Servers: g.servers, Ended: &n})
	}
	return writeJSON(w, out)
}

func badRequest(msg string) error {
	return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New(msg)}
}

// storeAPIError reports a store that failed during an admin call, naming
// the servers (the error carries no key and no sub: set names are keyed
// hashes).
func storeAPIError(g *group, what string, err error) error {
	return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("%s in the session store of %v: %w", what, g.servers, err)}
}

func writeJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}
