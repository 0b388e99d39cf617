package routerzoo

import (
	"flag"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// FuzzRawRequestTarget writes the fuzzer's method and request target as a
// raw request line, without a login, to Caddy in front of each router of
// the zoo that can run here (ServeMux always; Werkzeug, Express and
// Fastify when installed), and fails when any router ran a protected
// route. It uses the "site" layout only: there every request that the
// guard lets through reaches the router, so a protected route that runs
// in the "handle" layout runs there too. The routers and Caddy start once
// per fuzzing worker, and the requests go over kept-alive connections
// (keepAlive).
//
// The seeds are the corpus's targets. When fuzzing, only every
// fuzzSeedStride-th of them is added: each seed then costs a coverage
// baseline, up to a quarter of a second with all of Caddy instrumented,
// which would take most of .ci/fuzz's 20 s; the plain run (go test) tries
// them all, as TestRouterZoo does.
func FuzzRawRequestTarget(f *testing.F) {
	stride := 1
	if flagSet("test.fuzz") {
		stride = fuzzSeedStride
	}
	for i, t := range corpus(f) {
		if i%stride != 0 {
			continue
		}
		m := t.method
		if m == "" {
			m = http.MethodGet
		}
		f.Add(m, t.raw)
	}
	var live []*router
	var z *zooCaddy
	// The fuzzing coordinator runs no input: only its workers and a plain
	// run need the zoo. Starting it there too would hold the workers back
	// by as long again on a busy machine.
	if !flagSet("test.fuzz") || flagSet("test.fuzzworker") {
		for _, r := range startRouters(f) {
			if r.missing != "" {
				f.Logf("fuzzing without %s: %s", r.name, r.missing)
				continue
			}
			live = append(live, r)
		}
		z = startCaddy(f, live, layouts[:1])
	}
	var conns []*keepAlive
	if z != nil {
		for _, s := range z.sites {
			conns = append(conns, &keepAlive{addr: s.addr})
		}
		f.Cleanup(func() {
			for _, c := range conns {
				c.close()
			}
		})
	}
	f.Fuzz(func(t *testing.T, method, target string) {
		if z == nil {
			t.Fatal("the zoo did not start in this process")
		}
		if !isToken(method) {
			method = http.MethodGet
		}
		marks := make([]int64, len(live))
		for i, r := range live {
			marks[i] = r.hits.mark()
		}
		// A router records a hit before it answers, and each send returns
		// once every request its bytes held was answered: once every send
		// is back, every hit of this input is recorded.
		answers := make([]answer, len(z.sites))
		var wg sync.WaitGroup
		for i := range z.sites {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = conns[i].send(method, target, "fuzz")
			}()
		}
		wg.Wait()
		for i, r := range live {
			if !r.alive() {
				t.Fatalf("%s %s: the %s router has ended", method, strconv.Quote(short(target)), r.name)
			}
			for _, h := range r.hits.since(t, marks[i]) {
				if protectedRoutes[h.Route] {
					t.Errorf("%s %s: %s ran its %s route without a login (it saw %s %q)",
						method, strconv.Quote(short(target)), r.name, h.Route, h.Method, short(h.Path))
				}
			}
		}
		if t.Failed() {
			for i, s := range z.sites {
				t.Logf("%s/%s: Caddy answered %d %.60q %v", s.router.name, s.layout, answers[i].status, answers[i].body, answers[i].err)
			}
		}
	})
}

// fuzzSeedStride thins the corpus's seeds when fuzzing.
const fuzzSeedStride = 8

// flagSet reports whether the test binary's flag name (test.fuzz,
// test.fuzzworker) is set to something other than its default.
func flagSet(name string) bool {
	fl := flag.Lookup(name)
	return fl != nil && fl.Value.String() != fl.DefValue
}

// isToken reports whether m is an HTTP token (RFC 9110 section 5.6.2), as
// a method must be; other methods are replaced by GET, since Caddy refuses
// them before any handler runs.
func isToken(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	return strings.IndexFunc(m, func(r rune) bool {
		return r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r)
	}) < 0
}
