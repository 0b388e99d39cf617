package main

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/bench/scale"
)

func TestNewScaleOpts(t *testing.T) {
	for _, tc := range []struct {
		name, shared, storage string
		base, rounds          int
		want                  map[string][]int // nil: an error
	}{
		{"the issue's steps", "100000,1000000", "100_000, 300000", 1000, 7,
			map[string][]int{"memory": {100000, 1000000}, "storage": {100000, 300000}, "redis": {100000, 1000000}}},
		{"one step", "3000", "2000", 1000, 3, map[string][]int{"memory": {3000}, "storage": {2000}, "redis": {3000}}},
		{"a step not above the base", "1000", "2000", 1000, 3, nil},
		{"steps going down", "5000,4000", "2000,3000", 1000, 3, nil},
		{"not a number", "5k", "2000", 1000, 3, nil},
		{"steps of different lengths", "5000,6000", "2000", 1000, 3, nil},
		{"too few rounds", "5000", "2000", 1000, 2, nil},
		{"too small a base", "5000", "2000", 5, 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			so, err := newScaleOpts(tc.base, tc.shared, tc.storage, tc.rounds, "")
			if tc.want == nil {
				if err == nil {
					t.Fatalf("no error; steps %v", so.steps)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for st, want := range tc.want {
				if got := so.steps[st]; !slices.Equal(got, want) {
					t.Errorf("%s: steps %v, want %v", st, got, want)
				}
			}
			if so.phases() != 1+len(tc.want["memory"]) || so.sessionsAt("storage", 0) != tc.base || so.sessionsAt("storage", 1) != tc.want["storage"][0] {
				t.Errorf("phases %d, storage at 0: %d, at 1: %d", so.phases(), so.sessionsAt("storage", 0), so.sessionsAt("storage", 1))
			}
		})
	}
}

// The plot goes where the written section's link finds it: bench/scale.svg
// beside the file written; nowhere when nothing is.
func TestSVGPath(t *testing.T) {
	for _, tc := range []struct{ out, svg, want string }{
		{"BENCHMARKS.md", "", "bench/scale.svg"},
		{"runs/quiet.md", "", "runs/bench/scale.svg"},
		{"runs/quiet.md", "plot.svg", "plot.svg"},
		{"", "plot.svg", ""},
	} {
		if got := svgPath(tc.out, tc.svg); got != tc.want {
			t.Errorf("svgPath(%q, %q) = %q, want %q", tc.out, tc.svg, got, tc.want)
		}
	}
}

// A fill goes in calls of fillChunk sessions at most, covering the range
// once, each call starting on a user's first session.
func TestFillChunks(t *testing.T) {
	for _, tc := range []struct{ from, to, per int }{
		{0, 1000, 1}, {0, 1_000_000, 1}, {1000, 1_000_000, 1}, {0, 27, 3}, {5, 5, 1}, {999_999, 1_000_001, 1}, {0, 300_001, 3},
	} {
		got := fillChunks(tc.from, tc.to, tc.per)
		next := tc.from
		for _, c := range got {
			if c[0] != next || c[1] <= c[0] || c[1]-c[0] > fillChunk || (c[0] != tc.from && c[0]%tc.per != 0) {
				t.Fatalf("fillChunks(%d, %d, %d) = %v: bad chunk %v", tc.from, tc.to, tc.per, got, c)
			}
			next = c[1]
		}
		if next != tc.to && tc.to > tc.from {
			t.Fatalf("fillChunks(%d, %d, %d) = %v: ends at %d", tc.from, tc.to, tc.per, got, next)
		}
		if tc.to-tc.from > 0 && len(got) != (tc.to-tc.from+fillChunk-1)/fillChunk && tc.from%fillChunk == 0 {
			t.Errorf("fillChunks(%d, %d, %d) = %d chunks", tc.from, tc.to, tc.per, len(got))
		}
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 300000: "300,000", 1000000: "1,000,000"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

// The load of random sessions sends, on every call, the cookie of one of
// the site's sessions, picked anew: only ids of the fill, and many of them.
func TestIDRequest(t *testing.T) {
	const seed, n = "b", 50
	valid := map[string]bool{}
	for i := range n {
		valid[scale.ID(seed, i)] = true
	}
	var mu sync.Mutex
	got := map[string]int{}
	var bad []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sgid_session")
		mu.Lock()
		defer mu.Unlock()
		if err != nil || !valid[c.Value] || r.URL.Path != "/api/userinfo" {
			bad = append(bad, r.Header.Get("Cookie"))
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		got[c.Value]++
	}))
	defer srv.Close()
	req, err := newIDRequest("userinfo", srv.URL+"/api/userinfo", "sgid_session", seed, n)
	if err != nil {
		t.Fatal(err)
	}
	l := newSlicedLoad()
	defer l.close()
	ops, _, err := l.run(context.Background(), req, 200*time.Millisecond)
	if err != nil {
		t.Fatalf("%v (bad cookies %q)", err, bad)
	}
	var total int
	for _, c := range got {
		total += c
	}
	if int64(total) != ops || len(got) < n/2 {
		t.Fatalf("%d calls counted, %d answered, %d distinct sessions of %d", ops, total, len(got), n)
	}
	if _, err := newIDRequest("none", srv.URL, "c", seed, 0); err == nil {
		t.Error("a request among no sessions was made")
	}
}

// phasesFor makes the phases of a run whose site B costs factor times
// site A per userinfo and login, in every round.
func phasesFor(factor float64) []*scalePhase {
	mk := func(n map[string]int, k int) *scalePhase {
		ph := newScalePhase()
		ph.n = n
		for j, st := range stores {
			ph.fillN[st] = n[st] - 1000
			if k == 0 {
				ph.fillN[st] = 2000
			}
			ph.fillTook[st] = time.Second
			ph.bytes[st] = float64(600 + 100*j + 10*k)
			for r := range 3 {
				a := sample{rate: 1, cpu: time.Duration(100+r) * time.Microsecond}
				b := sample{rate: 1, cpu: time.Duration(factor * float64(a.cpu))}
				if k > 0 {
					ph.userinfo[st] = append(ph.userinfo[st], pairSample{a, b})
					ph.login[st] = append(ph.login[st], pairSample{a, b})
				}
				calls := map[string]int64{"Members": 1, "Put": 3, "Delete": 3, "RemoveMember": 3}
				ph.revoke[st] = append(ph.revoke[st], [2]scale.RevokeAnswer{{Seconds: 0.001, Calls: calls}, {Seconds: 0.001 * factor, Calls: calls}})
				ph.revokeCPU[st] = append(ph.revokeCPU[st], [2]time.Duration{time.Millisecond, time.Duration(factor * float64(time.Millisecond))})
				base := timing{10 * time.Millisecond, 20 * time.Millisecond}
				at := time.Duration(float64(10*time.Millisecond) * (1 + float64(k)*(factor-1)))
				ph.reload[st] = append(ph.reload[st], [2]timing{base, {at, 2 * at}})
				if st != "memory" {
					ph.start[st] = append(ph.start[st], [2]timing{base, {at, 2 * at}})
				}
			}
		}
		if k > 0 {
			// The rotation's order: memory A, memory B, storage A, ...;
			// storage costs 1.2 times memory at A, 1.3 at B.
			for range 3 {
				round := make([]sample, 6)
				for j := range stores {
					round[2*j] = sample{cpu: time.Millisecond}
					round[2*j+1] = sample{cpu: time.Millisecond}
				}
				round[2] = sample{cpu: 1200 * time.Microsecond}
				round[3] = sample{cpu: 1300 * time.Microsecond}
				ph.logins = append(ph.logins, round)
			}
		}
		ph.expire["memory"] = scale.ExpireAnswer{PutSeconds: 0.0001, SweepSeconds: 0.01}
		return ph
	}
	return []*scalePhase{
		mk(map[string]int{"memory": 1000, "storage": 1000, "redis": 1000}, 0),
		mk(map[string]int{"memory": 1_000_000, "storage": 300_000, "redis": 1_000_000}, 1),
	}
}

// The summary rows carry the labels a script reads, each figure with its
// target beside it, and a verdict that follows the figure.
func TestScaleSummary(t *testing.T) {
	rows := scaleSummary(phasesFor(1.05))
	want := []string{
		"| 7 | scale userinfo, store memory |  | 1.050× | ≤ 1.10× | by CPU: meets ≤ 1.10× (1,000,000 sessions / 1,000) |",
		"| 7 | scale userinfo, store storage |  | 1.050× | ≤ 1.10× | by CPU: meets ≤ 1.10× (300,000 sessions / 1,000) |",
		"| 7 | scale login, store redis |  | 1.050× | ≤ 1.20× | by CPU: meets ≤ 1.20× (1,000,000 sessions / 1,000) |",
		"| 7 | scale revoke, store storage | 1.050× | 1.050× | ≤ 1.20× | by CPU: meets ≤ 1.20×; by time: meets ≤ 1.20× (300,000 sessions / 1,000; store calls 10 at 300,000, 10 at 1,000) |",
		"| 7 | scale reload, store memory | 1.050× | 1.050× | ≤ 1.20× | by CPU: meets ≤ 1.20×; by time: meets ≤ 1.20× (1,000,000 sessions / 1,000) |",
		"| 7 | scale start, store redis | 1.050× | 1.050× | ≤ 1.20× | by CPU: meets ≤ 1.20×; by time: meets ≤ 1.20× (1,000,000 sessions / 1,000) |",
		"| 7 | bytes per session, store memory | | 610 B | ≤ 700 B | meets ≤ 700 B |",
		"| 7 | bytes per session, store redis | | 810 B | ≤ 1024 B | meets ≤ 1024 B |",
		"| 7 | bytes per session, store storage (on disk) | | 710 B | | |",
		"| 7 | login CPU, storage / memory | | 1.200× | ≤ 1.25× | meets ≤ 1.25× (at 1,000 sessions) |",
		"| 7 | login CPU, storage / memory | | 1.300× | ≤ 1.25× | **misses ≤ 1.25×** (at 300,000 sessions, memory at 1,000,000) |",
	}
	for _, w := range want {
		found := false
		for _, r := range rows {
			found = found || r == w
		}
		if !found {
			t.Errorf("no row\n%s\nin\n%s", w, strings.Join(rows, "\n"))
		}
	}
	for _, r := range rows {
		if strings.Contains(r, "scale start, store memory") {
			t.Error("a start row for the memory store, whose sessions a start loses")
		}
	}
	// Costs beyond the targets are misses.
	for _, r := range scaleSummary(phasesFor(1.3)) {
		if strings.HasPrefix(r, "| 7 | scale ") && !strings.Contains(r, "**misses") {
			t.Errorf("at 1.3× the cost: %s", r)
		}
	}
}

// Each row issue 30 names is there under exactly its label, read as a
// script reads it (the measure cell), with a figure and a target that
// parse; no label is left out.
func TestScaleSummaryLabels(t *testing.T) {
	targets := map[string]string{}
	for _, st := range stores {
		targets["scale userinfo, store "+st] = "≤ 1.10×"
		targets["scale login, store "+st] = "≤ 1.20×"
		targets["scale revoke, store "+st] = "≤ 1.20×"
		targets["scale reload, store "+st] = "≤ 1.20×"
	}
	targets["bytes per session, store memory"] = "≤ 700 B"
	targets["bytes per session, store redis"] = "≤ 1024 B"
	targets["login CPU, storage / memory"] = "≤ 1.25×"
	seen := map[string]int{}
	for _, r := range scaleSummary(phasesFor(1.05)) {
		cells := strings.Split(strings.Trim(r, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 6 {
			t.Fatalf("%d cells in %s", len(cells), r)
		}
		want, ok := targets[cells[1]]
		if !ok {
			continue
		}
		seen[cells[1]]++
		if cells[4] != want {
			t.Errorf("%s: target %q, want %q", cells[1], cells[4], want)
		}
		fig := strings.TrimSuffix(strings.TrimSuffix(cells[3], "×"), " B")
		if _, err := strconv.ParseFloat(fig, 64); err != nil {
			t.Errorf("%s: the CPU column %q holds no figure", cells[1], cells[3])
		}
	}
	for label := range targets {
		want := 1
		if label == "login CPU, storage / memory" {
			want = 2 // at 1,000 sessions and at the largest N
		}
		if seen[label] != want {
			t.Errorf("%d rows labelled %q, want %d", seen[label], label, want)
		}
	}
}

// The section names each store and phase; the plot is well-formed SVG
// with a line per store, its points left to right, a dearer point higher.
func TestScaleReportAndPlot(t *testing.T) {
	so, err := newScaleOpts(1000, "1000000", "300000", 3, "")
	if err != nil {
		t.Fatal(err)
	}
	phases := phasesFor(1.05)
	r := &rig{}
	s := &section{name: "scale"}
	r.scaleReport(s, so, opts{window: 2 * time.Second}, "bench/run.sh -pairs 7", phases)
	for _, want := range []string{"#### Store `memory`", "#### Store `storage`", "| 1,000,000 | 999,000 in 1s", "| 300,000 |", "![userinfo CPU", "#### Expiry"} {
		if !strings.Contains(s.body.String(), want) {
			t.Errorf("the section lacks %q", want)
		}
	}
	if r.scaleSum == nil || !strings.Contains(r.scaleSum.body.String(), "Command: `bench/run.sh -pairs 7`") {
		t.Fatalf("summary %v", r.scaleSum)
	}

	svg := scaleSVG(so, phases)
	var doc struct {
		Polylines []struct {
			Stroke string `xml:"stroke,attr"`
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
	}
	if err := xml.Unmarshal(svg, &doc); err != nil {
		t.Fatalf("not XML: %v\n%s", err, svg)
	}
	if len(doc.Polylines) != len(stores) {
		t.Fatalf("%d lines, want one per store", len(doc.Polylines))
	}
	for _, pl := range doc.Polylines {
		pts := strings.Fields(pl.Points)
		if len(pts) != 2 {
			t.Fatalf("points %q, want 1,000 and the largest N", pl.Points)
		}
		var xy [2][2]float64
		for i, p := range pts {
			for j, v := range strings.Split(p, ",") {
				xy[i][j], err = strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		// B is 1.05 times A: right of it, and higher (a smaller y).
		if xy[1][0] <= xy[0][0] || xy[1][1] >= xy[0][1] {
			t.Errorf("points %q: the dearer, larger N is not right of and above the baseline", pl.Points)
		}
	}
}

func TestPlotSVGScales(t *testing.T) {
	svg := string(plotSVG("t & <b>", []svgSeries{{name: "x", color: "#000", x: []int{1000, 10000}, y: []float64{0, 50}}}))
	if !strings.Contains(svg, "t &amp; &lt;b&gt;") {
		t.Error("the title is not escaped")
	}
	for _, label := range []string{">1,000<", ">10,000<", ">0<"} {
		if !strings.Contains(svg, label) {
			t.Errorf("no axis label %s", label)
		}
	}
	for x, want := range map[float64]float64{0.7: 1, 12: 20, 23: 50, 80: 100} {
		if got := niceStep(x); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", x, got, want)
		}
	}
}

// A file with two names counts once; a missing folder counts nothing.
func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(sub, "record")
	if err := os.WriteFile(f, make([]byte, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	b1, n1, err := diskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Link(f, filepath.Join(dir, "index-entry")); err != nil {
		t.Skip("no hard links here:", err)
	}
	b2, n2, err := diskUsage(dir, filepath.Join(dir, "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if n1 != 3 || n2 != 3 || b1 != b2 || b1 < 5000 {
		t.Errorf("before the link %d B in %d, after %d B in %d; want the folder, sub and the file, at least 5000 B, once", b1, n1, b2, n2)
	}
}

func TestReadInfo(t *testing.T) {
	body := "# Memory\r\nused_memory:1234\r\nused_memory_human:1.21K\r\n"
	info, err := readInfo(bufio.NewReader(strings.NewReader("$" + strconv.Itoa(len(body)) + "\r\n" + body + "\r\n")))
	if err != nil || info["used_memory"] != "1234" || info["used_memory_human"] != "1.21K" || len(info) != 2 {
		t.Fatalf("%v %v", info, err)
	}
	if _, err := readInfo(bufio.NewReader(strings.NewReader("-ERR unknown\r\n"))); err == nil {
		t.Error("an error answer read as INFO")
	}
}

// Each sgid site's port maps to its scope through the server that
// listens on it.
func TestSiteScopes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any
		switch r.URL.Path {
		case "/sgid/sessions":
			v = map[string]any{"sites": []map[string]any{
				{"scope": "sa", "servers": []string{"srv1"}, "sessions": 0},
				{"scope": "sb", "servers": []string{"srv2"}, "sessions": 0},
			}}
		case "/config/apps/http/servers":
			v = map[string]any{
				"srv0": map[string]any{"listen": []string{"127.0.0.1:9000"}},
				"srv1": map[string]any{"listen": []string{"127.0.0.1:9001"}},
				"srv2": map[string]any{"listen": []string{":9002"}},
			}
		default:
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(v)
	}))
	defer srv.Close()
	got, err := siteScopes(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[9001] != "sa" || got[9002] != "sb" {
		t.Errorf("scopes %v", got)
	}
}

func TestMetricValue(t *testing.T) {
	text := "# HELP go_sched_gomaxprocs_threads The current runtime.GOMAXPROCS setting.\n# TYPE go_sched_gomaxprocs_threads gauge\ngo_sched_gomaxprocs_threads 2\ngo_sched_gomaxprocs_threads_other 7\n"
	if n, err := metricValue(text, "go_sched_gomaxprocs_threads"); err != nil || n != 2 {
		t.Errorf("got %d, %v; want 2", n, err)
	}
	if _, err := metricValue(text, "go_goroutines"); err == nil {
		t.Error("a missing metric read as a value")
	}
}
