package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets of pair 7 (issue 30): each a cost at the largest N over the same
// cost at 1,000, at most.
const (
	scaleUserinfoTarget = 1.10
	scaleLoginTarget    = 1.20
	scaleRevokeTarget   = 1.20
	scaleReloadTarget   = 1.20
	scaleStartTarget    = 1.20
)

// bytesTargets bound the bytes per session of the in-memory stores.
var bytesTargets = map[string]float64{"memory": 700, "redis": 1024}

// count writes n with thousands separated: 1,000,000.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// cpuRatios are the per-round ratios of site B's CPU per operation over
// site A's.
func cpuRatios(ps []pairSample) []float64 {
	var out []float64
	for _, p := range ps {
		out = append(out, float64(p[1].cpu)/float64(p[0].cpu))
	}
	return out
}

// medianCPU is the median CPU per operation of side i of the rounds.
func medianCPU(ps []pairSample, i int) time.Duration {
	var xs []float64
	for _, p := range ps {
		xs = append(xs, float64(p[i].cpu))
	}
	return time.Duration(median(xs))
}

// baselineCPU is site A's median CPU per operation over every round of
// every phase that measured it.
func baselineCPU(phases []*scalePhase, get func(*scalePhase) []pairSample) time.Duration {
	var all []pairSample
	for _, ph := range phases {
		all = append(all, get(ph)...)
	}
	return medianCPU(all, 0)
}

// revokeRatios are, per revocation pair, B's time over A's and B's CPU
// over A's.
func revokeRatios(ph *scalePhase, store string) (wall, cpu float64) {
	var ws, cs []float64
	for _, r := range ph.revoke[store] {
		ws = append(ws, r[1].Seconds/r[0].Seconds)
	}
	for _, r := range ph.revokeCPU[store] {
		cs = append(cs, float64(r[1])/float64(r[0]))
	}
	return median(ws), median(cs)
}

// loginStorageOverMemory is the median over the last phase's rounds of the
// storage store's CPU per login over the memory store's, on site i (0: at
// 1,000 sessions, 1: at the phase's N).
func loginStorageOverMemory(ph *scalePhase, i int) float64 {
	m, s := 2*slices.Index(stores, "memory")+i, 2*slices.Index(stores, "storage")+i
	var xs []float64
	for _, round := range ph.logins {
		xs = append(xs, float64(round[s].cpu)/float64(round[m].cpu))
	}
	return median(xs)
}

// scaleBytes is the growth per session of a store over its fills after
// the first phase: the marginal cost of a session at scale.
func scaleBytes(phases []*scalePhase, store string) float64 {
	var b, n float64
	for _, ph := range phases[1:] {
		b += ph.bytes[store] * float64(ph.fillN[store])
		n += float64(ph.fillN[store])
	}
	if n == 0 {
		return 0
	}
	return b / n
}

// scaleRow is one summary row of pair 7: what is the label a script
// reads (exactly as issue 30 names the row), at says between which sizes
// the ratio was taken, after the verdict.
func scaleRow(what, at string, cpu, wall float64, target float64) string {
	v := "by CPU: " + verdictMax(cpu, target)
	w := ""
	if wall > 0 {
		w = fmt.Sprintf("%.3f×", wall)
		v += "; by time: " + verdictMax(wall, target)
	}
	return fmt.Sprintf("| 7 | %s | %s | %.3f× | ≤ %.2f× | %s (%s) |", what, w, cpu, target, v, at)
}

