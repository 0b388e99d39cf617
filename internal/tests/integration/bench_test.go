package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

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
	req, _ := http.NewRequest(http.MethodPost, origin+authorizePath(auth.URL), strings.NewReader(form.Encode()))
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
	cookie := testcaddy.ResponseCookie(resp, caddysgid.DefaultCookieName)
	if cookie == nil {
		b.Fatal("the callback set no session cookie")
	}
	return cookie
}
