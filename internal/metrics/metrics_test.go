package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// series finds the sample of name with exactly the label pairs given
// (name, value, name, value...) in what g gathers; ok is false when the
// series is absent, which a value of 0 could not tell.
func series(t *testing.T, g prometheus.Gatherer, name string, labels ...string) (m *dto.Metric, ok bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, s := range mf.GetMetric() {
			if len(s.GetLabel()) != len(want) {
				continue
			}
			for _, lp := range s.GetLabel() {
				if v, ok := want[lp.GetName()]; !ok || v != lp.GetValue() {
					continue next
				}
			}
			return s, true
		}
	}
	return nil, false
}

// value is a counter's or gauge's value, or a histogram's sample count;
// an absent series fails the test.
func value(t *testing.T, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	s, ok := series(t, g, name, labels...)
	if !ok {
		t.Fatalf("%s%v is absent", name, labels)
	}
	switch {
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	case s.Histogram != nil:
		return float64(s.GetHistogram().GetSampleCount())
	}
	t.Fatalf("%s%v has no value", name, labels)
	return 0
}

// registry is a new registry with the collectors in, as Caddy's next
// config load would have.
func registry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if _, err := Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRegister: a second handler in the same config registers the same
// collectors without error; a collector that is not ours under one of our
// names is a conflict to report, not to paper over, even when it is built
// exactly like ours.
func TestRegister(t *testing.T) {
	foreign := func() prometheus.Collector {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "caddy", Subsystem: "sgid", Name: "logins_total",
			Help: "sgID login callbacks by result: ok, or the reason of the failure.",
		}, []string{"server", "result"})
	}
	for _, c := range []struct {
		name    string
		before  func(reg *prometheus.Registry)
		wantErr bool
	}{
		{"a new registry", func(*prometheus.Registry) {}, false},
		{"the same registry again", func(reg *prometheus.Registry) { _, _ = Register(reg) }, false},
		{"a same-shaped collector that is not ours", func(reg *prometheus.Registry) { reg.MustRegister(foreign()) }, true},
		{"another collector under our name", func(reg *prometheus.Registry) {
			reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_sgid_logins_total", Help: "other"}, []string{"x"}))
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			c.before(reg)
			m, err := Register(reg)
			if (err != nil) != c.wantErr {
				t.Fatalf("Register: %v, want error %v", err, c.wantErr)
			}
			if err == nil && m == nil {
				t.Fatal("Register gave no metrics and no error")
			}
		})
	}
}

// TestCountsCarryOverToANewRegistry: Caddy gives every config load a new
// registry; what was counted before is in the new one.
func TestCountsCarryOverToANewRegistry(t *testing.T) {
	site := "unit-" + t.Name()
	m, err := Register(prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	m.Login(site, "ok")
	m.Login(site, "ok")
	m.Login(site, "state_mismatch")
	m.Logout(site)
	m.Revocation(site, 3)
	m.Evicted(site)
	m.IdleExpired(site)
	m.IdleExpired(site)
	m.StoreError(site, "put")
	m.SessionsHeld(site, 7)
	m.Denial(site, "401")
	SetReady(site, true)
	ObserveProvider(context.Background(), "token", "ok", time.Second)

	reloaded := registry(t)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"caddy_sgid_logins_total", []string{"server", site, "result", "ok"}, 2},
		{"caddy_sgid_logins_total", []string{"server", site, "result", "state_mismatch"}, 1},
		{"caddy_sgid_logouts_total", []string{"server", site}, 1},
		{"caddy_sgid_revocations_total", []string{"server", site}, 3},
		{"caddy_sgid_sessions_evicted_total", []string{"server", site}, 1},
		{"caddy_sgid_idle_expiries_total", []string{"server", site}, 2},
		{"caddy_sgid_store_errors_total", []string{"server", site, "operation", "put"}, 1},
		{"caddy_sgid_sessions", []string{"server", site}, 7},
		{"caddy_sgid_guard_denials_total", []string{"server", site, "status", "401"}, 1},
		{"caddy_sgid_ready", []string{"server", site}, 1},
	} {
		t.Run(c.name+strings.Join(c.labels, ","), func(t *testing.T) {
			if v := value(t, reloaded, c.name, c.labels...); v != c.want {
				t.Errorf("%v in the new registry, want %v", v, c.want)
			}
		})
	}
	t.Run("provider duration", func(t *testing.T) {
		if v := value(t, reloaded, "caddy_sgid_provider_request_duration_seconds", "server", "unknown", "endpoint", "token", "outcome", "ok"); v < 1 {
			t.Errorf("%v samples in the new registry, want at least 1", v)
		}
	})
}