// scaleSummary is pair 7's summary rows, from the last phase: site B
// against site A (userinfo, logins, revocations), the scale server against
// its base twin (reload, start).
func scaleSummary(phases []*scalePhase) []string {
	last := phases[len(phases)-1]
	at := func(st string) string {
		return fmt.Sprintf("%s sessions / %s", count(last.n[st]), count(phases[0].n[st]))
	}
	var rows []string
	for _, st := range stores {
		rows = append(rows, scaleRow("scale userinfo, store "+st, at(st), median(cpuRatios(last.userinfo[st])), 0, scaleUserinfoTarget))
	}
	for _, st := range stores {
		rows = append(rows, scaleRow("scale login, store "+st, at(st), median(cpuRatios(last.login[st])), 0, scaleLoginTarget))
	}
	for _, st := range stores {
		wall, cpu := revokeRatios(last, st)
		calls := fmt.Sprintf("; store calls %d at %s, %d at %s", last.revoke[st][0][1].TotalCalls(), count(last.n[st]),
			last.revoke[st][0][0].TotalCalls(), count(phases[0].n[st]))
		rows = append(rows, scaleRow("scale revoke, store "+st, at(st)+calls, cpu, wall, scaleRevokeTarget))
	}
	for _, st := range stores {
		wall, cpu := timingRatios(last.reload[st])
		rows = append(rows, scaleRow("scale reload, store "+st, at(st), cpu, wall, scaleReloadTarget))
	}
	for _, st := range stores {
		if len(last.start[st]) == 0 {
			continue
		}
		wall, cpu := timingRatios(last.start[st])
		rows = append(rows, scaleRow("scale start, store "+st, at(st), cpu, wall, scaleStartTarget))
	}
	for _, st := range []string{"memory", "redis"} {
		b, max := scaleBytes(phases, st), bytesTargets[st]
		v := fmt.Sprintf("meets ≤ %.0f B", max)
		if b > max {
			v = fmt.Sprintf("**misses ≤ %.0f B**", max)
		}
		rows = append(rows, fmt.Sprintf("| 7 | bytes per session, store %s | | %.0f B | ≤ %.0f B | %s |", st, b, max, v))
	}
	rows = append(rows, fmt.Sprintf("| 7 | bytes per session, store storage (on disk) | | %.0f B | | |", scaleBytes(phases, "storage")))
	for i, where := range []string{"at " + count(phases[0].n["storage"]) + " sessions",
		fmt.Sprintf("at %s sessions, memory at %s", count(last.n["storage"]), count(last.n["memory"]))} {
		x := loginStorageOverMemory(last, i)
		rows = append(rows, fmt.Sprintf("| 7 | login CPU, storage / memory | | %.3f× | ≤ %.2f× | %s (%s) |", x, loginStorageTarget, verdictMax(x, loginStorageTarget), where))
	}
	return rows
}

// per formats a cost at N with its ratio to the cost at 1,000.
func per(d time.Duration, ratio float64) string {
	return fmt.Sprintf("%s (%.3f×)", roundDur(d), ratio)
}

// roundDur rounds d to three significant figures or so.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	case d >= time.Microsecond:
		return d.Round(100 * time.Nanosecond)
	}
	return d
}

