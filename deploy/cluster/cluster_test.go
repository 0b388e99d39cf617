package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	instances "github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
)

// sessionCookie is the sgid handler's default cookie_name.
const sessionCookie = "sgid_session"

// login walks a browser through a login at the load balancer: auth-url,
// mockpass's authorize (which logs the default persona in at once), and
// the callback; and checks where it lands.
func login(t testing.TB, b *instances.Browser, c *cluster, iceCream string) *http.Cookie {
	t.Helper()
	if loc := b.Login(c, c, "icecream="+iceCream); loc != "/logged-in" {
		t.Fatalf("a login through the load balancer ended at %q, want /logged-in", loc)
	}
	session := b.Cookie(sessionCookie)
	if session == nil {
		t.Fatal("no session cookie after the login")
	}
	return session
}

// wantUser fails unless userinfo through the balancer shows sub with the
// app value given at auth-url.
func wantUser(t testing.TB, client *http.Client, c *cluster, session *http.Cookie, sub, iceCream string) {
	t.Helper()
	a := fetch(client, c.URL("/api/userinfo"), session)
	var got struct {
		Sub  string
		Data map[string]string
	}
	if a.err != nil || a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &got) != nil || got.Sub != sub || got.Data["iceCream"] != iceCream {
		t.Fatalf("userinfo through the load balancer: %v, want %s with iceCream %q", a, sub, iceCream)
	}
}

func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six processes with up.sh; skipped with -short")
	}
	p := requirePrereqs(t)
	sub := p.expectedSub(t)
	c := startCluster(t, "DEBUG")
	// The first login step by step, to know its one-time code and state.
	user := instances.NewBrowser(t)
	callback := user.AtProvider(user.StartLogin(c, "icecream=Pandan"))
	if loc := user.Callback(c, callback); loc != "/logged-in" {
		t.Fatalf("a login through the load balancer ended at %q, want /logged-in", loc)
	}
	session := user.Cookie(sessionCookie)
	if session == nil {
		t.Fatal("no session cookie after the login")
	}
	client := newClient()
	wantUser(t, client, c, session, sub, "Pandan")

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"spread and sharing", func(t *testing.T) { testSpread(t, c, client, session, sub) }},
		{"losing an instance", func(t *testing.T) { testLosingAnInstance(t, c, client, session, sub) }},
		{"Redis restart", func(t *testing.T) { testRedisRestart(t, c, client, session, sub) }},
		{"logout", func(t *testing.T) { testLogout(t, c, client, user, session) }},
		{"no secrets in the logs", func(t *testing.T) { testLogsKeepSecrets(t, c, callback, session) }},
	}
	// Each step starts from where the one before left the cluster, so the
	// first failure ends the test.
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.FailNow()
		}
	}
}

// testSpread: 60 userinfo and 60 guarded API calls through the balancer,
// every one 200 with the login's sub, and each instance answered some.
func testSpread(t *testing.T, c *cluster, client *http.Client, session *http.Cookie, sub string) {
	paths := []string{"/api/userinfo", "/api/whoami"}
	counts := map[string]map[string]int{}
	for _, path := range paths {
		counts[path] = map[string]int{}
	}
	for i := range 60 {
		for _, path := range paths {
			a := fetch(client, c.URL(path), session)
			got := a.userinfoSub()
			if path == "/api/whoami" {
				got = a.apiSub()
			}
			if got != sub {
				t.Errorf("%s call %d through the load balancer: %v, want 200 with sub %s", path, i+1, a, sub)
			}
			counts[path][a.instance]++
		}
	}
	for _, path := range paths {
		t.Logf("%s answered by: %v", path, counts[path])
		for _, name := range instanceNames {
			if counts[path][name] == 0 {
				t.Errorf("%s: %s answered none of 60 calls", path, name)
			}
		}
		for name := range counts[path] {
			if !isInstance(name) {
				t.Errorf("%s: an answer came from %q, not one of the instances", path, name)
			}
		}
	}
}

func isInstance(name string) bool {
	for _, n := range instanceNames {
		if n == name {
			return true
		}
	}
	return false
}

