// Package sites keeps the registry of the live sgid sites of the process
// and answers the admin API's calls about them: counting and ending
// sessions (GET and DELETE /sgid/sessions) and readiness (GET
// /sgid/health).
//
// A site is what one provisioned sgid handler brings: its session scope,
// the Caddy server that serves it, its session manager, a check of its
// sgID client and the hooks of its metrics. The handler registers its site when provisioned and takes
// it back at cleanup; nothing here knows the handler itself.
package sites

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// Site is what the admin API needs of one live sgid handler.
type Site struct {
	// Scope names the site's records in the store: sites of one scope
	// share their sessions.
	Scope string
	// Server is the name of the Caddy server that serves the site.
	Server string
	// Sessions is the site's session manager, which also tells sites apart
	// in the registry: each handler builds its own.
	Sessions *session.Manager
	// Provider checks that sgID's discovery document was fetched within
	// maxAge, fetching it again when not. A site without one fails the
	// provider check.
	Provider func(ctx context.Context, maxAge time.Duration) error
	// Hooks are told what the registry's calls did through this site, for
	// its handler's metrics.
	Hooks Hooks
}

// Hooks are told what the registry's calls did, for a site's metrics. A
// call acts through the newest site of a scope, and tells that site's
// hooks. Any of them may be nil.
type Hooks struct {
	// Revoked is told of the sessions one DELETE ended in a scope, under
	// the first of the scope's servers.
	Revoked func(server string, n int)
	// Held is told, at each RefreshHeld, of the sessions held by a site
	// whose store counts them exactly and cheaply.
	Held func(server string, n int)
	// Ready is told, at each health check, whether every site the server
	// serves is ready.
	Ready func(server string, ready bool)
}

// Registry is the live sites of the process. A config reload provisions
// the new config before it cleans up the old one, so for a while both are
// registered; calls group the sites by scope and act through the newest.
// The zero Registry is empty and ready; it is safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	seq   uint64
	sites map[*session.Manager]entry
}

// entry is a registered site and its place in the order of registration.
type entry struct {
	site Site
	seq  uint64
}

// Register adds s to the registry until Unregister is given its session
// manager. A site without a session manager has no sessions to count or
// end, and is not added.
func (r *Registry) Register(s Site) {
	if s.Sessions == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sites == nil {
		r.sites = make(map[*session.Manager]entry)
	}
	r.seq++
	r.sites[s.Sessions] = entry{s, r.seq}
}

// Unregister takes out the site of the session manager m, if registered.
func (r *Registry) Unregister(m *session.Manager) {
	r.mu.Lock()
	delete(r.sites, m)
	r.mu.Unlock()
}

// group is the live sites of one scope: the sessions of one sgID client
// and cookie, whichever servers serve them.
type group struct {
	scope   string
	servers []string
	sites   []Site // oldest first; the last is the one to act through
}

func (g *group) newest() Site { return g.sites[len(g.sites)-1] }

// groups returns the live sites grouped by scope, in scope order, each
// group's sites in the order they were registered and its servers sorted.
func (r *Registry) groups() []*group {
	r.mu.Lock()
	all := make([]entry, 0, len(r.sites))
	for _, e := range r.sites {
		all = append(all, e)
	}
	r.mu.Unlock()
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	byScope := map[string]*group{}
	for _, e := range all {
		g := byScope[e.site.Scope]
		if g == nil {
			g = &group{scope: e.site.Scope}
			byScope[e.site.Scope] = g
		}
		g.sites = append(g.sites, e.site)
		if !slices.Contains(g.servers, e.site.Server) {
			g.servers = append(g.servers, e.site.Server)
		}
	}
	out := make([]*group, 0, len(byScope))
	for _, g := range byScope {
		slices.Sort(g.servers)
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *group) int { return cmp.Compare(a.scope, b.scope) })
	return out
}

// RefreshHeld tells the Hooks.Held of each scope's newest site the
// sessions of the scope, under that site's server, when its store counts
// them exactly and cheaply (memory), and nothing of the other stores
// rather than guess.
func (r *Registry) RefreshHeld() {
	for _, g := range r.groups() {
		s := g.newest()
		if s.Hooks.Held == nil {
			continue
		}
		if n, exact, _ := s.Sessions.Count(context.Background(), false); exact {
			s.Hooks.Held(s.Server, n)
		}
	}
}
