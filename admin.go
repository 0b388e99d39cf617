package caddysgid

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

func init() {
	caddy.RegisterModule(adminAPI{})
	sessionsHeldCollector.refresh = refreshHeld
}

// The admin API's /sgid/ routes, served by Caddy's own admin endpoint (the
// `admin` global option; localhost:2019 by default) and guarded by its
// settings: this plugin opens no endpoint of its own.
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

// live is every provisioned sgid handler, so that the admin API reaches
// the sessions of the running config. A reload provisions the new config
// before it cleans up the old one, so for a while both are here; calls
// group handlers by scope and act through the newest.
var live struct {
	mu       sync.Mutex
	seq      uint64
	handlers map[*Handler]uint64 // the order of provisioning
}

func register(h *Handler) {
	live.mu.Lock()
	defer live.mu.Unlock()
	if live.handlers == nil {
		live.handlers = make(map[*Handler]uint64)
	}
	live.seq++
	live.handlers[h] = live.seq
}

func unregister(h *Handler) {
	live.mu.Lock()
	delete(live.handlers, h)
	live.mu.Unlock()
}

// scopePeers are the session managers of the other live handlers of h's
// scope (an older config during a reload, another site with the same
// client), so that a revocation through h also drops their cached copies.
func scopePeers(h *Handler) []*session.Manager {
	live.mu.Lock()
	defer live.mu.Unlock()
	var out []*session.Manager
	for other := range live.handlers {
		if other != h && other.scope == h.scope && other.sessions != nil {
			out = append(out, other.sessions)
		}
	}
	return out
}

// siteGroup is the live handlers of one scope: the sessions of one sgID
// client and cookie, whichever servers serve them.
type siteGroup struct {
	scope    string
	servers  []string
	handlers []*Handler // oldest first; the last is the one to act through
}

func (g *siteGroup) newest() *Handler { return g.handlers[len(g.handlers)-1] }

// peers are the session managers of the group's handlers other than the
// newest.
func (g *siteGroup) peers() []*session.Manager {
	out := make([]*session.Manager, 0, len(g.handlers)-1)
	for _, h := range g.handlers[:len(g.handlers)-1] {
		out = append(out, h.sessions)
	}
	return out
}

// siteGroups returns the live handlers grouped by scope, in scope order.
func siteGroups() []*siteGroup {
	live.mu.Lock()
	type entry struct {
		h   *Handler
		seq uint64
	}
	all := make([]entry, 0, len(live.handlers))
	for h, seq := range live.handlers {
		all = append(all, entry{h, seq})
	}
	live.mu.Unlock()
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	byScope := map[string]*siteGroup{}
	for _, e := range all {
		scope := e.h.scope
		g := byScope[scope]
		if g == nil {
			g = &siteGroup{scope: scope}
			byScope[scope] = g
		}
		g.handlers = append(g.handlers, e.h)
		if !slices.Contains(g.servers, e.h.site) {
			g.servers = append(g.servers, e.h.site)
		}
	}
	out := make([]*siteGroup, 0, len(byScope))
	for _, g := range byScope {
		slices.Sort(g.servers)
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *siteGroup) int { return cmp.Compare(a.scope, b.scope) })
	return out
}

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

// Routes returns the /sgid/ routes.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/sgid/", Handler: caddy.AdminHandlerFunc(serveAdmin)}}
}

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

func serveAdmin(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Path == "/sgid/health" {
		return serveHealth(w, r)
	}
	if r.URL.Path != "/sgid/sessions" {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("resource not found: %s", r.URL.Path)}
	}
	ctx, cancel := context.WithTimeout(r.Context(), adminTimeout)
	defer cancel()
	switch r.Method {
	case http.MethodGet:
		return adminCount(ctx, w)
	case http.MethodDelete:
		return adminRevoke(ctx, w, r)
	}
	w.Header().Set("Allow", "GET, DELETE")
	return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed: %s", r.Method)}
}

