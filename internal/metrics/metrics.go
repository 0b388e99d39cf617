// Package metrics holds the sgid handler's Prometheus collectors, served
// with Caddy's own on the admin endpoint's /metrics and by the metrics
// handler. docs/operations.md lists them for dashboards.
//
// Caddy builds a new registry for every config it loads. The collectors are
// package-level and registered into each new registry, so their values
// carry over a reload instead of starting at zero; a series ends only with
// the process. Every one is labelled with the Caddy server ("server", the
// name Caddy's own caddy_http_* metrics use), so two sites never share a
// counter.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	loginsTotal = counter("logins_total",
		"sgID login callbacks by result: ok, or the reason of the failure.", "result")
	denialsTotal = counter("guard_denials_total",
		"Protected requests the sgid guard answered itself, by HTTP status.", "status")
	logoutsTotal = counter("logouts_total",
		"Sessions ended by the user at the logout route.")
	revocationsTotal = counter("revocations_total",
		"Sessions ended through the admin API.")
	evictionsTotal = counter("sessions_evicted_total",
		"Sessions dropped, oldest first, to stay within the memory store's max_entries.")
	idleExpiriesTotal = counter("idle_expiries_total",
		"Sessions ended by session_idle_timeout.")
	storeErrorsTotal = counter("store_errors_total",
		"Failed session store calls, by operation.", "operation")
	sessionsHeldGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: "sessions",
		Help: "Logged-in sessions held, where the store can count them cheaply (memory: exact).",
	}, []string{"server"})
	readyGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: "ready",
		Help: "1 when every sgid site of the server passed the last readiness check (GET /sgid/health on the admin API), else 0.",
	}, []string{"server"})
	// sessionsHeldCollector refreshes sessionsHeldGauge at each scrape.
	sessionsHeldCollector = &heldCollector{GaugeVec: sessionsHeldGauge}
	providerDuration      = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: "provider_request_duration_seconds",
		Help: "Time of sgID back-channel requests until the answer was read, by endpoint and outcome.",
		// sgID answers in tens to hundreds of milliseconds; the client
		// gives up after 10s.
		Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"server", "endpoint", "outcome"})
)

// heldCollector serves caddy_sgid_sessions: at each scrape it has refresh
// (set by the admin API, which knows the live handlers) set the gauge
// first.
type heldCollector struct {
	*prometheus.GaugeVec
	refresh func()
}

func (c *heldCollector) Collect(ch chan<- prometheus.Metric) {
	if c.refresh != nil {
		c.refresh()
	}
	c.GaugeVec.Collect(ch)
}

// SetHeldRefresh makes refresh run at each scrape of caddy_sgid_sessions,
// before the gauge is read, so that the gauge shows the sessions held now.
// Only the code that knows the live handlers can count them, so it hands
// the refresh in; it does so once, from an init function, before any
// scrape, which is why the field needs no lock.
func SetHeldRefresh(refresh func()) { sessionsHeldCollector.refresh = refresh }

// counter makes a caddy_sgid_ counter labelled by server and the labels
// given.
func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: name, Help: help,
	}, append([]string{"server"}, labels...))
}

var collectors = []prometheus.Collector{
	loginsTotal, denialsTotal, logoutsTotal, revocationsTotal, evictionsTotal,
	idleExpiriesTotal, storeErrorsTotal, sessionsHeldCollector, providerDuration, readyGauge,
}

// Metrics is the handler's handle on the collectors. Its methods take the
// site (the Caddy server's name; see Site) and do nothing on a nil
// receiver, so code that runs without Provision (unit tests) needs no
// metrics.
type Metrics struct{}

// Register registers the collectors into reg, the registry of the config
// being provisioned. Several sgid handlers in one config register the same
// collectors; the registry says so, and that is fine. A different
// collector under one of our names is a conflict, and an error.
func Register(reg prometheus.Registerer) (*Metrics, error) {
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) || are.ExistingCollector != c {
				return nil, err
			}
		}
	}
	return &Metrics{}, nil
}

// Site names the Caddy server that serves r, as Caddy's own metrics do.
func Site(r *http.Request) string { return SiteFromContext(r.Context()) }

// SiteFromContext names the Caddy server of ctx, a request's or the one
// Caddy provisions a handler with.
func SiteFromContext(ctx context.Context) string {
	if srv, ok := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server); ok && srv != nil && srv.Name() != "" {
		return srv.Name()
	}
	// Caddy always sets the server; a call from elsewhere (a test, or the
	// admin API on behalf of no particular site) is counted apart.
	return "unknown"
}

// Login counts a login callback by result: "ok" or the failure reason.
func (m *Metrics) Login(site, result string) {
	if m != nil {
		loginsTotal.WithLabelValues(site, result).Inc()
	}
}

// Denial counts a protected request the guard answered, by status.
func (m *Metrics) Denial(site, status string) {
	if m != nil {
		denialsTotal.WithLabelValues(site, status).Inc()
	}
}

// Logout counts a session ended at the logout route.
func (m *Metrics) Logout(site string) {
	if m != nil {
		logoutsTotal.WithLabelValues(site).Inc()
	}
}

// Revocation counts n sessions ended through the admin API. A DELETE that
// ended none leaves the site without a series, as if it never happened.
func (m *Metrics) Revocation(site string, n int) {
	if m != nil && n > 0 {
		revocationsTotal.WithLabelValues(site).Add(float64(n))
	}
}

// Evicted counts a session dropped to stay within the memory store's
// max_entries.
func (m *Metrics) Evicted(site string) {
	if m != nil {
		evictionsTotal.WithLabelValues(site).Inc()
	}
}

// IdleExpired counts a session ended by the idle timeout.
func (m *Metrics) IdleExpired(site string) {
	if m != nil {
		idleExpiriesTotal.WithLabelValues(site).Inc()
	}
}

// StoreError counts a failed store call; op is the operation, a fixed name
// such as "get" (never a key).
func (m *Metrics) StoreError(site, op string) {
	if m != nil {
		storeErrorsTotal.WithLabelValues(site, op).Inc()
	}
}

// SessionsHeld sets the number of sessions the site's store holds. A store
// that can count exactly and cheaply (memory) calls it; the others leave
// the series absent rather than guess.
func (m *Metrics) SessionsHeld(site string, n int) {
	if m != nil {
		sessionsHeldGauge.WithLabelValues(site).Set(float64(n))
	}
}

// ObserveProvider is the sgid client's observer (sgid.Config.Observe): it
// records a back-channel call under the site whose request made it. The
// client may be shared by several sites, so the site comes from the call's
// context, not from the client.
func ObserveProvider(ctx context.Context, endpoint, outcome string, d time.Duration) {
	providerDuration.WithLabelValues(SiteFromContext(ctx), endpoint, outcome).Observe(d.Seconds())
}

// SetReady sets the server's readiness gauge, at each health check.
func SetReady(site string, ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	readyGauge.WithLabelValues(site).Set(v)
}
