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
// Fastify when installed), in each layout, and fails when any router ran a
// protected route. The routers and Caddy start once per fuzzing process;
// each input costs one connection a site, closed before the next input.
//
// The seeds are the corpus's targets. When fuzzing, only every
// fuzzSeedStride-th of them is added: each seed then costs a coverage
// baseline, about 0.1 s with all of Caddy instrumented, which would take
// most of .ci/fuzz's 20 s; the plain run (go test) tries them all, as
// TestRouterZoo does.
func FuzzRawRequestTarget(f *testing.F) {
	stride := 1
	if fuzzing() {
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
	routers := startRouters(f)
	var live []*router
	for _, r := range routers {
		if r.missing != "" {
			f.Logf("fuzzing without %s: %s", r.name, r.missing)
			continue
		}
		live = append(live, r)
	}
	z := startCaddy(f, live)
	f.Fuzz(func(t *testing.T, method, target string) {
		if !isToken(method) {
			method = http.MethodGet
		}
		marks := make([]int64, len(live))
		for i, r := range live {
			marks[i] = r.hits.mark()
		}
		// Each site answers before its connection closes (sendRaw reads
		// to the end), and a router records a hit before it answers: once
		// every send is back, every hit of this input is recorded.
		answers := make([]answer, len(z.sites))
		var wg sync.WaitGroup
		for i, s := range z.sites {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = sendRaw(s.addr, method, target, "fuzz", "")
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

// fuzzing reports whether the test binary fuzzes (-test.fuzz is set),
// rather than running the seeds once.
func fuzzing() bool {
	fl := flag.Lookup("test.fuzz")
	return fl != nil && fl.Value.String() != ""
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
