package cluster

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	instances "github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
)

// BenchmarkUserinfoThroughLB measures logged-in userinfo calls through
// the load balancer, in one run: with the three instances, with one (the
// same balancer, after down.sh stopped the other two and its health
// checks took them out), and with three again, so that a drift of the
// machine during the run shows as a difference between the first and the
// last. It reports req/s; every answer must be 200 with the login's sub.
//
//	go test -run '^$' -bench UserinfoThroughLB -benchtime 5s ./deploy/cluster/
func BenchmarkUserinfoThroughLB(b *testing.B) {
	p := requirePrereqs(b)
	sub := p.expectedSub(b)
	c := startCluster(b, "INFO")
	session := login(b, instances.NewBrowser(b), c, "Pandan")
	client := newClient()

	measure := func(name string, want []string) {
		b.Run(name, func(b *testing.B) {
			var bad atomic.Int64
			var mu sync.Mutex
			seen := map[string]int{}
			// Sixteen clients at once on two cores: enough to keep
			// every process busy, so the figure is a throughput, not
			// a latency.
			b.SetParallelism(8)
			lbBefore, instancesBefore := cpuTimes(b, c, want)
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				local := map[string]int{}
				for pb.Next() {
					a := fetch(client, c.URL("/api/userinfo"), session)
					if a.userinfoSub() != sub {
						bad.Add(1)
					}
					local[a.instance]++
				}
				mu.Lock()
				for k, v := range local {
					seen[k] += v
				}
				mu.Unlock()
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			// Where the CPU went: the balancer's, and the instances'
			// together, per request.
			lbAfter, instancesAfter := cpuTimes(b, c, want)
			b.ReportMetric(float64((lbAfter-lbBefore).Microseconds())/float64(b.N), "lb-cpu-µs/op")
			b.ReportMetric(float64((instancesAfter-instancesBefore).Microseconds())/float64(b.N), "instances-cpu-µs/op")
			if n := bad.Load(); n > 0 {
				b.Fatalf("%d of %d answers were not 200 with sub %s", n, b.N, sub)
			}
			// With enough requests, round robin reaches every instance
			// that runs, and none that does not.
			if b.N >= 100 {
				for _, name := range want {
					if seen[name] == 0 {
						b.Errorf("%s answered none of %d calls; answers by instance: %v", name, b.N, seen)
					}
				}
				if len(seen) != len(want) {
					b.Errorf("answers by instance: %v, want only %v", seen, want)
				}
			}
		})
	}

	measure("instances=3", instanceNames)
	c.down("caddy-2", "caddy-3")
	waitForInstances(b, c, []string{"caddy-1"})
	measure("instances=1", []string{"caddy-1"})
	c.up()
	waitForInstances(b, c, instanceNames)
	measure("instances=3_again", instanceNames)
}

// waitForInstances waits until 30 calls in a row through the balancer are
// answered by exactly the instances named.
func waitForInstances(tb testing.TB, c *cluster, want []string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	client := newClient()
	for {
		seen := map[string]bool{}
		for range 30 {
			seen[fetch(client, c.URL("/healthz"), nil).instance] = true
		}
		ok := len(seen) == len(want)
		for _, w := range want {
			ok = ok && seen[w]
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the load balancer does not settle on %v: the last 30 calls were answered by %v", want, keys(seen))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cpuTimes is the CPU time (user and system) the balancer, and the named
// instances together, have used so far, from /proc/<pid>/stat.
func cpuTimes(tb testing.TB, c *cluster, names []string) (lb, instances time.Duration) {
	tb.Helper()
	lb = cpuTime(tb, c.pid("lb"))
	for _, n := range names {
		instances += cpuTime(tb, c.pid(n))
	}
	return lb, instances
}

// clockTicks is the unit of /proc/<pid>/stat's times (USER_HZ), 100 on
// every Linux architecture Go supports.
const clockTicks = 100

func cpuTime(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("reading the CPU time of pid %d: %v", pid, err)
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		tb.Fatalf("/proc/%d/stat is short: %q", pid, s)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			tb.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}
