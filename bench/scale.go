package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddy-sgid/caddy-sgid/bench/scale"
)

// Pair 7 measures what N stored sessions cost: each store's figures at N
// sessions of distinct users against the same figures at 1,000.
//
// Each store gets a Caddy of its own (the suite's build of bench/caddy,
// which adds an admin module of the benchmark's) with two sites of the
// same store: site A holds the baseline's 1,000 sessions throughout, and
// site B is filled phase by phase to each N. The sessions are written
// through the store's API inside that Caddy, by a session manager on the
// site's own store and scope, as logins leave them (see bench/caddy):
// record, claim, index entry. Requests and logins then alternate between A
// and B, so that a ratio B / A compares moments of the same machine.
// Sites use cache_ttl 0: every request reads its session from the store
// and opens it, so neither the read cache nor the memo hides the store,
// and userinfo picks its session at random among the site's.

// scaleOpts are pair 7's knobs.
type scaleOpts struct {
	base   int              // sessions of site A, and of B in the first phase
	steps  map[string][]int // by store: site B's sessions in each later phase
	rounds int
	svg    string // where the plot goes ("": none)
}

// parseScaleSteps reads a comma-separated list of session counts, each
// above base and each above the one before.
func parseScaleSteps(list string, base int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(f), "_", ""))
		if err != nil {
			return nil, fmt.Errorf("%q: not a number of sessions", f)
		}
		prev := base
		if len(out) > 0 {
			prev = out[len(out)-1]
		}
		if n <= prev {
			return nil, fmt.Errorf("%d sessions: each step must be above %d", n, prev)
		}
		out = append(out, n)
	}
	return out, nil
}

// newScaleOpts checks pair 7's flags: shared is the steps of the memory
// and Redis stores, storage those of the storage store, in as many steps.
func newScaleOpts(base int, shared, storage string, rounds int, svg string) (scaleOpts, error) {
	if base < 10 {
		return scaleOpts{}, fmt.Errorf("-scale-base %d: at least 10 sessions", base)
	}
	if rounds < 3 {
		return scaleOpts{}, fmt.Errorf("-scale-rounds %d: at least 3 rounds make a median", rounds)
	}
	sh, err := parseScaleSteps(shared, base)
	if err != nil {
		return scaleOpts{}, fmt.Errorf("-scale-n: %w", err)
	}
	st, err := parseScaleSteps(storage, base)
	if err != nil {
		return scaleOpts{}, fmt.Errorf("-scale-storage-n: %w", err)
	}
	if len(st) != len(sh) {
		return scaleOpts{}, fmt.Errorf("-scale-n has %d steps and -scale-storage-n %d: give as many", len(sh), len(st))
	}
	return scaleOpts{base: base, steps: map[string][]int{"memory": sh, "storage": st, "redis": sh}, rounds: rounds, svg: svg}, nil
}

// phases is the number of phases: the baseline's and one per step.
func (so scaleOpts) phases() int { return 1 + len(so.steps["memory"]) }

// sessionsAt is site B's sessions of store in phase k.
func (so scaleOpts) sessionsAt(store string, k int) int {
	if k == 0 {
		return so.base
	}
	return so.steps[store][k-1]
}

// Fixed quantities of pair 7.
const (
	scaleRevokes  = 101              // users revoked on each site per phase
	scaleReloads  = 9                // forced config reloads per server and phase
	scaleStarts   = 3                // restarts per store and phase (storage, redis)
	scaleExpiring = 10_000           // sessions left to expire per phase (memory)
	scaleLifetime = 12 * time.Hour   // the sites' session_lifetime (the default)
	scaleSpread   = 11 * time.Hour   // filled sessions logged in up to this long ago
	scaleMaxLoad  = 10 * time.Minute // bounds one admin call (a fill's chunk)
	fillChunk     = 100_000          // sessions per fill call
	scaleReady    = 60 * time.Second // bounds a start
	memoryBound   = 3_000_000        // the memory sites' max_entries
	scalePoll     = 5 * time.Millisecond
)

// fillConcurrency is how many Creates a fill runs at once, by store: the
// memory store is bound by one core, Redis by round trips, the file
// system by fsync.
var fillConcurrency = map[string]int{"memory": 4, "storage": 64, "redis": 32}

// scaleSite is one site of a scale server.
type scaleSite struct {
	label string // "A" or "B"
	port  int
	scope string
	seed  string // the seed of its main fill
	n     int    // sessions of its main fill
	sub   string // the mock persona's sub on this site
}

