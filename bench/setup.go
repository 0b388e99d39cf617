package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The persona mockpass logs in without a login page; it has Myinfo data
// (mockpass crashes on a Myinfo scope for a persona without).
const persona = "S9812379B"

// scopes are those of the SDK's Express example, for both systems.
const scopes = "openid myinfo.name"

// stores are the plugin's session stores, each with a site of its own.
var stores = []string{"memory", "storage", "redis"}

// rig is everything the benchmarks run against.
type rig struct {
	ctx       context.Context
	work      string // temporary folder: Caddy's binary, config, data, profiles
	profiles  string // a folder to keep the profiles in instead
	servers   cpuSet // the core of the systems under test
	helpers   cpuSet // the core of load generators, mockpass and Redis
	clientKey string
	signKey   string

	mockpass   *proc
	mpOrigin   string
	redis      *proc
	redisAddr  string
	caddy      *proc
	admin      string         // Caddy's admin origin
	sites      map[string]int // store -> port
	upstream   int
	peer       *proc
	peerOrigin string

	// Learnt from a first login, to build the baselines.
	userinfoBody string
	sub          string
	authURLSize  int
	// sessionBody is the session route's answer to the first login: the
	// size of every later one (the times have as many digits).
	sessionBody string
	sessions    map[string]string // store -> a session cookie's value

	summary []string // one table row per result of this run
	// scaleSum is pair 7's summary, a section of its own.
	scaleSum *section
}

func (r *rig) site(store string) string { return fmt.Sprintf("http://127.0.0.1:%d", r.sites[store]) }

func (r *rig) stop() {
	r.peer.stop()
	r.caddy.stop()
	r.redis.stop()
	r.mockpass.stop()
}

// checkPrereqs names each missing tool or package with the way to get it.
func checkPrereqs(needWrk, needRedis, needPeer bool) error {
	var missing []string
	tools := []string{"node", "go"}
	if needWrk {
		tools = append(tools, "wrk")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (not in PATH; wrk is the Debian package wrk)")
		}
	}
	if needRedis {
		if _, err := exec.LookPath("redis-server"); err != nil {
			missing = append(missing, "redis-server (Debian package redis-server)")
		}
	}
	if _, err := os.Stat("internal/tests/conformance/node/node_modules/@opengovsg/mockpass/package.json"); err != nil {
		missing = append(missing, "mockpass: run `npm ci --prefix internal/tests/conformance/node`")
	}
	if needPeer {
		if _, err := os.Stat("bench/peers/express/node_modules/@opengovsg/sgid-client/package.json"); err != nil {
			missing = append(missing, "the Express peer's packages: run `npm ci --prefix bench/peers/express`")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing:\n  %s", strings.Join(missing, "\n  "))
	}
	return nil
}