// TestNothingCountedWithoutSeries: a handler without metrics (never
// provisioned) counts nothing and does not panic, and a DELETE that ended
// no session adds no series.
func TestNothingCountedWithoutSeries(t *testing.T) {
	var none *Metrics
	for _, c := range []struct {
		name   string
		count  func(site string)
		metric string
		labels []string
	}{
		{"nil login", func(s string) { none.Login(s, "ok") }, "caddy_sgid_logins_total", []string{"result", "ok"}},
		{"nil denial", func(s string) { none.Denial(s, "401") }, "caddy_sgid_guard_denials_total", []string{"status", "401"}},
		{"nil logout", func(s string) { none.Logout(s) }, "caddy_sgid_logouts_total", nil},
		{"nil revocation", func(s string) { none.Revocation(s, 2) }, "caddy_sgid_revocations_total", nil},
		{"nil eviction", func(s string) { none.Evicted(s) }, "caddy_sgid_sessions_evicted_total", nil},
		{"nil idle expiry", func(s string) { none.IdleExpired(s) }, "caddy_sgid_idle_expiries_total", nil},
		{"nil store error", func(s string) { none.StoreError(s, "get") }, "caddy_sgid_store_errors_total", []string{"operation", "get"}},
		{"nil sessions held", func(s string) { none.SessionsHeld(s, 3) }, "caddy_sgid_sessions", nil},
		{"no session revoked", func(s string) { (&Metrics{}).Revocation(s, 0) }, "caddy_sgid_revocations_total", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			site := "unit-" + t.Name()
			c.count(site)
			if _, ok := series(t, registry(t), c.metric, append([]string{"server", site}, c.labels...)...); ok {
				t.Errorf("%s has a series for %s", c.metric, site)
			}
		})
	}
}

// TestSite: a request or context outside any named Caddy server is
// labelled "unknown". (A named server's label is checked end to end by the
// integration tests: only Caddy can name a server.)
func TestSite(t *testing.T) {
	bare := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{
		{"bare request", bare.Context()},
		{"nil server", context.WithValue(context.Background(), caddyhttp.ServerCtxKey, (*caddyhttp.Server)(nil))},
		{"unnamed server", context.WithValue(context.Background(), caddyhttp.ServerCtxKey, &caddyhttp.Server{})},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := SiteFromContext(c.ctx); got != "unknown" {
				t.Errorf("SiteFromContext = %q, want unknown", got)
			}
			if got := Site(bare.WithContext(c.ctx)); got != "unknown" {
				t.Errorf("Site = %q, want unknown", got)
			}
		})
	}
}

// TestObserveProvider: a back-channel call is recorded in seconds, under
// its endpoint and outcome.
func TestObserveProvider(t *testing.T) {
	for _, c := range []struct {
		endpoint, outcome string
		d                 time.Duration
	}{
		{"userinfo", "ok", 250 * time.Millisecond},
		{"jwks", "network_error", 3 * time.Second},
	} {
		t.Run(c.endpoint+"/"+c.outcome, func(t *testing.T) {
			reg := registry(t)
			labels := []string{"server", "unknown", "endpoint", c.endpoint, "outcome", c.outcome}
			var count uint64
			var sum float64
			if s, ok := series(t, reg, "caddy_sgid_provider_request_duration_seconds", labels...); ok {
				count, sum = s.GetHistogram().GetSampleCount(), s.GetHistogram().GetSampleSum()
			}
			ObserveProvider(context.Background(), c.endpoint, c.outcome, c.d)
			s, ok := series(t, reg, "caddy_sgid_provider_request_duration_seconds", labels...)
			if !ok {
				t.Fatal("no series")
			}
			if n := s.GetHistogram().GetSampleCount() - count; n != 1 {
				t.Errorf("%d samples added, want 1", n)
			}
			if d := s.GetHistogram().GetSampleSum() - sum; d < c.d.Seconds()-1e-9 || d > c.d.Seconds()+1e-9 {
				t.Errorf("sum rose by %v, want %v seconds", d, c.d.Seconds())
			}
		})
	}
}