// scaleServer is the Caddy of one store, with its two sites.
type scaleServer struct {
	store     string
	role      string          // "scale", or "base" for the twin that stays at the baseline
	storeLine string          // the sites' store directive
	storeJSON json.RawMessage // the same, as the fill module opens it
	admin     string
	home      string
	cfg       string // the Caddyfile's text
	cfgFile   string
	bin       string
	proc      *proc
	extra     []*proc // other processes whose CPU counts: Redis
	sites     [2]*scaleSite
}

func (sv *scaleServer) origin(i int) string {
	return fmt.Sprintf("http://127.0.0.1:%d", sv.sites[i].port)
}

func (sv *scaleServer) target(i int) scale.Target {
	return scale.Target{Store: sv.storeJSON, Scope: sv.sites[i].scope}
}

// procs are the processes whose CPU time a measure of sv counts.
func (sv *scaleServer) procs() []*proc { return append([]*proc{sv.proc}, sv.extra...) }

// timing is one timed operation: CPU time and wall time.
type timing struct{ cpu, wall time.Duration }

// scalePhase is what one phase measured, by store.
type scalePhase struct {
	n        map[string]int // site B's sessions
	fillN    map[string]int // sessions of the phase's main fill
	fillTook map[string]time.Duration
	bytes    map[string]float64 // growth over the main fill (heap, used_memory, disk)
	files    map[string]float64 // storage: files and folders per session
	userinfo map[string][]pairSample
	login    map[string][]pairSample
	logins   [][]sample // the rotation's samples, in scaleContenders' order
	revoke   map[string][][2]scale.RevokeAnswer
	// revokeCPU is the servers' CPU time around each revocation's admin
	// call, sites A and B.
	revokeCPU map[string][][2]time.Duration
	// reload and start hold the base server's timing and the scale
	// server's, taken in turn.
	reload map[string][][2]timing
	start  map[string][][2]timing
	expire map[string]scale.ExpireAnswer
}

// pairSample is one round's samples of sites A and B.
type pairSample [2]sample

func newScalePhase() *scalePhase {
	return &scalePhase{
		n: map[string]int{}, fillN: map[string]int{}, fillTook: map[string]time.Duration{},
		bytes: map[string]float64{}, files: map[string]float64{},
		userinfo: map[string][]pairSample{}, login: map[string][]pairSample{},
		revoke: map[string][][2]scale.RevokeAnswer{}, revokeCPU: map[string][][2]time.Duration{}, reload: map[string][][2]timing{},
		start: map[string][][2]timing{}, expire: map[string]scale.ExpireAnswer{},
	}
}

// pairScale runs pair 7.
func (r *rig) pairScale(o opts, command string) (*section, error) {
	so := o.scale
	s := &section{name: "scale"}
	headerSection(s, "7. Scale: each store at N sessions against 1,000", command)
	fmt.Println("pair 7: building the suite's Caddy (bench/caddy) ...")
	bin := filepath.Join(r.work, "caddy-bench")
	build := exec.CommandContext(r.ctx, "go", "build", "-o", bin, "./bench/caddy")
	if out, err := build.CombinedOutput(); err != nil {
		return s, fmt.Errorf("go build ./bench/caddy: %v\n%s", err, out)
	}
	// Each store has a scale server, whose site B grows, and a base
	// server, its twin, whose sites stay at the baseline: reloads and
	// starts of the two alternate, so that their ratio compares moments
	// of the same machine.
	var servers, all []*scaleServer
	bases := map[string]*scaleServer{}
	defer func() {
		for _, sv := range all {
			sv.proc.stop()
		}
	}()
	for _, st := range stores {
		for _, role := range []string{"scale", "base"} {
			sv, err := r.startScaleServer(st, role, bin)
			if err != nil {
				return s, err
			}
			all = append(all, sv)
			if role == "base" {
				bases[st] = sv
			} else {
				servers = append(servers, sv)
			}
		}
	}
	data, err := r.userinfoData()
	if err != nil {
		return s, err
	}

	var phases []*scalePhase
	for k := range so.phases() {
		ph := newScalePhase()
		phases = append(phases, ph)
		fmt.Printf("pair 7, phase %d: filling", k)
		for _, sv := range servers {
			ph.n[sv.store] = so.sessionsAt(sv.store, k)
			fmt.Printf(" %s to %d;", sv.store, ph.n[sv.store])
		}
		fmt.Println()
		if err := r.scaleFillAll(servers, bases, so, k, ph, data); err != nil {
			return s, err
		}
		if err := r.scaleMeasure(servers, bases, so, o, k, ph, data); err != nil {
			return s, err
		}
	}
	r.scaleReport(s, so, o, command, phases)
	if so.svg != "" {
		if err := os.MkdirAll(filepath.Dir(so.svg), 0o755); err != nil {
			return s, err
		}
		if err := os.WriteFile(so.svg, scaleSVG(so, phases), 0o644); err != nil {
			return s, err
		}
		fmt.Println("  wrote", so.svg)
	}
	return s, nil
}

