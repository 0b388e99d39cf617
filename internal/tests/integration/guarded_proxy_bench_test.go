package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// BenchmarkGuardedProxy drives a running Caddy over loopback with a
// logged-in cookie: a GET reverse-proxied to one upstream, through an sgid
// handler that guards it (/api/*: login check, an allow_field rule, three
// identity headers including a non-ASCII name, session cookie cut out) and
// through one that only resolves the session, as before the guard existed
// (/open/*). Both routes are in one site and share the session store, so
// one login serves both. Compare the two ns/op.
//
//	go test -run '^$' -bench BenchmarkGuardedProxy -count 6 ./internal/tests/integration/
func BenchmarkGuardedProxy(b *testing.B) {
	p := sgidtest.NewServer(sgidtest.Options{})
	b.Cleanup(p.Close)
	keyFile := filepath.Join(b.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, []byte(p.ClientPrivateKeyPEM()), 0o600); err != nil {
		b.Fatal(err)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"orders":[1,2,3]}`)
	}))
	b.Cleanup(upstream.Close)

	sgid := func(extra string) string {
		return fmt.Sprintf(`sgid {
			client_id     %s
			client_secret %s
			private_key   {file.%s}
			host          %s
			scopes        openid myinfo.name myinfo.residentialstatus
			%s
		}
		reverse_proxy %s`, p.ClientID(), p.ClientSecret(), keyFile, p.URL, extra, upstream.Listener.Addr())
	}
	startCaddy(b, fmt.Sprintf(`%s {
	route /api/* {
		%s
	}
	route /open/* {
		%s
	}
	route /plain/* {
		reverse_proxy %s
	}
}`, testOrigin, sgid(`protect /api/*
			login_page /login
			allow_field myinfo.residentialstatus CITIZEN PR
			identity_header sub X-Sgid-Sub
			identity_header myinfo.name X-Sgid-Name
			identity_header myinfo.residentialstatus X-Sgid-Status`), sgid("forward_cookie"), upstream.Listener.Addr()))

	cookie := benchLogin(b)
	// get sends one API call as a browser's fetch would and returns how
	// long it took. It runs on RunParallel's goroutines, so it reports
	// errors with b.Error (b.Fatal must stay on the benchmark's own).
	get := func(b *testing.B, client *http.Client, path string) (time.Duration, bool) {
		req, _ := http.NewRequest(http.MethodGet, testOrigin+path, nil)
		req.Header.Set("Accept", "*/*")
		req.Header.Set("Sec-Fetch-Mode", "cors")
		req.Header.Set("Sec-Fetch-Dest", "empty")
		req.AddCookie(cookie)
		req.AddCookie(&http.Cookie{Name: "theme", Value: "dark"})
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			b.Errorf("%s: %d", path, resp.StatusCode)
			return 0, false
		}
		return took, true
	}
	for _, route := range []struct{ name, path string }{
		{"unguarded", "/open/data"},
		{"guarded", "/api/data"},
	} {
		b.Run(route.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
				defer client.CloseIdleConnections()
				for pb.Next() {
					if _, ok := get(b, client, route.path); !ok {
						return
					}
				}
			})
		})
	}
	// The two in alternation, so that load from elsewhere on the machine
	// weighs on both alike: ns/op is one guarded plus one unguarded call,
	// and the custom metrics split it.
	b.Run("alternating", func(b *testing.B) {
		var open, guarded atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			for i := 0; pb.Next(); i++ {
				// Alternate which goes first, in case order matters.
				first, second := "/open/data", "/api/data"
				if i%2 == 1 {
					first, second = second, first
				}
				for _, path := range []string{first, second} {
					took, ok := get(b, client, path)
					if !ok {
						return
					}
					if path == "/api/data" {
						guarded.Add(int64(took))
					} else {
						open.Add(int64(took))
					}
				}
			}
		})
		o, g := float64(open.Load())/float64(b.N), float64(guarded.Load())/float64(b.N)
		b.ReportMetric(o, "ns-latency-unguarded")
		b.ReportMetric(g, "ns-latency-guarded")
		b.ReportMetric(100*(g-o)/o, "%overhead")
	})
	// CPU time per request of this whole process (client, Caddy and
	// upstream alike), in windows of each route in turn: on a machine
	// whose cores are busy, requests per second go as its inverse, and it
	// is not disturbed by waits for a core as latency is. /plain/* is the
	// same reverse_proxy without any sgid handler. ns/op is one round of
	// the three windows.
	b.Run("cpu", func(b *testing.B) {
		const window = 64
		paths := []string{"/plain/data", "/open/data", "/api/data"}
		cpu := make([]time.Duration, len(paths))
		clients := make([]*http.Client, 8)
		for i := range clients {
			clients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer clients[i].CloseIdleConnections()
		}
		for round := 0; b.Loop(); round++ {
			// Each round starts with another route, and each window after
			// a collection, so that no route pays for another's garbage.
			for k := range paths {
				i := (round + k) % len(paths)
				path := paths[i]
				runtime.GC()
				start := loginbench.CPUTime(b)
				var wg sync.WaitGroup
				for _, client := range clients {
					wg.Go(func() {
						for range window / len(clients) {
							if _, ok := get(b, client, path); !ok {
								return
							}
						}
					})
				}
				wg.Wait()
				cpu[i] += loginbench.CPUTime(b) - start
			}
		}
		per := func(i int) float64 { return float64(cpu[i].Nanoseconds()) / float64(b.N*window) }
		b.ReportMetric(per(0), "cpu-ns/plain")
		b.ReportMetric(per(1), "cpu-ns/unguarded")
		b.ReportMetric(per(2), "cpu-ns/guarded")
		b.ReportMetric(per(1)/per(2), "x-guarded-vs-unguarded")
		b.ReportMetric(per(0)/per(2), "x-guarded-vs-plain")
	})
}

// benchLogin logs in at the fake sgID through the Caddy on testOrigin and
// returns the session cookie.
func benchLogin(tb testing.TB) *http.Cookie {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: testcaddy.ReloadTransport, Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		resp, err := c.Get(u)
		if err != nil {
			tb.Fatal(err)
		}
		return resp
	}
	resp := get(testOrigin + "/api/auth-url")
	var out struct{ URL string }
	err := json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || out.URL == "" {
		tb.Fatalf("auth-url: %d %v", resp.StatusCode, err)
	}
	resp = get(out.URL)
	resp.Body.Close()
	resp = get(resp.Header.Get("Location"))
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == caddysgid.DefaultCookieName {
			return &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	tb.Fatalf("no session cookie after the login (callback answered %d)", resp.StatusCode)
	return nil
}
