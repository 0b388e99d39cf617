package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/caddy-sgid/caddy-sgid/bench/scale"
)

// Pair 7's measures of one phase: userinfo, logins, revocations, reloads,
// starts and the memory store's expiry.

// scaleMeasure measures phase k on every server: userinfo and logins at
// site B against site A (from the second phase on), a revocation on each
// site, reloads, restarts and, on the memory store, expiry.
func (r *rig) scaleMeasure(servers []*scaleServer, bases map[string]*scaleServer, so scaleOpts, o opts, k int, ph *scalePhase, data map[string]string) error {
	if k > 0 {
		for _, sv := range servers {
			fmt.Printf("  %s: userinfo at %d sessions (B) vs %d (A), CPU per request\n", sv.store, sv.sites[1].n, sv.sites[0].n)
			rounds, err := r.scaleUserinfo(sv, so, o)
			if err != nil {
				return err
			}
			ph.userinfo[sv.store] = rounds
		}
		fmt.Printf("  logins, %d clients, each site of each store in turn\n", journeyClients)
		samples, err := r.scaleLogins(servers, so, o)
		if err != nil {
			return err
		}
		ph.logins = samples
		for j, sv := range servers {
			for _, round := range samples {
				ph.login[sv.store] = append(ph.login[sv.store], pairSample{round[2*j], round[2*j+1]})
			}
		}
		// The logins filed sessions under the persona; its set goes, so
		// that the next phase starts as this one did.
		for _, sv := range servers {
			for _, site := range sv.sites {
				if err := adminJSON(r.ctx, http.MethodDelete, sv.admin+"/sgid/sessions?sub="+url.QueryEscape(site.sub), nil, nil); err != nil {
					return err
				}
			}
		}
	}
	for _, sv := range servers {
		if err := r.scaleRevoke(sv, k, ph); err != nil {
			return err
		}
		if err := r.scaleReload(sv, bases[sv.store], ph); err != nil {
			return err
		}
		if sv.store != "memory" {
			// A memory store's sessions do not outlive its process.
			if err := r.scaleRestart(sv, bases[sv.store], ph); err != nil {
				return err
			}
		} else {
			var a scale.ExpireAnswer
			e := scale.Expire{Target: sv.target(1), Seed: "expire-" + strconv.Itoa(k), Count: scaleExpiring, TTL: time.Second, Data: data}
			if err := adminJSON(r.ctx, http.MethodPost, sv.admin+scale.ExpirePath, e, &a); err != nil {
				return err
			}
			if a.After != a.Before {
				return fmt.Errorf("memory: %d sessions before %d expiring ones, %d after they expired", a.Before, scaleExpiring, a.After)
			}
			ph.expire[sv.store] = a
			fmt.Printf("  memory: %d sessions expired among %d: the next write took %s, the sweep of the rest %s\n",
				scaleExpiring, a.Before, secs(a.PutSeconds), secs(a.SweepSeconds))
		}
	}
	return nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// idRequest is a GET of a path of a site with the session cookie of a
// session picked at random, per call, among sessions 0 to n-1 of the fill
// seed.
type idRequest struct {
	name       string
	addr       string
	head, tail []byte // the request before and after the cookie's value
	seed       string
	n          int
}

// idPlaceholder stands for the session id in the request newIDRequest
// writes, to be cut there.
var idPlaceholder = strings.Repeat("@", 43)

func newIDRequest(name, target, cookie, seed string, n int) (*idRequest, error) {
	if n < 1 {
		return nil, fmt.Errorf("%s: no session to pick", name)
	}
	fr, err := newFixedRequest(name, target, "Cookie: "+cookie+"="+idPlaceholder)
	if err != nil {
		return nil, err
	}
	i := bytes.Index(fr.raw, []byte(idPlaceholder))
	return &idRequest{name: name, addr: fr.addr, head: fr.raw[:i], tail: fr.raw[i+len(idPlaceholder):], seed: seed, n: n}, nil
}

func (r *idRequest) label() string { return r.name }

func (r *idRequest) send(c *client) error {
	c.buf = append(append(append(c.buf[:0], r.head...), scale.ID(r.seed, c.rng.IntN(r.n))...), r.tail...)
	return c.roundTrip(r.name, r.addr, c.buf)
}

// scaleUserinfo measures userinfo on sessions picked at random on sites A
// and B of sv, alternating in slices as pairs 1 to 3 do.
func (r *rig) scaleUserinfo(sv *scaleServer, so scaleOpts, o opts) ([]pairSample, error) {
	var reqs [2]loadTarget
	for i, site := range sv.sites {
		req, err := newIDRequest(fmt.Sprintf("userinfo %s, %d sessions", site.label, site.n), sv.origin(i)+"/api/userinfo", "sgid_session", site.seed, site.n)
		if err != nil {
			return nil, err
		}
		reqs[i] = req
	}
	l := newSlicedLoad()
	defer l.close()
	if _, err := r.sliced(r.ctx, l, sv.procs(), reqs, 2, 1); err != nil {
		return nil, err
	}
	var out []pairSample
	for round := 1; round <= so.rounds; round++ {
		got, err := r.sliced(r.ctx, l, sv.procs(), reqs, slicedPerWindow(o.window), round)
		if err != nil {
			return nil, err
		}
		if err := sv.proc.alive(); err != nil {
			return nil, err
		}
		out = append(out, pairSample(got))
		fmt.Printf("    round %d: A %s/req, B %s/req, B / A %.3f\n", round, got[0].cpu, got[1].cpu, float64(got[1].cpu)/float64(got[0].cpu))
	}
	return out, nil
}

// scaleContenders are the login rotation's sides: sites A and B of each
// server, in that order.
func (r *rig) scaleContenders(servers []*scaleServer, o opts) []contender {
	var cs []contender
	for _, sv := range servers {
		for i, site := range sv.sites {
			origin := sv.origin(i)
			procs := sv.procs()
			cs = append(cs, contender{sv.store + " " + site.label, func(ctx context.Context) (sample, error) {
				c0, err := runTimes(procs)
				if err != nil {
					return sample{}, err
				}
				n, elapsed, err := untilDeadline(ctx, journeyClients, o.window, journeyOnce(origin))
				if err != nil {
					return sample{}, err
				}
				c1, err := runTimes(procs)
				if err != nil {
					return sample{}, err
				}
				if n == 0 {
					return sample{}, fmt.Errorf("%s: no login in the window", origin)
				}
				return sample{rate: float64(n) / elapsed.Seconds(), cpu: (c1 - c0) / time.Duration(n)}, nil
			}})
		}
	}
	return cs
}

// scaleLogins runs the logins' rotation over every site of every server.
func (r *rig) scaleLogins(servers []*scaleServer, so scaleOpts, o opts) ([][]sample, error) {
	cs := r.scaleContenders(servers, o)
	if err := warm(r.ctx, cs...); err != nil {
		return nil, err
	}
	return rotation(r.ctx, so.rounds, cs)
}

// scaleRevoke revokes users of three sessions each on sites A and B of
// sv, in turn, the site going first swapped every time.
func (r *rig) scaleRevoke(sv *scaleServer, k int, ph *scalePhase) error {
	for j := range scaleRevokes {
		var got [2]scale.RevokeAnswer
		var cpu [2]time.Duration
		for _, i := range turn(j) {
			rv := scale.Revoke{Target: sv.target(i), Sub: scale.Sub(revokeSeed(k), j)}
			c0, err := runTimes(sv.procs())
			if err != nil {
				return err
			}
			if err := adminJSON(r.ctx, http.MethodPost, sv.admin+scale.RevokePath, rv, &got[i]); err != nil {
				return err
			}
			c1, err := runTimes(sv.procs())
			if err != nil {
				return err
			}
			cpu[i] = c1 - c0
			if got[i].Ended != 3 {
				return fmt.Errorf("%s: revoking user %d on site %s ended %d sessions, want 3", sv.store, j, sv.sites[i].label, got[i].Ended)
			}
		}
		ph.revoke[sv.store] = append(ph.revoke[sv.store], got)
		ph.revokeCPU[sv.store] = append(ph.revokeCPU[sv.store], cpu)
	}
	a, b := revokeTimes(ph.revoke[sv.store])
	fmt.Printf("  %s: revoking a user of 3 sessions: A %s, B %s (medians), %d store calls at B\n", sv.store,
		a.Round(time.Microsecond), b.Round(time.Microsecond), ph.revoke[sv.store][0][1].TotalCalls())
	return nil
}

// revokeTimes are the median revocation times of sites A and B.
func revokeTimes(rs [][2]scale.RevokeAnswer) (a, b time.Duration) {
	var as, bs []float64
	for _, r := range rs {
		as, bs = append(as, r[0].Seconds), append(bs, r[1].Seconds)
	}
	return secs(median(as)), secs(median(bs))
}

// scaleReload reloads the configs of the base server and of sv, in turn,
// forced, a few times each, timing each reload.
func (r *rig) scaleReload(sv, base *scaleServer, ph *scalePhase) error {
	for j := range scaleReloads {
		var got [2]timing
		for _, i := range turn(j) {
			v := [2]*scaleServer{base, sv}[i]
			c0, err := v.proc.runTime()
			if err != nil {
				return err
			}
			t0 := time.Now()
			if err := loadConfig(r.ctx, v.admin, v.cfg, true); err != nil {
				return fmt.Errorf("%s, %s: %w", v.store, v.role, err)
			}
			wall := time.Since(t0)
			c1, err := v.proc.runTime()
			if err != nil {
				return err
			}
			got[i] = timing{c1 - c0, wall}
		}
		ph.reload[sv.store] = append(ph.reload[sv.store], got)
	}
	b, c := timingRatios(ph.reload[sv.store])
	fmt.Printf("  %s: reload at %d sessions over at %d: %.3f by CPU, %.3f by time (medians of %d)\n", sv.store, sv.sites[1].n, base.sites[1].n, c, b, scaleReloads)
	return nil
}

// turn is the order of the two sides in turn j: each goes first every
// other time.
func turn(j int) []int {
	if j%2 == 1 {
		return []int{1, 0}
	}
	return []int{0, 1}
}

// timingRatios are the medians of the per-turn ratios, the scale server's
// over the base server's, by wall time and by CPU.
func timingRatios(ts [][2]timing) (wall, cpu float64) {
	var ws, cs []float64
	for _, t := range ts {
		ws = append(ws, float64(t[1].wall)/float64(t[0].wall))
		cs = append(cs, float64(t[1].cpu)/float64(t[0].cpu))
	}
	return median(ws), median(cs)
}

// scaleRestart stops the base server and sv, in turn, and starts each
// again, a few times, timing each start from the command to the first
// userinfo answered from a session of its site B.
func (r *rig) scaleRestart(sv, base *scaleServer, ph *scalePhase) error {
	for j := range scaleStarts {
		var got [2]timing
		for _, i := range turn(j) {
			t, err := r.restart([2]*scaleServer{base, sv}[i])
			if err != nil {
				return err
			}
			got[i] = t
		}
		ph.start[sv.store] = append(ph.start[sv.store], got)
	}
	b, c := timingRatios(ph.start[sv.store])
	fmt.Printf("  %s: start at %d sessions over at %d: %.3f by CPU, %.3f by time (medians of %d)\n", sv.store, sv.sites[1].n, base.sites[1].n, c, b, scaleStarts)
	return nil
}

// restart stops sv and starts it again, and times the start.
func (r *rig) restart(sv *scaleServer) (timing, error) {
	probe, err := newFixedRequest("userinfo after a start", sv.origin(1)+"/api/userinfo", "Cookie: sgid_session="+scale.ID(sv.sites[1].seed, 0))
	if err != nil {
		return timing{}, err
	}
	sv.proc.stop()
	t0 := time.Now()
	if err := r.runScaleServer(sv); err != nil {
		return timing{}, err
	}
	c := &client{}
	defer c.close()
	for {
		err := probe.send(c)
		if err == nil {
			break
		}
		c.close()
		if err := sv.proc.alive(); err != nil {
			return timing{}, err
		}
		if time.Since(t0) > scaleReady {
			return timing{}, fmt.Errorf("%s, %s: no userinfo within %s of a start: %v", sv.store, sv.role, scaleReady, err)
		}
		time.Sleep(scalePoll)
	}
	wall := time.Since(t0)
	cpu, err := sv.proc.runTime()
	return timing{cpu, wall}, err
}

// medianTiming is the median CPU and the median wall time of ts.
func medianTiming(ts []timing) timing {
	var c, w []float64
	for _, t := range ts {
		c, w = append(c, float64(t.cpu)), append(w, float64(t.wall))
	}
	return timing{time.Duration(median(c)), time.Duration(median(w))}
}

// loadConfig replaces the config of the Caddy at admin; force reloads an
// unchanged one too.
func loadConfig(ctx context.Context, admin, caddyfile string, force bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, admin+"/load", strings.NewReader(caddyfile))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/caddyfile")
	if force {
		req.Header.Set("Cache-Control", "must-revalidate")
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("loading the config: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loading the config: %d %s", resp.StatusCode, body)
	}
	return nil
}
