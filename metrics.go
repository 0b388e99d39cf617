package caddysgid

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the handler's Prometheus counters, served with Caddy's own
// on the admin endpoint's /metrics (and by the metrics handler):
//
//	caddy_sgid_logins_total{result}        callbacks by result: "ok" or the
//	                                       failure reason (see handler.go)
//	caddy_sgid_guard_denials_total{status} protected requests answered 401,
//	                                       302 (to the login page) or 403
//
// Caddy makes a new registry for every config it loads, so they are
// registered on every Provision; several sgid handlers in one config share
// them.
type metrics struct {
	logins  *prometheus.CounterVec
	denials *prometheus.CounterVec
	// storeErrors counts failed session-store calls by operation.
	storeErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	logins, err := registerCounter(reg, prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: "logins_total",
		Help: "sgID login callbacks by result: ok, or the reason of the failure.",
	}, "result")
	if err != nil {
		return nil, err
	}
	denials, err := registerCounter(reg, prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: "guard_denials_total",
		Help: "Protected requests the sgid guard answered itself, by HTTP status.",
	}, "status")
	if err != nil {
		return nil, err
	}
	storeErrors, err := registerCounter(reg, prometheus.CounterOpts{
		Namespace: "caddy", Subsystem: "sgid", Name: "store_errors_total",
		Help: "Failed calls to the sgid session store, by operation.",
	}, "operation")
	if err != nil {
		return nil, err
	}
	return &metrics{logins: logins, denials: denials, storeErrors: storeErrors}, nil
}

// registerCounter registers a counter, or returns the one another sgid
// handler of the same config registered already.
func registerCounter(reg prometheus.Registerer, opts prometheus.CounterOpts, label string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(opts, []string{label})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}

func (m *metrics) login(result string) {
	if m != nil {
		m.logins.WithLabelValues(result).Inc()
	}
}

func (m *metrics) denial(status string) {
	if m != nil {
		m.denials.WithLabelValues(status).Inc()
	}
}

// storeError counts a failed call to the session store by operation.
func (m *metrics) storeError(op string) {
	if m != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}