// setUp builds Caddy, starts mockpass, Redis, Caddy and (with peer) the
// Express peer, logs in once on each site to learn the answers the
// baselines must match, and reloads Caddy with the baselines.
func (r *rig) setUp(peer bool) error {
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	certs := abs("internal/tests/conformance/node/node_modules/@opengovsg/mockpass/static/certs")
	r.clientKey = filepath.Join(certs, "key.pem")
	r.signKey = filepath.Join(certs, "spcp-key.pem")

	fmt.Println("building Caddy from this checkout ...")
	bin := filepath.Join(r.work, "caddy")
	build := exec.CommandContext(r.ctx, "go", "build", "-o", bin, "./cmd/caddy")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/caddy: %w\n%s", err, out)
	}

	var err error
	var port string
	r.mockpass, port, err = start(r.ctx, "mockpass", r.helpers, abs("internal/tests/conformance/node"),
		[]string{"MOCKPASS_NRIC=" + persona, "MOCKPASS_PORT=0", "NODE_ENV=production"},
		`(?m)^MOCKPASS_READY (\d+)$`, "node", "mockpass.cjs")
	if err != nil {
		return err
	}
	r.mpOrigin = "http://127.0.0.1:" + port
	if err := waitHTTP(r.mockpass, r.mpOrigin+"/v2/.well-known/jwks.json"); err != nil {
		return err
	}

	rp, err := freePort()
	if err != nil {
		return err
	}
	r.redisAddr = "127.0.0.1:" + strconv.Itoa(rp)
	r.redis, _, err = start(r.ctx, "redis-server", r.helpers, r.work, nil, "",
		"redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(rp), "--save", "", "--appendonly", "no")
	if err != nil {
		return err
	}
	if err := waitRedis(r.redis, r.redisAddr); err != nil {
		return err
	}

	r.sites = map[string]int{}
	ports := make([]int, 0, len(stores)+2)
	for range len(stores) + 2 {
		p, err := freePort()
		if err != nil {
			return err
		}
		ports = append(ports, p)
	}
	for i, s := range stores {
		r.sites[s] = ports[i]
	}
	r.upstream = ports[len(stores)]
	r.admin = fmt.Sprintf("http://127.0.0.1:%d", ports[len(stores)+1])
	cfg := filepath.Join(r.work, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(r.caddyfile(false)), 0o600); err != nil {
		return err
	}
	home := filepath.Join(r.work, "home")
	r.caddy, _, err = start(r.ctx, "caddy", r.servers, r.work,
		[]string{"XDG_DATA_HOME=" + filepath.Join(home, "data"), "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "HOME=" + home},
		"", bin, "run", "--config", cfg, "--adapter", "caddyfile")
	if err != nil {
		return err
	}
	if err := waitHTTP(r.caddy, r.site("memory")+"/api/userinfo"); err != nil {
		return err
	}

	// A first login tells the userinfo answer and the sub; an auth-url
	// call tells the size of its answer.
	c, err := login(r.ctx, r.site("memory"))
	if err != nil {
		return fmt.Errorf("first login through Caddy: %w", err)
	}
	status, _, body, err := get(r.ctx, c, r.site("memory")+"/api/userinfo")
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("userinfo after the first login: %d %v", status, err)
	}
	r.userinfoBody = string(body)
	var ui struct{ Sub string }
	if err := json.Unmarshal(body, &ui); err != nil || ui.Sub == "" {
		return fmt.Errorf("userinfo answer %q", body)
	}
	r.sub = ui.Sub
	status, _, body, err = get(r.ctx, c, r.site("memory")+"/api/session")
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("the session route after the first login: %d %v", status, err)
	}
	r.sessionBody = string(body)
	status, _, body, err = get(r.ctx, newBrowser(), r.site("memory")+"/api/auth-url")
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("auth-url: %d %v", status, err)
	}
	r.authURLSize = len(body)

	// Caddy again, now with the baselines and the guard.
	if err := r.load(r.caddyfile(true)); err != nil {
		return err
	}
	r.sessions = map[string]string{}
	for _, s := range stores {
		c, err := login(r.ctx, r.site(s))
		if err != nil {
			return fmt.Errorf("login on the %s site: %w", s, err)
		}
		if r.sessions[s], err = sessionCookie(c, r.site(s), "sgid_session"); err != nil {
			return err
		}
		// The baseline must answer exactly what userinfo answers.
		_, _, ui, err := get(r.ctx, c, r.site(s)+"/api/userinfo")
		if err != nil {
			return err
		}
		_, _, base, err := get(r.ctx, c, r.site(s)+"/baseline")
		if err != nil {
			return err
		}
		if string(ui) != string(base) {
			return fmt.Errorf("%s site: userinfo answers %q but the baseline %q", s, ui, base)
		}
		if s == "memory" {
			_, _, st, err := get(r.ctx, c, r.site(s)+"/api/session")
			if err != nil {
				return err
			}
			_, _, base, err := get(r.ctx, c, r.site(s)+"/session-baseline")
			if err != nil {
				return err
			}
			if len(st) != len(base) || !strings.Contains(string(st), `"active":true`) {
				return fmt.Errorf("the session route answers %q, its baseline %q: not of one size", st, base)
			}
		}
	}

	if peer {
		r.peer, port, err = start(r.ctx, "express peer", r.servers, abs("bench/peers/express"),
			[]string{"SGID_HOSTNAME=" + r.mpOrigin, "SGID_PRIVATE_KEY_FILE=" + r.clientKey, "SGID_SCOPES=" + scopes,
				"SGID_CLIENT_ID=bench-express", "PEER_PORT=0", "NODE_ENV=production"},
			`(?m)^PEER_READY (\d+)$`, "node", "--expose-gc", "server.mjs")
		if err != nil {
			return err
		}
		r.peerOrigin = "http://127.0.0.1:" + port
		if _, err := login(r.ctx, r.peerOrigin); err != nil {
			return fmt.Errorf("login through the Express peer: %w", err)
		}
	}
	return nil
}