// startScaleServer writes the Caddyfile of store's server, starts it and
// learns its sites' scopes and the mock persona's sub on each.
func (r *rig) startScaleServer(store, role, bin string) (*scaleServer, error) {
	sv := &scaleServer{store: store, role: role, bin: bin, home: filepath.Join(r.work, role+"-"+store)}
	switch store {
	case "memory":
		sv.storeLine = fmt.Sprintf("store memory {\n\t\t\t\tmax_entries %d\n\t\t\t}", memoryBound)
		sv.storeJSON = json.RawMessage(fmt.Sprintf(`{"module":"memory","max_entries":%d}`, memoryBound))
	case "storage":
		sv.storeLine = "store storage"
		sv.storeJSON = json.RawMessage(`{"module":"storage"}`)
	case "redis":
		sv.storeLine = fmt.Sprintf("store redis {\n\t\t\t\taddress %s\n\t\t\t}", r.redisAddr)
		sv.storeJSON = json.RawMessage(fmt.Sprintf(`{"module":"redis","addresses":[%q]}`, r.redisAddr))
		sv.extra = []*proc{r.redis}
	}
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	sv.admin = fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	for i, label := range []string{"A", "B"} {
		sv.sites[i] = &scaleSite{label: label, port: ports[i], seed: strings.ToLower(label)}
	}
	sv.cfg = r.scaleCaddyfile(sv)
	if err := os.MkdirAll(sv.home, 0o700); err != nil {
		return nil, err
	}
	sv.cfgFile = filepath.Join(sv.home, "Caddyfile")
	if err := os.WriteFile(sv.cfgFile, []byte(sv.cfg), 0o600); err != nil {
		return nil, err
	}
	if err := r.runScaleServer(sv); err != nil {
		return nil, err
	}
	if err := waitHTTP(sv.proc, sv.origin(1)+"/api/userinfo"); err != nil {
		return nil, err
	}
	scopes, err := siteScopes(r.ctx, sv.admin)
	if err != nil {
		return nil, err
	}
	for i, site := range sv.sites {
		if site.scope = scopes[site.port]; site.scope == "" {
			return nil, fmt.Errorf("%s: no sgid scope for port %d in %v", store, site.port, scopes)
		}
		c, err := login(r.ctx, sv.origin(i))
		if err != nil {
			return nil, fmt.Errorf("login on the %s scale site %s: %w", store, site.label, err)
		}
		_, _, body, err := get(r.ctx, c, sv.origin(i)+"/api/userinfo")
		var ui struct{ Sub string }
		if err != nil || json.Unmarshal(body, &ui) != nil || ui.Sub == "" {
			return nil, fmt.Errorf("userinfo on the %s scale site %s: %v %.200q", store, site.label, err, body)
		}
		site.sub = ui.Sub
	}
	return sv, nil
}

// runScaleServer starts sv's Caddy on the servers' core.
func (r *rig) runScaleServer(sv *scaleServer) error {
	var err error
	sv.proc, _, err = start(r.ctx, "caddy ("+sv.store+", "+sv.role+")", r.servers, sv.home,
		[]string{"XDG_DATA_HOME=" + filepath.Join(sv.home, "data"), "XDG_CONFIG_HOME=" + filepath.Join(sv.home, "config"), "HOME=" + sv.home},
		"", sv.bin, "run", "--config", sv.cfgFile, "--adapter", "caddyfile")
	return err
}

// scaleCaddyfile is a scale server's configuration: sites A and B, each
// with the sgid handler on the server's store under a client id of its own
// (so a scope of its own), and cache_ttl 0.
func (r *rig) scaleCaddyfile(sv *scaleServer) string {
	var b strings.Builder
	b.WriteString(globalOptions(sv.admin))
	for _, site := range sv.sites {
		fmt.Fprintf(&b, `
http://127.0.0.1:%d {
	handle {
		sgid {
			host %s
			client_id bench-%s-%s-%s
			client_secret the-mock-ignores-the-secret
			private_key {file.%s}
			scopes %s
			%s
			cache_ttl 0
		}
		respond /logged-in "logged in" 200
		respond "not found" 404
	}
}
`, site.port, r.mpOrigin, sv.role, sv.store, strings.ToLower(site.label), r.clientKey, scopes, sv.storeLine)
	}
	return b.String()
}