// TestSetReady: the gauge follows the last health check, both ways.
func TestSetReady(t *testing.T) {
	site := "unit-" + t.Name()
	for _, c := range []struct {
		ready bool
		want  float64
	}{{true, 1}, {false, 0}, {true, 1}} {
		SetReady(site, c.ready)
		if v := value(t, registry(t), "caddy_sgid_ready", "server", site); v != c.want {
			t.Errorf("after SetReady(%v): %v, want %v", c.ready, v, c.want)
		}
	}
}

// TestHeldRefreshRunsAtScrape: caddy_sgid_sessions shows what the refresh
// counts at each scrape, not what was set before.
func TestHeldRefreshRunsAtScrape(t *testing.T) {
	site := "unit-" + t.Name()
	prev := sessionsHeldCollector.refresh
	t.Cleanup(func() { SetHeldRefresh(prev) })
	held := 0
	SetHeldRefresh(func() { (&Metrics{}).SessionsHeld(site, held) })
	reg := registry(t)
	for _, n := range []int{4, 9, 0} {
		t.Run("", func(t *testing.T) {
			held = n
			if v := value(t, reg, "caddy_sgid_sessions", "server", site); v != float64(n) {
				t.Errorf("scraped %v, want %v", v, n)
			}
		})
	}
}

// TestDescriptions: dashboards and docs/operations.md rely on each
// collector's name, help and labels; they change only on purpose, and
// each is documented with its labels.
func TestDescriptions(t *testing.T) {
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"caddy_sgid_logins_total":                      `help: "sgID login callbacks by result: ok, or the reason of the failure.", unit: "", constLabels: {}, variableLabels: {server,result}`,
		"caddy_sgid_guard_denials_total":               `help: "Protected requests the sgid guard answered itself, by HTTP status.", unit: "", constLabels: {}, variableLabels: {server,status}`,
		"caddy_sgid_logouts_total":                     `help: "Sessions ended by the user at the logout route.", unit: "", constLabels: {}, variableLabels: {server}`,
		"caddy_sgid_revocations_total":                 `help: "Sessions ended through the admin API.", unit: "", constLabels: {}, variableLabels: {server}`,
		"caddy_sgid_sessions_evicted_total":            `help: "Sessions dropped, oldest first, to stay within the memory store's max_entries.", unit: "", constLabels: {}, variableLabels: {server}`,
		"caddy_sgid_idle_expiries_total":               `help: "Sessions ended by session_idle_timeout.", unit: "", constLabels: {}, variableLabels: {server}`,
		"caddy_sgid_store_errors_total":                `help: "Failed session store calls, by operation.", unit: "", constLabels: {}, variableLabels: {server,operation}`,
		"caddy_sgid_sessions":                          `help: "Logged-in sessions held, where the store can count them cheaply (memory: exact).", unit: "", constLabels: {}, variableLabels: {server}`,
		"caddy_sgid_ready":                             `help: "1 when every sgid site of the server passed the last readiness check (GET /sgid/health on the admin API), else 0.", unit: "", constLabels: {}, variableLabels: {server}`,
		"caddy_sgid_provider_request_duration_seconds": `help: "Time of sgID back-channel requests until the answer was read, by endpoint and outcome.", unit: "", constLabels: {}, variableLabels: {server,endpoint,outcome}`,
	}
	got := map[string]*prometheus.Desc{}
	for _, c := range collectors {
		ch := make(chan *prometheus.Desc, 1)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			name, _, _ := strings.Cut(strings.TrimPrefix(d.String(), `Desc{fqName: "`), `"`)
			got[name] = d
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d collectors, want %d", len(got), len(want))
	}
	for name, rest := range want {
		t.Run(name, func(t *testing.T) {
			d, ok := got[name]
			if !ok {
				t.Fatal("not registered")
			}
			if s := `Desc{fqName: "` + name + `", ` + rest + `}`; d.String() != s {
				t.Errorf("got  %s\nwant %s", d, s)
			}
			labels, _, _ := strings.Cut(rest[strings.Index(rest, "variableLabels: {")+len("variableLabels: {"):], "}")
			row := "| `" + name + "` | "
			i := strings.Index(string(ops), row)
			if i < 0 {
				t.Fatalf("docs/operations.md has no row for it")
			}
			line, _, _ := strings.Cut(string(ops[i:]), "\n")
			if doc := "`" + strings.ReplaceAll(labels, ",", "`, `") + "`"; !strings.Contains(line, "| "+doc+" |") {
				t.Errorf("docs/operations.md does not list its labels %s: %s", doc, line)
			}
		})
	}
}
