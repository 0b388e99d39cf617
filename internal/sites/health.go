package sites

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

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
func (r *Registry) serveHealth(w http.ResponseWriter, req *http.Request) error {
	if req.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method not allowed: %s", req.Method)}
	}
	ctx, cancel := context.WithTimeout(req.Context(), healthTimeout)
	defer cancel()
	answer := r.checkHealth(ctx, r.groups())
	status := http.StatusOK
	if answer.Status != healthOK {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(answer)
}

// checkHealth checks every site of groups at once, within ctx, and tells
// each server whether every site it serves is ready, through the
// Hooks.Ready of the newest site of a group the server serves.
func (r *Registry) checkHealth(ctx context.Context, groups []*group) healthAnswer {
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
	tell := map[string]func(string, bool){}
	for i, g := range groups {
		answer.Sites[siteName(g, answer.Sites)] = results[i]
		ok := results[i].Status == healthOK
		if !ok {
			answer.Status = healthUnavailable
		}
		for _, srv := range g.servers {
			prev, seen := ready[srv]
			ready[srv] = ok && (prev || !seen)
			if hook := g.newest().Hooks.Ready; hook != nil {
				tell[srv] = hook
			}
		}
	}
	for srv, hook := range tell {
		hook(srv, ready[srv])
	}
	return answer
}

// siteName names a site by its servers. Two sites served by the same
// servers (two sgid handlers with different cookies) are told apart by
// the start of their scope, the name /sgid/sessions gives them too.
func siteName(g *group, taken map[string]siteHealth) string {
	name := strings.Join(g.servers, ",")
	if _, dup := taken[name]; dup {
		name += "/" + g.scope[:min(12, len(g.scope))]
	}
	return name
}

// checkSite runs the checks of one site at once and waits for each until
// ctx ends.
func checkSite(ctx context.Context, s Site) siteHealth {
	checks := map[string]func(context.Context) error{
		"store": func(ctx context.Context) error { return s.Sessions.Check(ctx, session.CheckStore) },
		"keys":  func(ctx context.Context) error { return s.Sessions.Check(ctx, session.CheckKeys) },
		"provider": func(ctx context.Context) error {
			if s.Provider == nil {
				return errors.New("no sgID client")
			}
			return s.Provider(ctx, discoveryMaxAge)
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