// scaleReport writes pair 7's section and its summary.
func (r *rig) scaleReport(s *section, so scaleOpts, o opts, command string, phases []*scalePhase) {
	s.printf(`Each store has a Caddy of its own (the suite's build of `+"`bench/caddy`"+`: this checkout's Caddy plus an admin module of the benchmark's) with two sites on that store: **site A** holds %s sessions throughout, and **site B** is filled phase by phase to each N (memory and Redis: %s; storage: %s). The fill writes through the store's own API inside that Caddy: a session manager on the site's store and scope finishes a login for each session (`+"`Finish`"+`), making the store call a login makes (`+"`CreateInSet`"+`: the sealed record, created only if absent, which is the login's claim, and filed in the user's index), in calls of %s sessions, for N distinct users, with the mock persona's data, logged in at times spread over the last %s of a %s lifetime; Redis and storage fills run 32 and 64 at a time, the memory store's 4; the stores fill at once, with their Caddys allowed on every core for the fill only (each runtime follows its affinity; measures start once GOMAXPROCS is back to 1). The sites run with `+"`cache_ttl 0`"+`, so every request reads and opens its session from the store: neither the read cache nor the memo hides it.

- **userinfo**: each request carries the cookie of a session picked at random among its site's, A's or B's; the two sites alternate in %s slices, %d of each per round, and the CPU per request is the server's from the scheduler (per-thread `+"`schedstat`"+`): Caddy's, plus Redis's for the Redis store, whose work is the store's. The ratio is B / A per round; the figure is the median of %d rounds.
- **login**: whole journeys as in pair 6 (%d clients), the six sites in a rotation of %s windows, %d rounds; CPU per journey as above. The persona's sessions are revoked after each phase.
- **revoke**: %d users of three sessions each on each site, revoked in turn on A and B through the module (the session manager's `+"`Revoke`"+` of a user's sessions, the admin API's call) with the store calls counted; the time is the call's inside Caddy, the CPU Caddy's (and Redis's) around the admin request.
- **reload** and **start**: each store's Caddy has a twin, the base server, with the same config under other client ids, whose two sites hold %s sessions each throughout. Each phase reloads (`+"`POST /load`"+` with `+"`Cache-Control: must-revalidate`"+`) the base and the scale server in turn, %d times each, and restarts the storage and Redis ones in turn, %d times each, timing a start from the command to the first userinfo answered from a session of site B, with the CPU Caddy had used by then; the ratio is the scale server's over the base's, per turn, and the figure their median. The first phase, both at the baseline, shows the method's noise. The memory store's sessions do not outlive its process, so it has no start row.
- **bytes per session**: what the store grew by over a fill, per session: the memory store's Caddy's live heap after a collection (a heap profile with `+"`gc=1`"+`, then `+"`HeapAlloc`"+` from `+"`/debug/vars`"+`), Redis's `+"`used_memory`"+`, and for storage the blocks on disk of the sites' folders (each file once, however many names it has). The summary's figure is the growth over every fill after the first phase.
- **expiry**: on the memory store, %s sessions of site B left to expire (1 s) among the others: the next write, which is what a login's store call meets, and then a count of the sessions, which sweeps whatever expired is left.

`, count(so.base), joinCounts(so.steps["memory"]), joinCounts(so.steps["storage"]), count(fillChunk), scaleSpread, scaleLifetime,
		slice, slicedPerWindow(o.window), so.rounds, journeyClients, o.window, so.rounds, scaleRevokes, count(so.base), scaleReloads, scaleStarts, count(scaleExpiring))

	s.printf("![userinfo CPU per request against the sessions stored](bench/scale.svg)\n\n")
	for _, st := range stores {
		s.printf("#### Store `%s`\n\n", st)
		s.printf("| sessions (site B) | filled | userinfo CPU per request | login CPU per journey | revoking a user of 3 sessions: time, CPU, store calls | reload: CPU, time (× base server) | start: CPU, time (× base server) | bytes per session |\n|---|---|---|---|---|---|---|---|\n")
		uiA := baselineCPU(phases[1:], func(ph *scalePhase) []pairSample { return ph.userinfo[st] })
		lgA := baselineCPU(phases[1:], func(ph *scalePhase) []pairSample { return ph.login[st] })
		for k, ph := range phases {
			fillRate := float64(ph.fillN[st]) / ph.fillTook[st].Seconds()
			filled := fmt.Sprintf("%s in %s (%.0f/s)", count(ph.fillN[st]), ph.fillTook[st].Round(10*time.Millisecond), fillRate)
			ui, lg := roundDur(uiA).String()+" (site A)", roundDur(lgA).String()+" (site A)"
			if k > 0 {
				ui = per(medianCPU(ph.userinfo[st], 1), median(cpuRatios(ph.userinfo[st])))
				lg = per(medianCPU(ph.login[st], 1), median(cpuRatios(ph.login[st])))
			}
			_, b := revokeTimes(ph.revoke[st])
			wall, cpu := revokeRatios(ph, st)
			var bcpu []float64
			for _, c := range ph.revokeCPU[st] {
				bcpu = append(bcpu, float64(c[1]))
			}
			rv := fmt.Sprintf("%s (%.2f× A's), %s (%.2f×), %d", roundDur(b), wall, roundDur(time.Duration(median(bcpu))), cpu, ph.revoke[st][0][1].TotalCalls())
			reload := twinCell(ph.reload[st])
			start := "n/a"
			if len(ph.start[st]) > 0 {
				start = twinCell(ph.start[st])
			}
			bytes := fmt.Sprintf("%.0f B", ph.bytes[st])
			if st == "storage" {
				bytes += fmt.Sprintf(" (%.1f files and folders)", ph.files[st])
			}
			s.printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", count(ph.n[st]), filled, ui, lg, rv, reload, start, bytes)
		}
		s.printf("\n")
		for k, ph := range phases[1:] {
			s.printf("Rounds at %s sessions, B / A by CPU: userinfo %s; login %s.\n", count(ph.n[st]), joinRatios(cpuRatios(ph.userinfo[st])), joinRatios(cpuRatios(ph.login[st])))
			_ = k
		}
		if calls := phases[len(phases)-1].revoke[st][0][1].Calls; len(calls) > 0 {
			var ops []string
			for op, n := range calls {
				ops = append(ops, fmt.Sprintf("%s %d", op, n))
			}
			slices.Sort(ops)
			s.printf("\nA revocation's store calls at %s sessions: %s.\n", count(phases[len(phases)-1].n[st]), strings.Join(ops, ", "))
		}
		s.printf("\n")
	}

	s.printf("#### Expiry\n\n| store | what removes an expired session | on a request |\n|---|---|---|\n")
	s.printf("| memory | a read of it; the sweep that starts each write, which takes expired records from the fronts of the expiry queues (a heap per eviction class, whose entries only a push or a pop moves); a count (metrics, admin API) | a login's write removes what expired since the last write, at most 8 records and 32 queue entries; the rest waits for the next write or count |\n")
	s.printf("| storage | the sweeper, every minute, under the storage's lock: it lists the expiry buckets' names (one per 5 minutes of lifetime) and, for buckets ended a width ago, deletes the records their entries name, a bounded number per run | never; a read refuses an expired record by the expiry it carries |\n")
	s.printf("| redis | Redis itself (`PX` expiry: on access, and its sampling active expiry); an index entry, when its user's set is next added to or when the set's own expiry passes | never |\n\n")
	s.printf("Memory store, %s sessions of site B left to expire among the others:\n\n| sessions (site B) | the next write | the sweep of the rest | per expired session |\n|---|---|---|---|\n", count(scaleExpiring))
	for _, ph := range phases {
		e := ph.expire["memory"]
		s.printf("| %s | %s | %s | %s |\n", count(ph.n["memory"]), roundDur(secs(e.PutSeconds)), roundDur(secs(e.SweepSeconds)),
			roundDur(secs((e.PutSeconds+e.SweepSeconds)/scaleExpiring)))
	}
	s.printf("\n")

	sum := &section{name: "scale-summary"}
	sum.printf("Command: `%s`. Machine: %s. Pair 7: costs at the largest N over the same costs at 1,000 sessions (below the target is better).\n\n| pair | measure | time ratio | CPU-per-operation ratio | target | verdict |\n|---|---|---|---|---|---|\n%s\n",
		command, machine(), strings.Join(scaleSummary(phases), "\n"))
	r.scaleSum = sum
}