// caddyfile is the benchmark's configuration: a site per session store,
// each with the plugin's routes and a plain `respond` baseline with the
// same answer as /api/userinfo; the memory site also has a route to an
// upstream through the guard and the same route without it, and a
// baseline of the size of auth-url's answer. Without baselines (before the
// first login) those routes are left out.
func (r *rig) caddyfile(baselines bool) string {
	var b strings.Builder
	b.WriteString(globalOptions(r.admin))
	fmt.Fprintf(&b, `
# The upstream both proxied routes reach.
http://127.0.0.1:%d {
	respond `+"`"+`{"orders":[1,2,3]}`+"`"+` 200
}
`, r.upstream)
	for _, s := range stores {
		common := fmt.Sprintf(`host %s
			client_id bench-%s
			client_secret the-mock-ignores-the-secret
			private_key {file.%s}
			scopes %s`, r.mpOrigin, s, r.clientKey, scopes)
		storeLine := "store " + s
		if s == "redis" {
			storeLine = fmt.Sprintf("store redis {\n\t\t\t\taddress %s\n\t\t\t}", r.redisAddr)
		}
		fmt.Fprintf(&b, "\nhttp://127.0.0.1:%d {\n", r.sites[s])
		if baselines {
			fmt.Fprintf(&b, "\thandle /baseline {\n\t\trespond `%s` 200\n\t}\n", r.userinfoBody)
		}
		if baselines && s == "memory" {
			pad := max(r.authURLSize-len(`{"url":""}`), 0)
			fmt.Fprintf(&b, "\thandle /authurl-baseline {\n\t\trespond `{\"url\":\"%s\"}` 200\n\t}\n", strings.Repeat("x", pad))
			fmt.Fprintf(&b, "\thandle /session-baseline {\n\t\trespond `%s` 200\n\t}\n", r.sessionBody)
			fmt.Fprintf(&b, `	handle /unguarded/* {
		reverse_proxy 127.0.0.1:%d
	}
	handle /chained/* {
		vars bench_chained 1
		reverse_proxy 127.0.0.1:%d
	}
	handle /guarded/* {
		sgid {
			%s
			%s
			protect /guarded/*
			identity_header sub X-Sgid-Sub
			identity_header myinfo.name X-Sgid-Name
			allow_sub %s
		}
		reverse_proxy 127.0.0.1:%d
	}
	handle /asserted/* {
		sgid {
			%s
			%s
			protect /asserted/*
			identity_header sub X-Sgid-Sub
			identity_header myinfo.name X-Sgid-Name
			allow_sub %s
			identity_assertion X-Sgid-Assertion {
				fields myinfo.name
			}
		}
		reverse_proxy 127.0.0.1:%d
	}
`, r.upstream, r.upstream, common, storeLine, r.sub, r.upstream, common, storeLine, r.sub, r.upstream)
		}
		fmt.Fprintf(&b, `	handle {
		sgid {
			%s
			%s
		}
		respond /logged-in "logged in" 200
		respond "not found" 404
	}
}
`, common, storeLine)
	}
	return b.String()
}

// globalOptions is the global block of every Caddy the bench runs, with
// its admin endpoint at admin: loopback only, no certificates, errors
// only in the log.
func globalOptions(admin string) string {
	return fmt.Sprintf(`{
	admin %s
	default_bind 127.0.0.1
	auto_https off
	skip_install_trust
	grace_period 1s
	log {
		level ERROR
	}
}
`, strings.TrimPrefix(admin, "http://"))
}

// load replaces Caddy's configuration through its admin endpoint.
func (r *rig) load(caddyfile string) error {
	return loadConfig(r.ctx, r.admin, caddyfile, false)
}

// caddyHeap is Caddy's live Go heap (see heapOf).
func (r *rig) caddyHeap() (float64, error) { return heapOf(r.admin) }

// heapOf is the live Go heap of the Caddy whose admin endpoint is admin: a
// heap profile with gc=1 collects garbage first, then /debug/vars tells
// HeapAlloc.
func heapOf(admin string) (float64, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	for range 2 {
		resp, err := c.Get(admin + "/debug/pprof/heap?gc=1")
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := c.Get(admin + "/debug/vars")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var vars struct{ Memstats struct{ HeapAlloc uint64 } }
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil || vars.Memstats.HeapAlloc == 0 {
		return 0, fmt.Errorf("Caddy's /debug/vars: %v", err)
	}
	return float64(vars.Memstats.HeapAlloc), nil
}

// peerHeap is the peer's V8 heap in use after two forced collections.
func (r *rig) peerHeap() (float64, error) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(r.peerOrigin + "/debug/heap")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var h struct{ HeapUsed float64 }
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h.HeapUsed == 0 {
		return 0, fmt.Errorf("the peer's /debug/heap: %d %v", resp.StatusCode, err)
	}
	return h.HeapUsed, nil
}
