package main

import (
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{0.9, 1.2, 0.4, 0.95, 0.97}, 0.95},
	} {
		in := append([]float64(nil), c.in...)
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
		// The rounds are printed in their order after the median is taken.
		for i := range in {
			if in[i] != c.in[i] {
				t.Fatalf("median reordered its input: %v, was %v", c.in, in)
			}
		}
	}
}

func TestReplaceSection(t *testing.T) {
	doc := "# Benchmarks\n\nHand-written.\n\n<!-- bench:a -->\nold a\n<!-- /bench:a -->\n\nMore prose.\n"
	got := replaceSection(doc, "a", "new a\n")
	want := "# Benchmarks\n\nHand-written.\n\n<!-- bench:a -->\nnew a\n<!-- /bench:a -->\n\nMore prose.\n"
	if got != want {
		t.Errorf("replacing a section:\n%q\nwant\n%q", got, want)
	}
	// A section the document lacks is appended, and the one there stays.
	got = replaceSection(got, "b", "b body")
	if !strings.HasSuffix(got, "More prose.\n\n<!-- bench:b -->\nb body\n<!-- /bench:b -->\n") || !strings.Contains(got, "new a") {
		t.Errorf("appending a section:\n%q", got)
	}
	// A run replaces it again rather than adding a second copy.
	if again := replaceSection(got, "b", "b2"); strings.Count(again, "<!-- bench:b -->") != 1 || !strings.Contains(again, "b2") || strings.Contains(again, "b body") {
		t.Errorf("replacing an appended section:\n%q", again)
	}
}

func TestWrkOutput(t *testing.T) {
	out := `Running 4s test @ http://127.0.0.1:1/x
  1 threads and 16 connections
  38211 requests in 4.00s, 9.01MB read
Requests/sec:   9552.15
Transfer/sec:      2.25MB
`
	if m := wrkRPS.FindStringSubmatch(out); m == nil || m[1] != "9552.15" {
		t.Errorf("requests/s: %v", m)
	}
	if m := wrkRequests.FindStringSubmatch(out); m == nil || m[1] != "38211" {
		t.Errorf("requests: %v", m)
	}
	if wrkNon2xx.MatchString(out) {
		t.Error("a clean run read as having errors")
	}
	if m := wrkNon2xx.FindStringSubmatch(out + "  Non-2xx or 3xx responses: 12\n"); m == nil || m[1] != "12" {
		t.Errorf("non-2xx answers not seen: %v", m)
	}
}

func TestPprofTotal(t *testing.T) {
	out := "Active filters:\n   focus=x\nShowing nodes accounting for 1.39s, 57.68% of 2.41s total\n      flat  flat%"
	m := showing.FindStringSubmatch(out)
	if m == nil || m[1] != "1.39s" || m[2] != "57.68%" || m[3] != "2.41s" {
		t.Errorf("pprof total: %v", m)
	}
}
