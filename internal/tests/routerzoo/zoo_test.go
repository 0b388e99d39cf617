package routerzoo

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// senders is how many raw requests go out at once to one site.
const senders = 8

// skipOrFail skips the test with msg, or fails it when CI is set, where a
// skip would hide that a router was not tested.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal("router zoo: failed under CI: " + msg)
	}
	t.Skip("router zoo: skipped: " + msg)
}

// outcome counts what the corpus's requests did on one site.
type outcome struct {
	requests  int
	protected int // ran a protected route: each one a failure
	public    int // ran the root or a public route
	none      int // ran no route of the router
	status    map[int]int
	errors    int // no answer
	direct    int // targets that ran a protected route sent to the router itself
}

// TestRouterZoo sends every target of the corpus, with each method and
// without a login, as a raw request line to Caddy in front of each router
// of the zoo, in each layout, and checks in the router's own record that
// no protected route ran. Controls on every site keep it from passing
// vacuously: the public route runs without a login, and each protected
// route runs with one.
func TestRouterZoo(t *testing.T) {
	routers := startRouters(t)
	var live []*router
	for _, r := range routers {
		if r.missing == "" {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		t.Fatal("no router started")
	}
	z := startCaddy(t, live, layouts)
	reqs := requests(corpus(t))
	t.Logf("%d targets, %d requests a site", len(corpus(t)), len(reqs))

	results := map[string]*outcome{}
	var mu sync.Mutex
	for _, r := range routers {
		t.Run(r.name, func(t *testing.T) {
			if r.missing != "" {
				skipOrFail(t, r.name+": "+r.missing)
			}
			t.Logf("%s: %s, on %s", r.name, r.about, r.addr)
			t.Run("readings", func(t *testing.T) { checkReadings(t, r) })
			directRan := direct(t, r, reqs)
			for _, s := range z.of(r) {
				t.Run(s.layout, func(t *testing.T) {
					controls(t, s)
					o := runCorpus(t, s, reqs)
					o.direct = directRan
					if !r.alive() {
						t.Fatalf("the %s router ended during the corpus", r.name)
					}
					mu.Lock()
					results[r.name+"/"+s.layout] = o
					mu.Unlock()
				})
			}
		})
	}
	logTable(t, routers, results)
}

// controls checks that the site reaches its router: the root and a public
// route run without a login and a protected path does not; after a login
// through the mock, each protected route runs.
func controls(t *testing.T, s *site) {
	t.Helper()
	r := s.router
	check := func(method, target, cookie, id, wantRoute string, wantStatus int) {
		t.Helper()
		m := r.hits.mark()
		a := sendRaw(s.addr, method, target, id, cookie)
		hits := r.hits.since(t, m)
		var ran []string
		for _, h := range hits {
			if h.ID == id {
				ran = append(ran, h.Route)
			}
		}
		want := []string{}
		if wantRoute != "" {
			want = []string{wantRoute}
		}
		if a.status != wantStatus || strings.Join(ran, ",") != strings.Join(want, ",") {
			t.Errorf("control %s %s (login %v): Caddy answered %d %.80q (%v), the router ran %q; want %d and %q",
				method, target, cookie != "", a.status, a.body, a.err, ran, wantStatus, want)
		}
		if wantRoute != "" && a.body != "route="+wantRoute+"\n" {
			t.Errorf("control %s %s: body %.80q, want the route's", method, target, a.body)
		}
	}
	check("GET", "/", "", "control-root", routeRoot, 200)
	check("GET", "/public/x", "", "control-public", routePublic, 200)
	check("POST", "/public/x", "", "control-public-post", routePublic, 200)
	check("GET", "/api/x", "", "control-anonymous", "", 401)
	cookie := s.login(t)
	for _, m := range []string{"GET", "POST"} {
		check(m, "/api/x", cookie, "control-login-api-"+m, routeAPI, 200)
		check(m, "/secret", cookie, "control-login-secret-"+m, routeSecret, 200)
		check(m, "/key/x", cookie, "control-login-key-"+m, routeKey, 200)
	}
}

// runCorpus sends every request to the site without a login and fails the
// test for each that ran a protected route.
func runCorpus(t *testing.T, s *site, reqs []request) *outcome {
	t.Helper()
	r := s.router
	mark := r.hits.mark()
	answers := make([]answer, len(reqs))
	all := make([]int, len(reqs))
	for i := range all {
		all[i] = i
	}
	parallel(all, func(i int) { answers[i] = sendRaw(s.addr, reqs[i].method, reqs[i].raw, strconv.Itoa(i), "") })

	ran := map[int][]hit{}
	for _, h := range r.hits.since(t, mark) {
		i, err := strconv.Atoi(h.ID)
		if err != nil || i < 0 || i >= len(reqs) {
			// A request of the corpus whose X-Zoo-Id the router did
			// not get: none other is sent meanwhile.
			if protectedRoutes[h.Route] {
				t.Errorf("%s/%s: a request without its id ran %s (router saw %s %q)", r.name, s.layout, h.Route, h.Method, h.Path)
			}
			continue
		}
		ran[i] = append(ran[i], h)
	}
	o := &outcome{requests: len(reqs), status: map[int]int{}}
	for i, req := range reqs {
		a := answers[i]
		if a.err != nil && a.status == 0 {
			o.errors++
		} else {
			o.status[a.status]++
		}
		hits := ran[i]
		if len(hits) == 0 {
			o.none++
		}
		publicRan := false
		for _, h := range hits {
			if protectedRoutes[h.Route] {
				o.protected++
				t.Errorf("%s %s (%s): ran the router's %s route without a login (the router saw %s %q; Caddy answered %d)",
					req.method, strconv.Quote(short(req.raw)), req.where, h.Route, h.Method, short(h.Path), a.status)
			} else {
				publicRan = true
			}
		}
		if publicRan {
			o.public++
		}
	}
	return o
}

// short shortens the long targets for messages.
func short(s string) string {
	if len(s) > 120 {
		return s[:100] + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return s
}

// logTable logs, per router and layout, what the corpus's requests did.
func logTable(t *testing.T, routers []*router, results map[string]*outcome) {
	t.Helper()
	statuses := map[int]bool{}
	for _, o := range results {
		for s := range o.status {
			statuses[s] = true
		}
	}
	var codes []int
	for s := range statuses {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	var b strings.Builder
	fmt.Fprintf(&b, "%-17s %6s %5s %9s %6s %6s", "router/layout", "direct", "reqs", "protected", "public", "none")
	for _, c := range codes {
		fmt.Fprintf(&b, " %5d", c)
	}
	b.WriteString(" noanswer\n")
	for _, r := range routers {
		for _, l := range layouts {
			o := results[r.name+"/"+l.name]
			if o == nil {
				continue
			}
			fmt.Fprintf(&b, "%-17s %6d %5d %9d %6d %6d", r.name+"/"+l.name, o.direct, o.requests, o.protected, o.public, o.none)
			for _, c := range codes {
				fmt.Fprintf(&b, " %5d", o.status[c])
			}
			fmt.Fprintf(&b, " %8d\n", o.errors)
		}
	}
	t.Logf("what the corpus's requests did, without a login (direct: targets that run a protected route when sent to the router itself with GET; then through Caddy, protected: requests that ran a protected route, public: ran / or /public/..., none: ran no route; then Caddy's statuses):\n%s", b.String())
}

// direct sends each target of the corpus with GET (or its own method) to
// the router itself, without Caddy, and returns how many ran a protected
// route there: what the guard has to stop.
func direct(t *testing.T, r *router, reqs []request) int {
	t.Helper()
	mark := r.hits.mark()
	var picked []int
	for i, req := range reqs {
		if req.method == "GET" || (req.target.method != "" && req.method != "CONNECT") {
			picked = append(picked, i)
		}
	}
	parallel(picked, func(i int) { sendRaw(r.addr, reqs[i].method, reqs[i].raw, "direct-"+strconv.Itoa(i), "") })
	ran := map[string]bool{}
	for _, h := range r.hits.since(t, mark) {
		if protectedRoutes[h.Route] {
			ran[h.ID] = true
		}
	}
	return len(ran)
}

// parallel calls f for each of items, senders at a time.
func parallel(items []int, f func(int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f(i)
			}
		}()
	}
	for _, i := range items {
		work <- i
	}
	close(work)
	wg.Wait()
}
