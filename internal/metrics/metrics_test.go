package metrics

import (
	"context"
	"fmt"
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

// registry is a new registry with m's collectors in, as Caddy's next
// config load would have.
func registry(t *testing.T, m *Metrics) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestRegister: a second handler in the same config registers the same
// collectors without error; a collector that is not ours under one of our
// names is a conflict to report, not to paper over, even when it is built
// exactly like ours, as another Metrics's are.
func TestRegister(t *testing.T) {
	m := New(nil)
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
		{"the same registry again", func(reg *prometheus.Registry) { _ = m.Register(reg) }, false},
		{"a same-shaped collector that is not ours", func(reg *prometheus.Registry) { reg.MustRegister(foreign()) }, true},
		{"another Metrics's collectors", func(reg *prometheus.Registry) { _ = New(nil).Register(reg) }, true},
		{"another collector under our name", func(reg *prometheus.Registry) {
			reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "caddy_sgid_logins_total", Help: "other"}, []string{"x"}))
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			c.before(reg)
			if err := m.Register(reg); (err != nil) != c.wantErr {
				t.Fatalf("Register: %v, want error %v", err, c.wantErr)
			}
		})
	}
}

// count counts one of everything in m under site.
func count(m *Metrics, site string) {
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
	m.SetReady(site, true)
	m.ObserveProvider(context.Background(), "token", "ok", time.Second)
}

// counted are the series count makes, with their values.
var counted = []struct {
	name   string
	labels []string
	want   float64
}{
	{"caddy_sgid_logins_total", []string{"result", "ok"}, 2},
	{"caddy_sgid_logins_total", []string{"result", "state_mismatch"}, 1},
	{"caddy_sgid_logouts_total", nil, 1},
	{"caddy_sgid_revocations_total", nil, 3},
	{"caddy_sgid_sessions_evicted_total", nil, 1},
	{"caddy_sgid_idle_expiries_total", nil, 2},
	{"caddy_sgid_store_errors_total", []string{"operation", "put"}, 1},
	{"caddy_sgid_sessions", nil, 7},
	{"caddy_sgid_guard_denials_total", []string{"status", "401"}, 1},
	{"caddy_sgid_ready", nil, 1},
}

// TestCountsCarryOverAReload: Caddy gives every config load a new
// registry, and provisions the new config before it cleans up the old:
// what the old config's handlers counted is in the new registry. Once no
// handler holds the Metrics, the next config starts at zero.
func TestCountsCarryOverAReload(t *testing.T) {
	site := "unit-" + t.Name()
	old, releaseOld, err := Acquire(prometheus.NewPedanticRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	count(old, site)
	reloaded := prometheus.NewPedanticRegistry()
	m, release, err := Acquire(reloaded, nil)
	if err != nil {
		t.Fatal(err)
	}
	releaseOld()
	releaseOld() // once is enough: the new config's hold stays
	for _, c := range counted {
		labels := append([]string{"server", site}, c.labels...)
		t.Run(c.name+strings.Join(labels, ","), func(t *testing.T) {
			if v := value(t, reloaded, c.name, labels...); v != c.want {
				t.Errorf("%v in the new registry, want %v", v, c.want)
			}
		})
	}
	t.Run("provider duration", func(t *testing.T) {
		if v := value(t, reloaded, "caddy_sgid_provider_request_duration_seconds", "server", "unknown", "endpoint", "token", "outcome", "ok"); v != 1 {
			t.Errorf("%v samples in the new registry, want 1", v)
		}
	})
	if m != old {
		t.Error("the new config's handler got other metrics than the old one's")
	}

	release()
	fresh, releaseFresh, err := Acquire(prometheus.NewPedanticRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseFresh()
	if fresh == old {
		t.Error("with no handler left the metrics stayed")
	}
	if _, ok := series(t, registry(t, fresh), "caddy_sgid_logins_total", "server", site, "result", "ok"); ok {
		t.Error("a config after the last handler went starts with the old counts")
	}
}

// TestAcquireConflict: a registry that holds a collector of another's
// under one of our names fails the handler's Provision, and gives back the
// hold it took.
func TestAcquireConflict(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := New(nil).Register(reg); err != nil {
		t.Fatal(err)
	}
	if m, release, err := Acquire(reg, nil); err == nil || m != nil || release != nil {
		t.Fatalf("Acquire = %v, %v, want an error", m, err)
	}
	if n, ok := running.References(runningKey); ok {
		t.Errorf("%d holds left after a failed Acquire, want none", n)
	}
}

// TestMetricsAreValues: what one Metrics counts is not in another's
// registry: each holds its own collectors.
func TestMetricsAreValues(t *testing.T) {
	site := "unit-" + t.Name()
	a, b := New(nil), New(nil)
	count(a, site)
	regB := registry(t, b)
	for _, c := range counted {
		if _, ok := series(t, regB, c.name, append([]string{"server", site}, c.labels...)...); ok {
			t.Errorf("%s%v counted in a shows in b", c.name, c.labels)
		}
	}
	regA := registry(t, a)
	for _, c := range counted {
		if v := value(t, regA, c.name, append([]string{"server", site}, c.labels...)...); v != c.want {
			t.Errorf("%s%v = %v in a, want %v", c.name, c.labels, v, c.want)
		}
	}
}

// TestNothingCountedWithoutSeries: a handler without metrics (never
// provisioned: nil or the zero Metrics) counts nothing and does not panic,
// and a DELETE that ended no session adds no series.
func TestNothingCountedWithoutSeries(t *testing.T) {
	m := New(nil)
	reg := registry(t, m)
	for _, none := range []*Metrics{nil, {}} {
		site := fmt.Sprintf("unit-%s-%v", t.Name(), none != nil)
		count(none, site)
		m.Revocation(site, 0)
		for _, c := range counted {
			if _, ok := series(t, reg, c.name, append([]string{"server", site}, c.labels...)...); ok {
				t.Errorf("%s has a series for %s", c.name, site)
			}
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) != 0 {
			t.Errorf("%s has %d series, want none", mf.GetName(), len(mf.GetMetric()))
		}
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
			m := New(nil)
			reg := registry(t, m)
			labels := []string{"server", "unknown", "endpoint", c.endpoint, "outcome", c.outcome}
			var count uint64
			var sum float64
			if s, ok := series(t, reg, "caddy_sgid_provider_request_duration_seconds", labels...); ok {
				count, sum = s.GetHistogram().GetSampleCount(), s.GetHistogram().GetSampleSum()
			}
			m.ObserveProvider(context.Background(), c.endpoint, c.outcome, c.d)
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
	m := New(nil)
	reg := registry(t, m)
	for _, c := range []struct {
		ready bool
		want  float64
	}{{true, 1}, {false, 0}, {true, 1}} {
		m.SetReady(site, c.ready)
		if v := value(t, reg, "caddy_sgid_ready", "server", site); v != c.want {
			t.Errorf("after SetReady(%v): %v, want %v", c.ready, v, c.want)
		}
	}
}

// TestHeldRefreshRunsAtScrape: caddy_sgid_sessions shows what the refresh
// counts at each scrape, not what was set before.
func TestHeldRefreshRunsAtScrape(t *testing.T) {
	site := "unit-" + t.Name()
	held := 0
	var m *Metrics
	m = New(func() { m.SessionsHeld(site, held) })
	reg := registry(t, m)
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
	for _, c := range New(nil).collectors() {
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
