package testcaddy

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is a gathering or a scrape of Prometheus metrics, by name.
type Metrics map[string]*dto.MetricFamily

// GatherMetrics gathers g's metrics; an error fails the test.
func GatherMetrics(tb testing.TB, g prometheus.Gatherer) Metrics {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := Metrics{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// ParseMetrics reads the text a /metrics endpoint answers, as Prometheus
// would; text that does not parse fails the test.
func ParseMetrics(tb testing.TB, text string) Metrics {
	tb.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		tb.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// Value is the series of name with exactly these label pairs: a counter's
// or gauge's value, a histogram's sample count; 0 when it is absent.
func (m Metrics) Value(name string, labels ...string) float64 {
	mf, ok := m[name]
	if !ok {
		return 0
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, s := range mf.GetMetric() {
		if len(s.GetLabel()) != len(want) {
			continue
		}
		for _, lp := range s.GetLabel() {
			if want[lp.GetName()] != lp.GetValue() {
				continue next
			}
		}
		switch {
		case s.Counter != nil:
			return s.GetCounter().GetValue()
		case s.Gauge != nil:
			return s.GetGauge().GetValue()
		case s.Histogram != nil:
			return float64(s.GetHistogram().GetSampleCount())
		}
	}
	return 0
}