func adminCount(ctx context.Context, w http.ResponseWriter) error {
	out := struct {
		Sites []siteSessions `json:"sites"`
	}{Sites: []siteSessions{}}
	for _, g := range siteGroups() {
		n, exact, err := g.newest().sessions.Count(ctx)
		if err != nil {
			return storeAPIError(g, "counting", err)
		}
		out.Sites = append(out.Sites, siteSessions{Scope: g.scope, Servers: g.servers, Sessions: &n, Exact: &exact})
	}
	return writeAdminJSON(w, out)
}

func adminRevoke(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	sub, confirm := q.Get("sub"), q.Get("confirm")
	var revoke func(*session.Manager, []*session.Manager) (int, error)
	switch {
	case q.Has("sub") && q.Has("confirm"):
		return badAdminRequest("give either sub or confirm, not both")
	case q.Has("sub"):
		if sub == "" || len(sub) > maxSubLen {
			return badAdminRequest(fmt.Sprintf("sub must be 1 to %d bytes", maxSubLen))
		}
		revoke = func(m *session.Manager, peers []*session.Manager) (int, error) {
			return m.RevokeSub(ctx, sub, peers...)
		}
	case confirm == confirmAll:
		revoke = func(m *session.Manager, peers []*session.Manager) (int, error) { return m.RevokeAll(ctx, peers...) }
	default:
		return badAdminRequest("give sub=<sub> to end a user's sessions, or confirm=" + confirmAll + " to end every session")
	}
	out := struct {
		Ended int            `json:"ended"`
		Sites []siteSessions `json:"sites"`
	}{Sites: []siteSessions{}}
	for _, g := range siteGroups() {
		h := g.newest()
		n, err := revoke(h.sessions, g.peers())
		// Sessions shared by several servers (the same client_id, host
		// and cookie_name) are counted once, under the first name.
		h.metrics.revocation(g.servers[0], n)
		if err != nil {
			return storeAPIError(g, "ending sessions", err)
		}
		out.Ended += n
		out.Sites = append(out.Sites, siteSessions{Scope: g.scope, Servers: g.servers, Ended: &n})
	}
	return writeAdminJSON(w, out)
}

func badAdminRequest(msg string) error {
	return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: errors.New(msg)}
}

// storeAPIError reports a store that failed during an admin call, naming
// the servers (the error carries no key and no sub: set names are keyed
// hashes).
func storeAPIError(g *siteGroup, what string, err error) error {
	return caddy.APIError{HTTPStatus: http.StatusServiceUnavailable, Err: fmt.Errorf("%s in the session store of %v: %v", what, g.servers, err)}
}

func writeAdminJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// refreshHeld sets the caddy_sgid_sessions gauge of every live handler
// whose store counts its sessions exactly and cheaply (memory), and leaves
// the series of other stores absent rather than guess.
func refreshHeld() {
	for _, g := range siteGroups() {
		h := g.newest()
		if h.sessions.CountsExactly() {
			n, _, _ := h.sessions.Count(context.Background())
			h.metrics.sessionsHeld(h.site, n)
		}
	}
}

// The admin API's readiness route, GET /sgid/health: for every live sgid
// site, whether its session store answers, its keys load and sgID's
// discovery document was fetched lately. A load balancer or orchestrator
// polls it to take an instance out of rotation that cannot log anyone in.

// healthTimeout bounds one health call, all sites and checks together; a
// check that has not answered by then is reported as timed out.
const healthTimeout = 10 * time.Second

// discoveryMaxAge is how long a successful fetch of sgID's discovery
// document keeps the provider check passing without a new fetch, so that
// frequent probes cost sgID a request every few minutes at most.
const discoveryMaxAge = 5 * time.Minute

// maxReason bounds the reason a failed check gives.
const maxReason = 200

// Statuses of the health answer, of the whole and of each site.
const (
	healthOK          = "ok"
	healthUnavailable = "unavailable"
)

// healthAnswer is the answer of GET /sgid/health. It names servers and
// checks, never a user, a key or a secret.
type healthAnswer struct {
	Status string                `json:"status"`
	Sites  map[string]siteHealth `json:"sites"`
}

