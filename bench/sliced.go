package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The pairs that compare two routes of the same Caddy (1 to 3) alternate
// them in short slices within each round instead of giving each a window
// of its own. On this kind of machine, a virtual one, the CPU a request
// costs swings by a third from one second to the next with whatever runs
// beside it; two windows of seconds, one after the other, then disagree by
// more than the effect measured. Slices of a quarter of a second, taken in
// turn, let both routes meet the same moments, so that a round's ratio
// holds what the routes cost and not when they ran.

// slice is how long one route is loaded before the other takes over.
const slice = 250 * time.Millisecond

// conns is the number of keep-alive connections the load keeps busy, as
// many as wrk's -c16 in the other pairs.
const conns = 16

// fixedRequest is one route's request, written out once: the same bytes
// are sent on every call, as wrk sends them.
type fixedRequest struct {
	name string
	addr string // host:port to dial
	raw  []byte
}

// newFixedRequest is a GET of target with the given "Name: value" headers
// and nothing else but Host, as wrk would send it.
func newFixedRequest(name, target string, headers ...string) (fixedRequest, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fixedRequest{}, fmt.Errorf("%s: %q is not an http URL", name, target)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	for _, h := range headers {
		if !strings.Contains(h, ": ") || strings.ContainsAny(h, "\r\n") {
			return fixedRequest{}, fmt.Errorf("%s: header %q is not one line of Name: value", name, h)
		}
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return fixedRequest{name: name, addr: u.Host, raw: []byte(b.String())}, nil
}

// loadTarget is what a load sends: a fixed request, or one that varies from
// call to call (see idRequest).
type loadTarget interface {
	// label names the target in errors and reports.
	label() string
	// send makes one call on c.
	send(c *client) error
}

func (r *fixedRequest) label() string        { return r.name }
func (r *fixedRequest) send(c *client) error { return c.do(r) }

// client is one keep-alive connection of the load.
type client struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	// rng and buf serve targets that vary per call.
	rng *rand.Rand
	buf []byte
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.br = nil, nil
	}
}

// do sends req and reads its whole answer. An answer other than 2xx is an
// error, as a fast error page must not pass for throughput.
func (c *client) do(req *fixedRequest) error {
	return c.roundTrip(req.name, req.addr, req.raw)
}

// roundTrip sends raw, a whole request, to addr and reads its answer.
func (c *client) roundTrip(name, addr string, raw []byte) error {
	if c.conn != nil && c.addr != addr {
		c.close()
	}
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		c.addr, c.conn, c.br = addr, conn, bufio.NewReaderSize(conn, 16<<10)
	}
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(raw); err != nil {
		c.close()
		return err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: status %d", name, resp.StatusCode)
	}
	return err
}

// slicedLoad keeps conns connections busy with one request at a time.
type slicedLoad struct {
	clients []*client
}

func newSlicedLoad() *slicedLoad {
	l := &slicedLoad{clients: make([]*client, conns)}
	for i := range l.clients {
		l.clients[i] = &client{rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))}
	}
	return l
}

func (l *slicedLoad) close() {
	for _, c := range l.clients {
		c.close()
	}
}

// run sends req on every connection, one call after another, until d has
// passed, and waits for the calls in flight: every call it counts was
// made and answered within the slice.
func (l *slicedLoad) run(ctx context.Context, req loadTarget, d time.Duration) (ops int64, elapsed time.Duration, err error) {
	var stop atomic.Bool
	var done atomic.Int64
	var once sync.Once
	var first error
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	var wg sync.WaitGroup
	t0 := time.Now()
	for _, c := range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				if err := req.send(c); err != nil {
					once.Do(func() { first = err })
					stop.Store(true)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed = time.Since(t0)
	if first == nil {
		first = ctx.Err()
	}
	return done.Load(), elapsed, first
}

// sliced measures one round of two routes of the servers: slices slices
// of each, in turn, starting with the first route on odd rounds and the
// second on even ones. Each side's sample is its calls per second of its
// own slices and the servers' CPU time in them per call (the servers: a
// Caddy, or a Caddy and the Redis its store uses).
func (r *rig) sliced(ctx context.Context, l *slicedLoad, servers []*proc, reqs [2]loadTarget, slices, round int) ([2]sample, error) {
	var ops [2]int64
	var cpu, took [2]time.Duration
	for i := range 2 * slices {
		side := (i + round + 1) % 2 // round 1 starts with side 0
		c0, err := runTimes(servers)
		if err != nil {
			return [2]sample{}, err
		}
		n, d, err := l.run(ctx, reqs[side], slice)
		if err != nil {
			return [2]sample{}, err
		}
		c1, err := runTimes(servers)
		if err != nil {
			return [2]sample{}, err
		}
		ops[side] += n
		cpu[side] += c1 - c0
		took[side] += d
	}
	var out [2]sample
	for side := range 2 {
		if ops[side] == 0 {
			return out, fmt.Errorf("%s: no call answered in round %d", reqs[side].label(), round)
		}
		out[side] = sample{
			rate: float64(ops[side]) / took[side].Seconds(),
			cpu:  (cpu[side] / time.Duration(ops[side])).Round(100 * time.Nanosecond),
		}
	}
	return out, r.alive()
}

// slicedPerWindow is the number of slices of each route in a round: a
// round takes as long as two windows, as a round of the other pairs does.
func slicedPerWindow(window time.Duration) int {
	return max(int(window/slice), 1)
}

// compareSliced is compare for two routes of Caddy, alternated in slices
// (see slice) within each round.
func (r *rig) compareSliced(s *section, o opts, pair, what string, target float64, base, cand fixedRequest) (float64, error) {
	l := newSlicedLoad()
	defer l.close()
	reqs := [2]loadTarget{&base, &cand}
	servers := []*proc{r.caddy}
	// Warm both routes up, unrecorded: connections, caches, the pools.
	if _, err := r.sliced(r.ctx, l, servers, reqs, 2, 1); err != nil {
		return 0, err
	}
	rs, err := alternate(r.ctx, s, o.rounds, "req/s", base.name, cand.name, func(ctx context.Context, round int) (sample, sample, error) {
		out, err := r.sliced(ctx, l, servers, reqs, slicedPerWindow(o.window), round)
		return out[0], out[1], err
	})
	if err != nil {
		return 0, err
	}
	return r.result(s, pair, what, rs, target), nil
}

// slicedNote says in a section how its rounds were measured.
func slicedNote(o opts) string {
	return fmt.Sprintf("The suite's own load generator, %d keep-alive connections (as wrk's -c%d elsewhere), sends each route's fixed request; every round alternates the two routes in %s slices, %d of each, so that both meet the same moments of a shared machine, and the server's CPU time is read from the scheduler (per-thread schedstat, in nanoseconds) around every slice.", conns, conns, slice, slicedPerWindow(o.window))
}

// runTimes is the sum of the processes' runTime.
func runTimes(ps []*proc) (time.Duration, error) {
	var sum time.Duration
	for _, p := range ps {
		t, err := p.runTime()
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// runTime is the CPU time the process's threads have run, in nanoseconds,
// from the scheduler's statistics: finer than cpuTime's clock ticks of 10
// ms, which a slice of a quarter second would round by several percent.
// A thread that ends between two readings takes its time with it; Go's
// runtime keeps its threads, so this does not happen under load.
func (p *proc) runTime() (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", p.pid())
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread ended since the listing
		}
		if err != nil {
			return 0, err
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, fmt.Errorf("%s: empty schedstat", p.name)
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", p.name, err)
		}
		sum += ns
	}
	return time.Duration(sum), nil
}