// testLosingAnInstance kills caddy-2 with SIGKILL while two clients call
// userinfo through the balancer in a loop, then logs in anew, then
// restarts caddy-2 with up.sh.
func testLosingAnInstance(t *testing.T, c *cluster, client *http.Client, session *http.Cookie, sub string) {
	const victim = "caddy-2"
	pid := c.pid(victim)
	if pid == 0 {
		t.Fatalf("no PID file for %s", victim)
	}

	var (
		mu      sync.Mutex
		answers []answer
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a := fetch(client, c.URL("/api/userinfo"), session)
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Second)
	killedAt := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("SIGKILL to %s (pid %d): %v", victim, pid, err)
	}
	// The load runs on past lb_try_duration, so that what is asserted
	// below covers requests sent after it.
	time.Sleep(tryDuration + 3*time.Second)
	close(stop)
	wg.Wait()
	if !instances.WaitGone(pid) {
		t.Fatalf("%s (pid %d) still runs after SIGKILL", victim, pid)
	}

	settled := killedAt.Add(tryDuration)
	var before, during, after, victimBefore, errorsDuring int
	for _, a := range answers {
		switch {
		case a.at.Before(killedAt):
			before++
			if a.instance == victim {
				victimBefore++
			}
		case a.at.Before(settled):
			during++
			if a.userinfoSub() != sub {
				errorsDuring++
			}
		default:
			after++
			if a.userinfoSub() != sub {
				t.Errorf("userinfo sent %v after the SIGKILL (lb_try_duration %v): %v, want 200 with sub %s", a.at.Sub(killedAt).Round(time.Millisecond), tryDuration, a, sub)
			}
		}
		if a.instance == victim && a.at.After(killedAt) {
			t.Errorf("%s answered a request sent %v after it was killed", victim, a.at.Sub(killedAt))
		}
	}
	t.Logf("userinfo calls: %d before the SIGKILL (%d answered by %s), %d within lb_try_duration after it (%d not 200), %d after that",
		before, victimBefore, victim, during, errorsDuring, after)
	if victimBefore == 0 {
		t.Errorf("%s answered none of the %d calls before it was killed: the kill was not under its traffic", victim, before)
	}
	if after < 20 {
		t.Errorf("only %d calls were sent after lb_try_duration: too few to show anything", after)
	}
	last, marked := failoverTimes(t, c, victim, killedAt)
	t.Logf("failover: the load balancer last sent %s a request %v after the SIGKILL; its active health check first failed it %v after", victim, last, marked)

	// A new user logs in through the balancer with one instance gone.
	newcomer := instances.NewBrowser(t)
	newSession := login(t, newcomer, c, "Chendol")
	wantUser(t, client, c, newSession, sub, "Chendol")

	// up.sh starts what is not running: only caddy-2.
	out := c.up()
	if !strings.Contains(out, victim+" answers") || strings.Count(out, " is running (pid") != 5 {
		t.Errorf("up.sh after the kill should start %s alone, next to five running parts; it said:\n%s", victim, out)
	}
	if np := c.pid(victim); np == 0 || np == pid {
		t.Fatalf("PID of %s after up.sh: %d (before the kill: %d)", victim, np, pid)
	}
	// The new process has nothing cached: its answer comes from Redis.
	if a := fetch(client, c.instance(victim).URL("/api/userinfo"), session); a.userinfoSub() != sub || a.instance != victim {
		t.Errorf("userinfo on the restarted %s, directly: %v, want 200 with sub %s", victim, a, sub)
	}
	// The balancer takes it back once its health check passes and the
	// passive failures (fail_duration 5s) expire.
	restartedAt := time.Now()
	deadline := restartedAt.Add(30 * time.Second)
	for {
		a := fetch(client, c.URL("/api/userinfo"), session)
		if a.userinfoSub() != sub {
			t.Fatalf("userinfo through the load balancer while %s rejoins: %v, want 200 with sub %s", victim, a, sub)
		}
		if a.instance == victim {
			t.Logf("%s answered through the load balancer again %v after up.sh returned", victim, time.Since(restartedAt).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the load balancer sent %s nothing for 30s after it was restarted", victim)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failoverTimes reads the balancer's debug log: how long after killedAt
// it last selected the victim for a request, and when its active health
// check first failed the victim.
func failoverTimes(t *testing.T, c *cluster, victim string, killedAt time.Time) (lastSent, checkFailed time.Duration) {
	t.Helper()
	f, err := os.Open(filepath.Join(c.run, "lb.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", c.ports[portVarOf[victim]])
	checkFailed = -1
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line struct {
			TS   float64 `json:"ts"`
			Msg  string  `json:"msg"`
			Dial string  `json:"dial"`
			Host string  `json:"host"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		at := time.Unix(0, int64(line.TS*1e9))
		if at.Before(killedAt) {
			continue
		}
		switch {
		case line.Msg == "selected upstream" && line.Dial == addr:
			lastSent = at.Sub(killedAt)
		case line.Msg == "HTTP request failed" && line.Host == addr && checkFailed < 0:
			checkFailed = at.Sub(killedAt)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checkFailed < 0 {
		t.Errorf("the load balancer's log has no failed health check of %s after the SIGKILL", victim)
	}
	return lastSent.Round(time.Millisecond), checkFailed.Round(time.Millisecond)
}

// testRedisRestart stops Redis with down.sh and starts it again with
// up.sh: while it is down, userinfo and the guarded API answer 503 JSON
// (or, for up to cache_ttl, 200 from an instance's cached copy), never
// 401; afterwards the same session works everywhere.
func testRedisRestart(t *testing.T, c *cluster, client *http.Client, session *http.Cookie, sub string) {
	c.down("redis")
	downAt := time.Now()
	paths := []string{"/api/userinfo", "/api/whoami"}
	storeDown := map[string]bool{} // path + " on " + instance
	// Each instance answers from its cache for up to cache_ttl; then each
	// of the six path-instance pairs must be met, and an instance whose
	// Redis is down takes about a second to say so (the client's dial
	// attempts).
	wait := cacheTTL + boundSlack + 6*time.Second
	deadline := downAt.Add(wait)
	var slowest time.Duration
	for i := 0; len(storeDown) < len(paths)*len(instanceNames); i++ {
		path := paths[i%len(paths)]
		a := fetch(client, c.URL(path), session)
		got := a.userinfoSub()
		if path == "/api/whoami" {
			got = a.apiSub()
		}
		switch {
		case a.isStoreDown():
			storeDown[path+" on "+a.instance] = true
			slowest = max(slowest, a.took)
		case got == sub:
			// An instance's cached copy, within cache_ttl.
		default:
			t.Fatalf("%s with Redis down, %v after it stopped: %v; want 503 {\"error\":\"store_unavailable\"} (or 200 from the cache), never 401",
				path, time.Since(downAt).Round(time.Millisecond), a)
		}
		if time.Now().After(deadline) {
			t.Fatalf("with Redis down for %v, only these answered 503 JSON: %v", wait, keys(storeDown))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("every instance answered 503 JSON on both paths within %v of Redis stopping; the slowest 503 took %v",
		time.Since(downAt).Round(time.Millisecond), slowest.Round(time.Millisecond))

	out := c.up()
	if !strings.Contains(out, "redis answers") {
		t.Errorf("up.sh should have started redis; it said:\n%s", out)
	}
	back := map[string]bool{}
	deadline = time.Now().Add(30 * time.Second)
	for len(back) < len(instanceNames) {
		a := fetch(client, c.URL("/api/userinfo"), session)
		switch {
		case a.userinfoSub() == sub:
			back[a.instance] = true
		case a.isStoreDown():
			// Still reconnecting.
		default:
			t.Fatalf("userinfo after Redis came back: %v; the session should have survived", a)
		}
		if time.Now().After(deadline) {
			t.Fatalf("30s after Redis came back only %v serve the session", keys(back))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testLogout logs out through the balancer and checks that the session
// ends at once on the instance that handled it and within cache_ttl on
// the others, which have it cached.
func testLogout(t *testing.T, c *cluster, client *http.Client, user *instances.Browser, session *http.Cookie) {
	// Every instance answers for the session now, so each has it cached.
	cached := map[string]bool{}
	for range 12 {
		a := fetch(client, c.URL("/api/userinfo"), session)
		if a.status != http.StatusOK {
			t.Fatalf("userinfo before the logout: %v", a)
		}
		cached[a.instance] = true
	}
	if len(cached) != len(instanceNames) {
		t.Fatalf("before the logout only %v answered", keys(cached))
	}

	loggedOutAt := time.Now()
	resp, body := user.Get(c.URL("/api/logout"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("logout through the load balancer: %d %q", resp.StatusCode, body)
	}
	by := resp.Header.Get("X-Instance")
	if a := fetch(client, c.instance(by).URL("/api/userinfo"), session); a.status != http.StatusUnauthorized {
		t.Errorf("userinfo on %s, which handled the logout, right after it: %v, want 401", by, a)
	}

	// The copied cookie keeps asking through the balancer, after the
	// browser dropped it.
	first401 := map[string]time.Duration{}
	last200 := map[string]time.Duration{}
	deadline := loggedOutAt.Add(cacheTTL + boundSlack)
	for len(first401) < len(instanceNames) {
		a := fetch(client, c.URL("/api/userinfo"), session)
		since := a.at.Sub(loggedOutAt)
		switch a.status {
		case http.StatusUnauthorized:
			if _, ok := first401[a.instance]; !ok {
				first401[a.instance] = since.Round(time.Millisecond)
			}
		case http.StatusOK:
			last200[a.instance] = since.Round(time.Millisecond)
			if since > cacheTTL+boundSlack {
				t.Errorf("%s accepted the session %v after the logout (cache_ttl %v)", a.instance, since, cacheTTL)
			}
			if _, ok := first401[a.instance]; ok {
				t.Errorf("%s accepted the session again %v after the logout, having refused it", a.instance, since)
			}
		default:
			t.Fatalf("userinfo after the logout: %v", a)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v after the logout (cache_ttl %v) only %v refuse the session", cacheTTL+boundSlack, cacheTTL, first401)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("logout handled by %s; after it, each instance last accepted the session at %v and first refused it at %v (bound: cache_ttl %v; one poll every 100ms, round robin)",
		by, last200, first401, cacheTTL)
	if status, body := user.Userinfo(c); status != http.StatusUnauthorized {
		t.Errorf("userinfo in the browser after its logout: %d %q", status, body)
	}
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// testLogsKeepSecrets scans the logs of the balancer (at DEBUG here, which
// logs every proxied request), the instances and Redis for the first
// login's one-time code and state and for its session id. mockpass's own
// log is left out: it prints codes, and it stands in for sgID.
func testLogsKeepSecrets(t *testing.T, c *cluster, callback string, session *http.Cookie) {
	u, err := url.Parse(callback)
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"the one-time code":  u.Query().Get("code"),
		"the state":          u.Query().Get("state"),
		"the session cookie": session.Value,
	}
	for what, v := range secrets {
		if len(v) < 16 {
			t.Fatalf("%s is %d characters long: too short to search for", what, len(v))
		}
	}
	for _, name := range []string{"lb", "caddy-1", "caddy-2", "caddy-3", "redis"} {
		b, err := os.ReadFile(filepath.Join(c.run, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		log := string(b)
		for what, v := range secrets {
			// The code travels percent-encoded in the callback URI.
			if strings.Contains(log, v) || strings.Contains(log, url.QueryEscape(v)) {
				t.Errorf("%s.log holds %s", name, what)
			}
		}
	}
	// The scan must be able to find something: the balancer logged the
	// callback's request, with the parameters redacted.
	if b, _ := os.ReadFile(filepath.Join(c.run, "lb.log")); !strings.Contains(string(b), "/api/redirect?code=REDACTED") {
		t.Errorf("lb.log has no redacted callback: is it logging at DEBUG?")
	}
}