// siteScopes maps each sgid site's port to its session scope, from the
// admin API's list of sites and Caddy's config of its servers.
func siteScopes(ctx context.Context, admin string) (map[int]string, error) {
	var sess struct {
		Sites []struct {
			Scope   string
			Servers []string
		}
	}
	if err := adminJSON(ctx, http.MethodGet, admin+"/sgid/sessions", nil, &sess); err != nil {
		return nil, err
	}
	var servers map[string]struct{ Listen []string }
	if err := adminJSON(ctx, http.MethodGet, admin+"/config/apps/http/servers", nil, &servers); err != nil {
		return nil, err
	}
	out := map[int]string{}
	for _, site := range sess.Sites {
		for _, name := range site.Servers {
			for _, l := range servers[name].Listen {
				p, err := strconv.Atoi(l[strings.LastIndexByte(l, ':')+1:])
				if err != nil {
					return nil, fmt.Errorf("server %s listens on %q", name, l)
				}
				out[p] = site.Scope
			}
		}
	}
	return out, nil
}

// adminJSON calls an admin route with body (JSON, when not nil) and decodes
// its answer into out (when not nil). An answer other than 200 is an
// error holding its text.
func adminJSON(ctx context.Context, method, u string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, scaleMaxLoad)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %d %.500s", method, u, resp.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// userinfoData is the data of the mock persona's session, which every
// filled session carries, so that records have a real record's size.
func (r *rig) userinfoData() (map[string]string, error) {
	var ui struct{ Data map[string]string }
	if err := json.Unmarshal([]byte(r.userinfoBody), &ui); err != nil || len(ui.Data) == 0 {
		return nil, fmt.Errorf("the userinfo answer %.200q has no data", r.userinfoBody)
	}
	return ui.Data, nil
}

// fill fills sessions from to to of site i of sv under seed, per
// sessions per user, in calls of fillChunk sessions at most, so that each
// call stays well within scaleMaxLoad however slow the store: a million
// sessions of Redis on a loaded machine take about as long as one call
// may. The answer sums the calls'.
func (r *rig) fill(sv *scaleServer, i int, seed string, from, to, per int, data map[string]string) (scale.FillAnswer, error) {
	var sum scale.FillAnswer
	for _, c := range fillChunks(from, to, per) {
		f := scale.Fill{Target: sv.target(i), Seed: seed, From: c[0], To: c[1], PerUser: per, Data: data,
			Lifetime: scaleLifetime, Spread: scaleSpread, Concurrency: fillConcurrency[sv.store]}
		var a scale.FillAnswer
		if err := adminJSON(r.ctx, http.MethodPost, sv.admin+scale.FillPath, f, &a); err != nil {
			return sum, fmt.Errorf("%s: fill %q of site %s: %w", sv.store, seed, sv.sites[i].label, err)
		}
		sum.Created += a.Created
		sum.Seconds += a.Seconds
	}
	if sum.Created != to-from {
		return sum, fmt.Errorf("%s: fill %q of site %s created %d of %d", sv.store, seed, sv.sites[i].label, sum.Created, to-from)
	}
	return sum, nil
}

// fillChunks cuts sessions from to to into ranges of fillChunk sessions
// at most, each starting on a user's first session (a multiple of per),
// so that no user's sessions are split between two calls.
func fillChunks(from, to, per int) [][2]int {
	var out [][2]int
	step := max(fillChunk/per, 1) * per
	for lo := from; lo < to; {
		hi := min((lo/step+1)*step, to)
		out = append(out, [2]int{lo, hi})
		lo = hi
	}
	return out
}

// scaleFillAll brings each scale server's site B (and in phase 0 site A)
// to its sessions of phase k, the servers at once, measuring what the
// store grew by; then it fills the users the phase revokes. In phase 0 it
// then fills the base servers' sites to the baseline too, after the
// measured fills, since the Redis servers share one Redis.
func (r *rig) scaleFillAll(servers []*scaleServer, bases map[string]*scaleServer, so scaleOpts, k int, ph *scalePhase, data map[string]string) error {
	if err := r.fillAtOnce(servers, func(sv *scaleServer) error { return r.scaleFill(sv, so, k, ph, data) }); err != nil {
		return err
	}
	if k > 0 {
		return nil
	}
	var bs []*scaleServer
	for _, st := range stores {
		bs = append(bs, bases[st])
	}
	return r.fillAtOnce(bs, func(sv *scaleServer) error { return r.baseFill(sv, so, data) })
}

// fillAtOnce runs fill on every server at once, with the servers allowed
// on every core meanwhile; the measures after it run with the servers on
// their own core again.
func (r *rig) fillAtOnce(servers []*scaleServer, fill func(*scaleServer) error) error {
	if err := r.spread(servers, true); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for j, sv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[j] = fill(sv)
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, r.spread(servers, false))...)
}

