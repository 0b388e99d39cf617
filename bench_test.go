package caddysgid

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testredis"
	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
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

// BenchmarkCaddyUserinfoVsRespond drives a running Caddy over loopback:
// /api/userinfo from a session against a `respond` route answering the same
// JSON, in one run. Compare the two ns/op (or their inverse, req/s).
func BenchmarkCaddyUserinfoVsRespond(b *testing.B) {
	startCaddy(b, `http://localhost:9080 {
	sgid {
		mock
		app_param icecream iceCream
	}
	respond /baseline `+"`"+`{"sub":"sgidtest:tan-wei-ming","data":{"iceCream":"Vanilla","myinfo.name":"TAN WEI MING (陈伟明)"}}`+"`"+` 200
}`)
	// Log in once through the mock's page.
	cookie := mockLoginCookie(b)
	for _, path := range []string{"/baseline", "/api/userinfo"} {
		b.Run(path, func(b *testing.B) {
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, testOrigin+path, nil)
					req.AddCookie(cookie)
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("%s: %d", path, resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// loginStores are the stores BenchmarkLoginPerStore compares, each on a
// site of its own in one Caddy; redisAddr fills in the redis one.
var loginStores = []struct{ name, store string }{
	{"memory", "store memory"},
	{"storage", "store storage"},
	{"redis", "store redis {\n\t\t\taddress %s\n\t\t}"},
}

// BenchmarkLoginPerStore measures full logins through the mock (auth-url,
// the mock's login page and its form POST, the callback) with each store,
// and reports each store's logins/s and its ratio to memory's. The stores
// take turns login by login, in a rotating order, in one Caddy, so that the
// other work on a shared machine weighs on all of them alike and the ratios
// compare like with like.
func BenchmarkLoginPerStore(b *testing.B) {
	redis := testredis.Start(b, testredis.Options{})
	var sites strings.Builder
	for _, s := range loginStores {
		st := s.store
		if s.name == "redis" {
			st = fmt.Sprintf(st, redis.Addr)
		}
		fmt.Fprintf(&sites, `
http://%s.localhost:9080 {
	sgid {
		mock
		app_param icecream iceCream
		%s
	}
	respond "ok" 200
}
`, s.name, st)
	}
	// The storage store writes to a folder of the benchmark's, not to the
	// user's Caddy data. Only errors are logged, so that the start-up
	// warnings (the mock's, HTTP/2 without TLS) of each round do not split
	// the result lines; a login that fails stops the benchmark with the
	// step that failed.
	startCaddy(b, fmt.Sprintf("{\n\tstorage file_system %s\n\tlog {\n\t\tlevel ERROR\n\t}\n}\n%s", b.TempDir(), sites.String()))

	// Every *.localhost site is reached on the loopback port, over
	// connections kept alive across logins as a browser keeps them.
	transport := &http.Transport{
		MaxIdleConnsPerHost: 4,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:9080")
		},
	}
	b.Cleanup(transport.CloseIdleConnections)
	sub := sgidtest.DefaultPersonas()[0].Sub
	// One login per store first: it creates the store's sealing key and
	// warms its connections, which later logins do not pay for.
	for _, s := range loginStores {
		mockLoginAt(b, transport, "http://"+s.name+".localhost:9080", sub)
	}

	spent := make([]time.Duration, len(loginStores))
	count := make([]int, len(loginStores))
	round := 0
	for b.Loop() {
		for k := range loginStores {
			i := (round + k) % len(loginStores)
			start := time.Now()
			mockLoginAt(b, transport, "http://"+loginStores[i].name+".localhost:9080", sub)
			spent[i] += time.Since(start)
			count[i]++
		}
		round++
	}
	rate := func(i int) float64 { return float64(count[i]) / spent[i].Seconds() }
	for i, s := range loginStores {
		b.ReportMetric(rate(i), s.name+"-logins/s")
		if i > 0 {
			b.ReportMetric(rate(i)/rate(0), s.name+"/memory")
		}
	}
}

// mockLoginAt logs a new browser in at origin through the mock's login page
// as sub, fails unless the callback ends the login with a session, and
// returns the session cookie.
func mockLoginAt(b testing.TB, transport http.RoundTripper, origin, sub string) *http.Cookie {
	b.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: transport, Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(req *http.Request, want int) (*http.Response, string) {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("%s %s answered %d, want %d: %.200s", req.Method, req.URL.Path, resp.StatusCode, want, body)
		}
		return resp, string(body)
	}
	get := func(u string, want int) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		return do(req, want)
	}

	_, body := get(origin+"/api/auth-url?icecream=Vanilla", http.StatusOK)
	var auth struct{ URL string }
	if err := json.Unmarshal([]byte(body), &auth); err != nil || auth.URL == "" {
		b.Fatalf("auth-url body %.200q", body)
	}
	_, page := get(origin+auth.URL, http.StatusOK)
	form := sgidtest.LoginForm(page)
	if form == nil {
		b.Fatal("no login form on the mock's page")
	}
	form.Set("sub", sub)
	req, _ := http.NewRequest(http.MethodPost, origin+mockPrefix+"/v2/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ := do(req, http.StatusFound)
	callback, err := resp.Location()
	if err != nil {
		b.Fatalf("the mock's redirect: %v", err)
	}
	resp, _ = get(callback.String(), http.StatusFound)
	if loc := resp.Header.Get("Location"); loc != "/logged-in" {
		b.Fatalf("the callback redirected to %q, not /logged-in", loc)
	}
	cookie := responseCookie(resp, DefaultCookieName)
	if cookie == nil {
		b.Fatal("the callback set no session cookie")
	}
	return cookie
}
