package main

import (
	"slices"
	"strings"
	"testing"
)

// Of pair 2's controls, only the guarded route against the unguarded one
// whose client sends the identity headers has a target (issue 30's ≥
// 0.97), and its two requests are what its label says: the same request
// reaches both upstreams.
func TestGuardControlTarget(t *testing.T) {
	const label = "guarded / unguarded with the identity headers sent by the client"
	headers := []string{"Cookie: sgid_session=abc", "Sec-Fetch-Mode: cors"}
	noCookie := []string{"Sec-Fetch-Mode: cors", "X-Sgid-Sub: s", "X-Sgid-Name: n"}
	cases := guardControlCases("http://h/unguarded/x", "http://h/guarded/x", "http://h/chained/x", headers, noCookie, nil)
	var targeted []guardControl
	for _, c := range cases {
		if c.target != 0 {
			targeted = append(targeted, c)
		}
	}
	if len(targeted) != 1 || targeted[0].what != label || targeted[0].target != 0.97 {
		t.Fatalf("controls with a target: %+v; want only %q at 0.97", targeted, label)
	}
	c := targeted[0]
	if c.baseTarget != "http://h/unguarded/x" || !slices.Equal(c.baseHeaders, noCookie) || c.candTarget != "http://h/guarded/x" || !slices.Equal(c.candHeaders, headers) {
		t.Errorf("%q compares %s %q with %s %q", label, c.baseTarget, c.baseHeaders, c.candTarget, c.candHeaders)
	}

	// Its summary row carries the target; a row without one carries none.
	r := &rig{}
	r.result(&section{}, "2", label, pairRatios{rate: []float64{0.99}, cpu: []float64{0.98}}, c.target)
	r.result(&section{}, "2", "guarded / unguarded", pairRatios{rate: []float64{0.95}, cpu: []float64{0.94}}, 0)
	if want := "| 2 | " + label + " | 0.990× | 0.980× | ≥ 0.97× | by CPU: meets ≥ 0.97×; by throughput: meets ≥ 0.97× |"; r.summary[0] != want {
		t.Errorf("row\n%s\nwant\n%s", r.summary[0], want)
	}
	if strings.Contains(r.summary[1], "≥") {
		t.Errorf("the information row has a target: %s", r.summary[1])
	}
}
