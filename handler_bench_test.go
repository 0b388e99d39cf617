package caddysgid

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// BenchmarkUserinfoFromSession: /api/userinfo answered from the session.
func BenchmarkUserinfoFromSession(b *testing.B) {
	h, cookie := benchHandler(b)
	req := httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		if serve(b, h, req, okNext) != http.StatusOK {
			b.Fatal("not 200")
		}
	}
}

// BenchmarkPassThrough: a request for another path, without and with a
// logged-in cookie (the latter sets the identity placeholders).
func BenchmarkPassThrough(b *testing.B) {
	h, cookie := benchHandler(b)
	for _, loggedIn := range []bool{false, true} {
		b.Run(fmt.Sprintf("logged_in=%v", loggedIn), func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/app/page", nil)
			// The next handler checks that the user was recognised, so the
			// logged-in case cannot quietly measure an anonymous request.
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
				if id, _ := repl.GetString("http.auth.user.id"); (id != "") != loggedIn {
					b.Fatalf("user id %q with logged_in=%v", id, loggedIn)
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			})
			b.ReportAllocs()
			for b.Loop() {
				// The handler cuts its cookie from requests it passes on,
				// so each request gets its own, as from a browser.
				if loggedIn {
					req.Header.Set("Cookie", cookie.String())
				}
				if serve(b, h, req, next) != http.StatusNoContent {
					b.Fatal("not passed on")
				}
			}
		})
	}
}

// BenchmarkLoginMemory reports the heap bytes the server keeps per login
// started with auth-url (none: a login travels sealed in its cookie) and
// per session in the memory store, at 100,000 of each.
func BenchmarkLoginMemory(b *testing.B) {
	const n = 100_000
	measure := func(fill func()) float64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fill()
		runtime.GC()
		runtime.ReadMemStats(&after)
		return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	}
	for b.Loop() {
		h, _ := benchHandler(b)
		h.AppParams = map[string]string{"icecream": "iceCream"}
		_, key := testKey(b)
		client, err := sgid.New(sgid.Config{ClientID: "c", ClientSecret: "s", PrivateKey: key, Host: "https://id.example"})
		if err != nil {
			b.Fatal(err)
		}
		h.client = client
		perPending := measure(func() {
			for i := 0; i < n; i++ {
				req := httptest.NewRequest(http.MethodGet, "http://localhost:9080"+h.AuthURLPath+"?icecream=Chocolate", nil)
				if code := serve(b, h, req, okNext); code != http.StatusOK {
					b.Fatalf("auth-url answered %d", code)
				}
			}
		})
		exp := time.Now().Add(time.Hour)
		// Every 1000th id is kept (too few to weigh on the figure) to check
		// afterwards that the store still holds what it was given: a store
		// that dropped sessions (a bound below n) would show a cost per
		// session far too low.
		sample := make([]string, 0, n/1000)
		perSession := measure(func() {
			for i := 0; i < n; i++ {
				id, err := testPut(h, session.Session{Sub: "sgidtest:0000000000000000000000000000", Expires: exp})
				if err != nil {
					b.Fatal(err)
				}
				if i%1000 == 0 {
					sample = append(sample, id)
				}
			}
		})
		for _, id := range sample {
			if _, err := h.st.Get(context.Background(), session.Key(id)); err != nil {
				b.Fatalf("a session put in the store is not there after %d: %v", n, err)
			}
		}
		runtime.KeepAlive(h)
		b.ReportMetric(perPending, "B/pending")
		b.ReportMetric(perSession, "B/session")
	}
}

// BenchmarkAuthURL is the auth-url route in process, on the memory store:
// a sealed login cookie and sgID's authorization URL per call, for a
// request with an app parameter.
//
//	go test -run '^$' -bench BenchmarkAuthURL -benchmem .
func BenchmarkAuthURL(b *testing.B) {
	benchAuthURL(b, "?icecream=Vanilla")
}

// BenchmarkAuthURLBare is BenchmarkAuthURL for the request the system
// benchmark sends: no query and no cookie.
func BenchmarkAuthURLBare(b *testing.B) {
	benchAuthURL(b, "")
}