// baseFill fills both sites of a base server to the baseline.
func (r *rig) baseFill(sv *scaleServer, so scaleOpts, data map[string]string) error {
	for i, site := range sv.sites {
		if _, err := r.fill(sv, i, site.seed, 0, so.base, 1, data); err != nil {
			return err
		}
		site.n = so.base
	}
	return nil
}

// spread lets the servers' threads run on every core (wide), or pins them
// back to the servers' core and waits until each runtime has taken
// GOMAXPROCS back to one: Go follows its affinity within a second or two.
func (r *rig) spread(servers []*scaleServer, wide bool) error {
	if r.servers == "" {
		return nil
	}
	cpus, procs := string(r.servers), 1
	if wide {
		cpus, procs = fmt.Sprintf("0-%d", nproc()-1), nproc()
	}
	for _, sv := range servers {
		out, err := exec.CommandContext(r.ctx, "taskset", "-a", "-p", "-c", cpus, strconv.Itoa(sv.proc.pid())).CombinedOutput()
		if err != nil {
			return fmt.Errorf("taskset %s: %v\n%s", sv.store, err, out)
		}
	}
	for _, sv := range servers {
		deadline := time.Now().Add(15 * time.Second)
		for {
			n, err := gomaxprocs(r.ctx, sv.admin)
			if err != nil {
				return fmt.Errorf("%s: %w", sv.store, err)
			}
			if n == procs {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: GOMAXPROCS %d, not %d, 15 s after taskset -c %s", sv.store, n, procs, cpus)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// gomaxprocs is the GOMAXPROCS of the Caddy at admin, from its metrics.
func gomaxprocs(ctx context.Context, admin string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, admin+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return metricValue(string(b), "go_sched_gomaxprocs_threads")
}

// metricValue reads a gauge without labels from Prometheus' text format.
func metricValue(text, name string) (int, error) {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("no %s in the metrics", name)
}

// scaleFillMu guards a phase's maps while the servers fill at once.
var scaleFillMu sync.Mutex

func (r *rig) scaleFill(sv *scaleServer, so scaleOpts, k int, ph *scalePhase, data map[string]string) error {
	before, files0, err := r.storeSize(sv)
	if err != nil {
		return err
	}
	sites := []int{1}
	if k == 0 {
		sites = []int{0, 1}
	}
	want := so.sessionsAt(sv.store, k)
	var n int
	var took time.Duration
	for _, i := range sites {
		site := sv.sites[i]
		a, err := r.fill(sv, i, site.seed, site.n, want, 1, data)
		if err != nil {
			return err
		}
		n += want - site.n
		took += time.Duration(a.Seconds * float64(time.Second))
		site.n = want
	}
	after, files1, err := r.storeSize(sv)
	if err != nil {
		return err
	}
	// The users this phase revokes: three sessions each, on both sites.
	for i := range sv.sites {
		if _, err := r.fill(sv, i, revokeSeed(k), 0, 3*scaleRevokes, 3, data); err != nil {
			return err
		}
	}
	scaleFillMu.Lock()
	defer scaleFillMu.Unlock()
	ph.fillN[sv.store], ph.fillTook[sv.store] = n, took
	ph.bytes[sv.store] = (after - before) / float64(n)
	ph.files[sv.store] = (files1 - files0) / float64(n)
	fmt.Printf("  %s: %d sessions in %s (%.0f/s), %.0f B per session\n", sv.store, n, took.Round(time.Millisecond),
		float64(n)/took.Seconds(), ph.bytes[sv.store])
	return nil
}

func revokeSeed(k int) string { return "revoke-" + strconv.Itoa(k) }

// storeSize is what sv's store holds now: the memory store's Caddy's live
// heap, Redis's used_memory, or the bytes on disk of the storage sites'
// folders (and their files and folders).
func (r *rig) storeSize(sv *scaleServer) (size, files float64, err error) {
	switch sv.store {
	case "memory":
		h, err := heapOf(sv.admin)
		return h, 0, err
	case "redis":
		info, err := redisInfo(r.redisAddr, "memory")
		if err != nil {
			return 0, 0, err
		}
		v, err := strconv.ParseFloat(info["used_memory"], 64)
		return v, 0, err
	}
	var dirs []string
	for _, site := range sv.sites {
		dirs = append(dirs, filepath.Join(sv.home, "data", "caddy", "sgid", site.scope))
	}
	b, n, err := diskUsage(dirs...)
	return float64(b), float64(n), err
}
