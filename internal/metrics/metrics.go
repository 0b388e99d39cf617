// Package metrics holds the sgid handler's Prometheus collectors, served
// with Caddy's own on the admin endpoint's /metrics and by the metrics
// handler. docs/operations.md lists them for dashboards.
//
// A Metrics is one set of the collectors. Caddy builds a new registry for
// every config it loads; the handlers of the running configs share one
// Metrics (see Acquire), registered into each new registry, so its values
// carry over a reload instead of starting at zero. Every series is
// labelled with the Caddy server ("server", the name Caddy's own
// caddy_http_* metrics use), so two sites never share a counter.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is one set of sgid's collectors. Its methods take the site (the
// Caddy server's name; see Site) and do nothing on a nil or zero Metrics,
// so code that runs without Provision (unit tests) needs no metrics.
type Metrics struct {
	logins, denials, logouts, revocations *prometheus.CounterVec
	evictions, idleExpiries, storeErrors  *prometheus.CounterVec
	held                                  *heldCollector
	ready                                 *prometheus.GaugeVec
	provider                              *prometheus.HistogramVec
}

// New makes a set of the collectors, registered nowhere yet. refresh, when
// not nil, runs at each scrape of caddy_sgid_sessions, before the gauge is
// read, so that it shows the sessions held now: only the code that knows
// the live handlers can count them, so it hands the refresh in.
func New(refresh func()) *Metrics {
	return &Metrics{
		logins: counter("logins_total",
			"sgID login callbacks by result: ok, or the reason of the failure.", "result"),
		denials: counter("guard_denials_total",
			"Protected requests the sgid guard answered itself, by HTTP status.", "status"),
		logouts: counter("logouts_total",
			"Sessions ended by the user at the logout route."),
		revocations: counter("revocations_total",
			"Sessions ended through the admin API."),
		evictions: counter("sessions_evicted_total",
			"Sessions dropped, oldest first, to stay within the memory store's max_entries."),
		idleExpiries: counter("idle_expiries_total",
			"Sessions ended by session_idle_timeout."),
		storeErrors: counter("store_errors_total",
			"Failed session store calls, by operation.", "operation"),
		held: &heldCollector{refresh: refresh, GaugeVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "caddy", Subsystem: "sgid", Name: "sessions",
			Help: "Logged-in sessions held, where the store can count them cheaply (memory: exact).",
		}, []string{"server"})},
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "caddy", Subsystem: "sgid", Name: "ready",
			Help: "1 when every sgid site of the server passed the last readiness check (GET /sgid/health on the admin API), else 0.",
		}, []string{"server"}),
		provider: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "caddy", Subsystem: "sgid", Name: "provider_request_duration_seconds",
			Help: "Time of sgID back-channel requests until the answer was read, by endpoint and outcome.",
			// sgID answers in tens to hundreds of milliseconds; the client
			// gives up after 10s.
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"server", "endpoint", "outcome"}),
	}
}

// heldCollector serves caddy_sgid_sessions: at each scrape it has refresh
// set the gauge first. refresh is set when the collector is made and not
// changed after, so it needs no lock.
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

// counter makes a caddy_sgid_ counter labelled by server and the labels
// given.
func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: name, Help: help,
	}, append([]string{"server"}, labels...))
}

// collectors are m's collectors, as they are registered.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.logins, m.denials, m.logouts, m.revocations, m.evictions,
		m.idleExpiries, m.storeErrors, m.held, m.provider, m.ready,
	}
}

// off reports whether m counts nothing: nil, or the zero Metrics.
func (m *Metrics) off() bool { return m == nil || m.logins == nil }

// Register registers m's collectors into reg, the registry of the config
// being provisioned. Several sgid handlers in one config register the same
// collectors; the registry says so, and that is fine. A different
// collector under one of our names is a conflict, and an error.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) || are.ExistingCollector != c {
				return err
			}
		}
	}
	return nil
}

// running holds the Metrics of the running configs' handlers, one for the
// process: each handler takes a reference at Provision and gives it back
// at Cleanup. Caddy provisions a new config before it cleans up the old
// one, so during a reload the Metrics always has a holder and carries its
// values over; once no sgid handler is left it goes, and the next config
// starts at zero.
var running = caddy.NewUsagePool()

// runningKey is the one key of running.
const runningKey = "sgid.metrics"

// pooled is a Metrics in running, which a Metrics needs no destructing
// for.
type pooled struct{ *Metrics }

func (pooled) Destruct() error { return nil }

// Acquire returns the Metrics the running configs' sgid handlers share,
// made by New(refresh) if none is running (refresh goes with the Metrics
// first made; every handler of a process hands in the same), and
// registered into reg, the registry of the config being provisioned. The
// handler calls release at Cleanup, also after a failed Provision; release
// does its work once, however often it is called.
func Acquire(reg prometheus.Registerer, refresh func()) (m *Metrics, release func(), err error) {
	v, _, err := running.LoadOrNew(runningKey, func() (caddy.Destructor, error) {
		return pooled{New(refresh)}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	var once sync.Once
	release = func() { once.Do(func() { _, _ = running.Delete(runningKey) }) }
	m = v.(pooled).Metrics
	if err := m.Register(reg); err != nil {
		release()
		return nil, nil, err
	}
	return m, release, nil
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
	if !m.off() {
		m.logins.WithLabelValues(site, result).Inc()
	}
}

// Denial counts a protected request the guard answered, by status.
func (m *Metrics) Denial(site, status string) {
	if !m.off() {
		m.denials.WithLabelValues(site, status).Inc()
	}
}

// Logout counts a session ended at the logout route.
func (m *Metrics) Logout(site string) {
	if !m.off() {
		m.logouts.WithLabelValues(site).Inc()
	}
}

// Revocation counts n sessions ended through the admin API. A DELETE that
// ended none leaves the site without a series, as if it never happened.
func (m *Metrics) Revocation(site string, n int) {
	if !m.off() && n > 0 {
		m.revocations.WithLabelValues(site).Add(float64(n))
	}
}

// Evicted counts a session dropped to stay within the memory store's
// max_entries.
func (m *Metrics) Evicted(site string) {
	if !m.off() {
		m.evictions.WithLabelValues(site).Inc()
	}
}

// IdleExpired counts a session ended by the idle timeout.
func (m *Metrics) IdleExpired(site string) {
	if !m.off() {
		m.idleExpiries.WithLabelValues(site).Inc()
	}
}

// StoreError counts a failed store call; op is the operation, a fixed name
// such as "get" (never a key).
func (m *Metrics) StoreError(site, op string) {
	if !m.off() {
		m.storeErrors.WithLabelValues(site, op).Inc()
	}
}

// SessionsHeld sets the number of sessions the site's store holds. A store
// that can count exactly and cheaply (memory) calls it; the others leave
// the series absent rather than guess.
func (m *Metrics) SessionsHeld(site string, n int) {
	if !m.off() {
		m.held.WithLabelValues(site).Set(float64(n))
	}
}

// ObserveProvider is the sgid client's observer (sgid.Config.Observe): it
// records a back-channel call under the site whose request made it. The
// client may be shared by several sites, so the site comes from the call's
// context, not from the client.
func (m *Metrics) ObserveProvider(ctx context.Context, endpoint, outcome string, d time.Duration) {
	if !m.off() {
		m.provider.WithLabelValues(SiteFromContext(ctx), endpoint, outcome).Observe(d.Seconds())
	}
}

// SetReady sets the server's readiness gauge, at each health check.
func (m *Metrics) SetReady(site string, ready bool) {
	if m.off() {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	m.ready.WithLabelValues(site).Set(v)
}