func benchAuthURL(b *testing.B, query string) {
	h := unitHandler(b, &Handler{AppParams: map[string]string{"icecream": "iceCream"}}, nil, nil)
	h.client = mustTestClient(b)
	req := withReplacer(httptest.NewRequest(http.MethodGet, "http://app.example"+DefaultAuthURLPath+query, nil))
	b.ReportAllocs()
	// CPU time as well as wall time: on a shared machine it counts this
	// work and not the waits for a core.
	cpu := loginbench.CPUTime(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusOK {
			b.Fatalf("%d %v", w.Code, err)
		}
	}
	b.ReportMetric(float64((loginbench.CPUTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// TestMain lets BenchmarkLoginCPU run the fake sgID in a child process.
func TestMain(m *testing.M) { os.Exit(loginbench.Main(m)) }

// BenchmarkLoginCPU measures the plugin's CPU time per login (auth-url,
// then the callback: login cookie, claim, code exchange with the ID-token
// check, userinfo with its decryption, session sealed and stored) against
// the login's physical floor (loginbench.Floor: one RSA-OAEP-256
// decryption and one RS256 verification with crypto/rsa). The handler is
// driven in process with the memory store; the fake sgID runs in a child
// process, so this process's CPU time (getrusage, every thread) is the
// plugin's. Each round runs 8 logins: their auth-urls and callbacks are
// timed, the browser's visit to sgID between them is not; then as many
// floor operations are timed, so that load from elsewhere weighs on both.
//
//	go test -run '^$' -bench BenchmarkLoginCPU -count 5 .
//
// With -cpuprofile, the samples of the timed work carry the label
// part=login or part=floor (pprof -tagfocus), so that the profile can be
// split as the ratio is; the runtime's own (GC, scheduler) carry none.
func BenchmarkLoginCPU(b *testing.B) {
	const parallel = 8
	p := loginbench.StartProvider(b)
	h := unitHandler(b, &Handler{}, nil, nil)
	client, err := sgid.New(sgid.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, PrivateKey: p.KeyPEM, Host: p.URL,
		Scopes: []string{"openid", "myinfo.name", "myinfo.residentialstatus", "myinfo.email"}})
	if err != nil {
		b.Fatal(err)
	}
	h.client = client
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	type login struct {
		cookie   *http.Cookie
		callback string
	}
	// start runs auth-url in the handler (timed by the caller) and returns
	// the login cookie and sgID's URL.
	start := func() (*http.Cookie, string) {
		req := httptest.NewRequest(http.MethodGet, "http://localhost:9080"+h.AuthURLPath, nil)
		req = withReplacer(req)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusOK {
			b.Fatalf("auth-url: %d %v", w.Code, err)
		}
		var out struct{ URL string }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			b.Fatal(err)
		}
		return w.Result().Cookies()[0], out.URL
	}
	// atProvider is the browser at sgID, not timed: it returns the callback.
	atProvider := func(authURL string) string {
		resp, err := noFollow.Get(authURL)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			b.Fatalf("authorize answered %d", resp.StatusCode)
		}
		return loc.RequestURI()
	}
	finish := func(l login) {
		req := httptest.NewRequest(http.MethodGet, "http://localhost:9080"+l.callback, nil)
		req.AddCookie(l.cookie)
		req = withReplacer(req)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusFound || strings.HasPrefix(w.Header().Get("Location"), h.ErrorPath) {
			b.Errorf("callback: %d %v -> %s", w.Code, err, w.Header().Get("Location"))
		}
	}

	// The floor's inputs come from one login of the same client.
	verifier, challenge := sgid.GeneratePKCEPair()
	authURL, nonce, err := client.AuthorizationURL(sgid.AuthParams{State: "floor", CodeChallenge: challenge, RedirectURI: "http://localhost:9080" + h.CallbackPath})
	if err != nil {
		b.Fatal(err)
	}
	cb, _ := url.Parse(atProvider(authURL))
	tok, err := client.Exchange(b.Context(), sgid.ExchangeParams{Code: cb.Query().Get("code"), CodeVerifier: verifier, Nonce: nonce, RedirectURI: "http://localhost:9080" + h.CallbackPath})
	if err != nil {
		b.Fatal(err)
	}
	floor := loginbench.NewFloor(b, p, tok.AccessToken, tok.IDToken)

	var loginCPU, floorCPU time.Duration
	var logins int
	for b.Loop() {
		ls := make([]login, parallel)
		urls := make([]string, parallel)
		runtime.GC()
		t0 := loginbench.CPUTime(b)
		for i := range ls {
			loginbench.Label("login", func() { ls[i].cookie, urls[i] = start() })
		}
		loginCPU += loginbench.CPUTime(b) - t0
		for i := range ls {
			ls[i].callback = atProvider(urls[i])
		}
		runtime.GC()
		t0 = loginbench.CPUTime(b)
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Go(func() { loginbench.Label("login", func() { finish(l) }) })
		}
		wg.Wait()
		loginCPU += loginbench.CPUTime(b) - t0
		logins += parallel

		floorCPU += floor.TimeParallel(b, parallel)
	}
	loginbench.Report(b, loginCPU, floorCPU, logins)
}