// twinCell is the scale server's median CPU and time, each with its
// median ratio to the base server's.
func twinCell(ts [][2]timing) string {
	var scaleSide []timing
	for _, t := range ts {
		scaleSide = append(scaleSide, t[1])
	}
	m := medianTiming(scaleSide)
	wall, cpu := timingRatios(ts)
	return fmt.Sprintf("%s (%.2f×), %s (%.2f×)", roundDur(m.cpu), cpu, roundDur(m.wall), wall)
}

func joinCounts(ns []int) string {
	var out []string
	for _, n := range ns {
		out = append(out, count(n))
	}
	return strings.Join(out, ", ")
}

func joinRatios(xs []float64) string {
	var out []string
	for _, x := range xs {
		out = append(out, fmt.Sprintf("%.3f", x))
	}
	return strings.Join(out, ", ")
}

// svgSeries is one store's line in the plot.
type svgSeries struct {
	name, color string
	x           []int     // sessions
	y           []float64 // µs of CPU per request
}

// scaleSeries are the plot's lines: per store, site A's median at 1,000
// sessions and site B's median at each N.
func scaleSeries(so scaleOpts, phases []*scalePhase) []svgSeries {
	colors := map[string]string{"memory": "#1f77b4", "storage": "#d62728", "redis": "#2ca02c"}
	var out []svgSeries
	for _, st := range stores {
		a := baselineCPU(phases[1:], func(ph *scalePhase) []pairSample { return ph.userinfo[st] })
		sr := svgSeries{name: st, color: colors[st], x: []int{so.base}, y: []float64{float64(a) / 1e3}}
		for _, ph := range phases[1:] {
			sr.x = append(sr.x, ph.n[st])
			sr.y = append(sr.y, float64(medianCPU(ph.userinfo[st], 1))/1e3)
		}
		out = append(out, sr)
	}
	return out
}