// siteHealth is the readiness of one site: the sessions of one sgID client
// and cookie, whichever servers serve them.
type siteHealth struct {
	Status string `json:"status"`
	// Checks maps "store", "keys" and "provider" to "ok" or "failed: " and
	// a short reason.
	Checks map[string]string `json:"checks"`
}

// serveHealth answers GET /sgid/health: 200 when every site is ready, 503
// otherwise, with the same JSON either way.
func serveHealth(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed: %s", r.Method)}
	}
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	answer := checkHealth(ctx, siteGroups())
	status := http.StatusOK
	if answer.Status != healthOK {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(answer)
}

// checkHealth checks every site of groups at once, within ctx, and sets
// each server's caddy_sgid_ready gauge: 1 when every site it serves is
// ready.
func checkHealth(ctx context.Context, groups []*siteGroup) healthAnswer {
	results := make([]siteHealth, len(groups))
	done := make(chan struct{})
	for i, g := range groups {
		go func() {
			results[i] = checkSite(ctx, g.newest())
			done <- struct{}{}
		}()
	}
	for range groups {
		<-done
	}
	answer := healthAnswer{Status: healthOK, Sites: make(map[string]siteHealth, len(groups))}
	ready := map[string]bool{}
	for i, g := range groups {
		answer.Sites[siteName(g, answer.Sites)] = results[i]
		ok := results[i].Status == healthOK
		if !ok {
			answer.Status = healthUnavailable
		}
		for _, srv := range g.servers {
			prev, seen := ready[srv]
			ready[srv] = ok && (prev || !seen)
		}
	}
	for srv, ok := range ready {
		setReady(srv, ok)
	}
	return answer
}

// siteName names a site by its servers. Two sites served by the same
// servers (two sgid handlers with different cookies) are told apart by
// the start of their scope, the name /sgid/sessions gives them too.
func siteName(g *siteGroup, taken map[string]siteHealth) string {
	name := strings.Join(g.servers, ",")
	if _, dup := taken[name]; dup {
		name += "/" + g.scope[:min(12, len(g.scope))]
	}
	return name
}

// checkSite runs the checks of one site at once and waits for each until
// ctx ends.
func checkSite(ctx context.Context, h *Handler) siteHealth {
	checks := map[string]func(context.Context) error{
		"store": h.sessions.Probe,
		"keys":  h.sessions.CheckKeys,
		"provider": func(ctx context.Context) error {
			if h.client == nil {
				return errors.New("no sgID client")
			}
			return h.client.CheckDiscovery(ctx, discoveryMaxAge)
		},
	}
	type result struct {
		name string
		err  error
	}
	// Buffered, so that a check still running when ctx ends finishes
	// without a reader.
	results := make(chan result, len(checks))
	for name, check := range checks {
		go func() { results <- result{name, check(ctx)} }()
	}
	out := siteHealth{Status: healthOK, Checks: make(map[string]string, len(checks))}
	for range checks {
		select {
		case r := <-results:
			out.Checks[r.name] = checkOutcome(ctx, r.err)
		case <-ctx.Done():
		}
	}
	for name := range checks {
		if _, answered := out.Checks[name]; !answered {
			out.Checks[name] = "failed: timed out"
		}
	}
	for _, c := range out.Checks {
		if c != healthOK {
			out.Status = healthUnavailable
		}
	}
	return out
}

// checkOutcome is "ok", or "failed: " and a short, one-line reason. The
// errors of the store, the keyring and the sgID client carry no key, no
// value and no secret; the reason is cut short all the same.
func checkOutcome(ctx context.Context, err error) string {
	if err == nil {
		return healthOK
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return "failed: timed out"
	}
	reason := strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "sgid: ")), " ")
	if len(reason) > maxReason {
		cut := maxReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut] + "..."
	}
	return "failed: " + reason
}

// Interface guard.
var _ caddy.AdminRouter = adminAPI{}