// BenchmarkHandlerOverhead is what the handler adds to a request it passes
// on, against a no-op handler in the same harness (the rows of
// TestAllocBudgets): with no session cookie, and on a memo hit of a
// logged-in user with two identity headers on a protected path. Subtract
// the noop row from each. The floor row is the least a guard can do on a
// memo hit (see memoFloor), for comparison with the memo hit.
//
//	go test -run '^$' -bench HandlerOverhead -benchmem -count 6 .
func BenchmarkHandlerOverhead(b *testing.B) {
	h := unitHandler(b, &Handler{Guard: &Guard{Protect: []string{"/api/*"}, IdentityHeaders: map[string]string{"X-Sgid-Sub": "sub", "X-Sgid-Name": "myinfo.name"}}}, nil, nil)
	id := putTestSession(b, h, session.Session{Sub: "s1", Data: map[string]string{"myinfo.name": "TAN"}, Expires: time.Now().Add(time.Hour)})
	cookie := (&http.Cookie{Name: DefaultCookieName, Value: id}).String()
	noop := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { w.WriteHeader(http.StatusNoContent); return nil })
	floor := newMemoFloor(id, map[string]string{"X-Sgid-Sub": "s1", "X-Sgid-Name": "TAN"})
	for _, tc := range []struct {
		name, target, cookie string
		sgid                 bool
	}{
		{"noop", "/api/orders", "", false},
		{"no_session_cookie", "/app/page", "", true},
		{"memo_hit_identity_headers", "/api/orders", cookie, true},
		{"floor_memo_hit", "/api/orders", cookie, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://app.example"+tc.target, nil)
			req = req.WithContext(contextWithReplacer(req))
			w := &discardWriter{hdr: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if tc.cookie != "" {
					// The handler cut its cookie out; put it back, in
					// canonical form already.
					req.Header["Cookie"] = []string{tc.cookie}
				}
				var err error
				switch {
				case tc.sgid:
					err = h.ServeHTTP(w, req, noop)
				case tc.name == "floor_memo_hit":
					err = floor.ServeHTTP(w, req, noop)
				default:
					err = noop.ServeHTTP(w, req)
				}
				if err != nil || w.code != http.StatusNoContent {
					b.Fatalf("%d %v", w.code, err)
				}
				// A browser's next request carries no identity header:
				// take off the ones the handler set, in every case alike.
				delete(req.Header, "X-Sgid-Sub")
				delete(req.Header, "X-Sgid-Name")
			}
		})
	}
}

// memoFloor is the least a guard can do on a memo hit, as the issue on the
// handler's own cost lists it, for BenchmarkHandlerOverhead's floor row:
// read the session cookie, hash it, read the memo and compare the id in
// constant time with the remembered one's, read the store's record under
// its lock and check it is the remembered one, set three placeholders and
// two identity headers, and cut the cookie out. No path rule, no header scrubbing, no expiry or
// clock, no access rule: it is a reference, not a guard.
type memoFloor struct {
	seed    maphash.Seed
	memo    map[uint64]*floorEntry
	mu      sync.RWMutex
	records map[string][]byte
}

type floorEntry struct {
	id, key string
	sealed  []byte
	headers map[string][]string
	places  [3]struct {
		name  string
		value any
	}
}

func newMemoFloor(id string, headers map[string]string) *memoFloor {
	f := &memoFloor{seed: maphash.MakeSeed(), memo: map[uint64]*floorEntry{}, records: map[string][]byte{}}
	e := &floorEntry{id: id, key: "k-" + id, sealed: []byte(strings.Repeat("s", 600)), headers: map[string][]string{}}
	e.places[0].name, e.places[0].value = "http.auth.user.id", "s1"
	e.places[1].name, e.places[1].value = "http.auth.user.myinfo.name", "TAN"
	e.places[2].name, e.places[2].value = "http.auth.user.auth_time", "1"
	for k, v := range headers {
		e.headers[k] = []string{v}
	}
	f.memo[maphash.String(f.seed, id)] = e
	f.records[e.key] = bytes.Clone(e.sealed)
	return f
}

func (f *memoFloor) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if lines := r.Header["Cookie"]; len(lines) == 1 {
		if _, id, ok := strings.Cut(lines[0], "="); ok {
			if e := f.memo[maphash.String(f.seed, id)]; e != nil && subtle.ConstantTimeEq(int32(len(id)), int32(len(e.id))) == 1 && subtle.ConstantTimeCompare([]byte(id), []byte(e.id)) == 1 {
				f.mu.RLock()
				rec := f.records[e.key]
				f.mu.RUnlock()
				if bytes.Equal(rec, e.sealed) {
					repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
					for _, p := range e.places {
						repl.Set(p.name, p.value)
					}
					for k, v := range e.headers {
						r.Header[k] = v
					}
					delete(r.Header, "Cookie")
				}
			}
		}
	}
	return next.ServeHTTP(w, r)
}