func scaleSVG(so scaleOpts, phases []*scalePhase) []byte {
	return plotSVG("/api/userinfo: CPU per request against the sessions stored", scaleSeries(so, phases))
}

// plotSVG draws the series on a log scale of sessions and a linear scale
// of µs, from 0.
func plotSVG(title string, series []svgSeries) []byte {
	const w, h, left, right, top, bottom = 720, 420, 70, 150, 40, 60
	minX, maxX, maxY := math.Inf(1), math.Inf(-1), 0.0
	for _, s := range series {
		for i := range s.x {
			minX, maxX = math.Min(minX, float64(s.x[i])), math.Max(maxX, float64(s.x[i]))
			maxY = math.Max(maxY, s.y[i])
		}
	}
	lo, hi := math.Floor(math.Log10(minX)), math.Ceil(math.Log10(maxX))
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep(maxY * 1.15 / 5)
	top10 := math.Ceil(maxY*1.15/step) * step
	if top10 <= 0 {
		top10, step = 1, 0.2
	}
	px := func(x float64) float64 { return left + (math.Log10(x)-lo)/(hi-lo)*(w-left-right) }
	py := func(y float64) float64 { return h - bottom - y/top10*(h-top-bottom) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", left, xmlEscape(title))
	for e := lo; e <= hi; e++ {
		x := px(math.Pow(10, e))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top, x, h-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, h-bottom+18, count(int(math.Pow(10, e))))
	}
	for y := 0.0; y <= top10+step/2; y += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, py(y), w-right, py(y))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, py(y)+4, strconv.FormatFloat(y, 'f', -1, 64))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">sessions stored (log scale)</text>`+"\n", (left+w-right)/2, h-14)
	fmt.Fprintf(&b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">CPU per request (µs)</text>`+"\n", (top+h-bottom)/2, (top+h-bottom)/2)
	for i, s := range series {
		var pts []string
		for j := range s.x {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(float64(s.x[j])), py(s.y[j])))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		for j := range s.x {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, %s sessions: %.1f µs</title></circle>`+"\n",
				px(float64(s.x[j])), py(s.y[j]), s.color, s.name, count(s.x[j]), s.y[j])
		}
		ly := top + 10 + 22*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", w-right+16, ly, w-right+40, ly, s.color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", w-right+46, ly+4, xmlEscape(s.name))
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
