package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// wrkResult is what one wrk window measured.
type wrkResult struct {
	RPS      float64
	Requests int64
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: .*`)
)

// runWrk loads url with wrk for d (one thread, 16 connections, on the
// generators' core) with the given headers. A window with a non-2xx answer
// or a socket error fails: a fast error page must not pass for throughput.
func runWrk(ctx context.Context, cpus cpuSet, d time.Duration, target string, headers ...string) (wrkResult, error) {
	args := []string{"-t1", "-c16", "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--timeout", "5s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	args = append(args, target)
	if cpus != "" {
		args = append([]string{"-c", string(cpus), "wrk"}, args...)
	}
	name := "wrk"
	if cpus != "" {
		name = "taskset"
	}
	// The window plus a margin bounds the run.
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %w\n%s", target, err, out)
	}
	s := string(out)
	if m := wrkNon2xx.FindStringSubmatch(s); m != nil {
		return wrkResult{}, fmt.Errorf("wrk %s: %s non-2xx answers\n%s", target, m[1], s)
	}
	if m := wrkSocket.FindString(s); m != "" && !strings.Contains(m, "connect 0, read 0, write 0, timeout 0") {
		return wrkResult{}, fmt.Errorf("wrk %s: %s\n%s", target, m, s)
	}
	m := wrkRPS.FindStringSubmatch(s)
	n := wrkRequests.FindStringSubmatch(s)
	if m == nil || n == nil {
		return wrkResult{}, fmt.Errorf("wrk %s: no Requests/sec in its output\n%s", target, s)
	}
	rps, _ := strconv.ParseFloat(m[1], 64)
	reqs, _ := strconv.ParseInt(n[1], 10, 64)
	return wrkResult{RPS: rps, Requests: reqs}, nil
}

// transport is shared by every simulated browser: connections are reused,
// as a browser reuses them, and a new login does not cost a handshake.
var transport = &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}

// newBrowser is a fresh browser: its own cookie jar, redirects handed back
// to the caller.
func newBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport: transport,
		Jar:       jar,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// get fetches u and returns its status, Location and body.
func get(ctx context.Context, c *http.Client, u string) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), body, err
}

// login walks one whole login as a fresh browser against the server at
// origin: auth-url, sgID's authorize (the mock sends the browser straight
// back for its default persona), the callback. It returns the browser,
// logged in. A login counts only when the callback lands on /logged-in.
func login(ctx context.Context, origin string) (*http.Client, error) {
	c := newBrowser()
	status, _, body, err := get(ctx, c, origin+"/api/auth-url")
	if err != nil || status != http.StatusOK {
		return nil, fmt.Errorf("auth-url: status %d, %v", status, err)
	}
	var a struct{ URL string }
	if err := json.Unmarshal(body, &a); err != nil || a.URL == "" {
		return nil, fmt.Errorf("auth-url: answer %.200q", body)
	}
	status, loc, _, err := get(ctx, c, a.URL)
	if err != nil || status != http.StatusFound {
		return nil, fmt.Errorf("sgID authorize: status %d, %v", status, err)
	}
	status, loc, _, err = get(ctx, c, loc)
	if err != nil || status != http.StatusFound || loc != "/logged-in" {
		return nil, fmt.Errorf("callback: status %d to %q, %v", status, loc, err)
	}
	return c, nil
}

// sessionCookie is the value of cookie name the logged-in browser c holds
// for origin.
func sessionCookie(c *http.Client, origin, name string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil {
		return "", err
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value, nil
		}
	}
	return "", fmt.Errorf("no %s cookie after the login", name)
}

// parallel runs work in n goroutines until d has passed or limit calls
// have been started (limit 0: no limit), and returns the successful calls
// and the time taken. A failed call is counted, not retried, and printed
// with the first failure; more than one failure in a hundred calls stops
// everything and is returned, since the figures would then measure
// failures. The failed calls' CPU stays in the figures, which only count
// the successful ones: a failure makes a side look costlier, never
// cheaper.
func parallel(ctx context.Context, n int, d time.Duration, limit int64, work func(context.Context) error) (int64, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var started, done, failed atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	t0 := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if limit > 0 && started.Add(1) > limit {
					return
				}
				err := work(ctx)
				if err != nil {
					if ctx.Err() != nil {
						return // the window ended mid-call
					}
					once.Do(func() { first = err })
					if f := failed.Add(1); tooManyFailures(f, done.Load()) {
						cancel()
						return
					}
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if f := failed.Load(); f > 0 {
		fmt.Printf("  %d of %d calls failed; the first: %v\n", f, f+done.Load(), first)
		if tooManyFailures(f, done.Load()) {
			return done.Load(), elapsed, fmt.Errorf("%d of %d calls failed; the first: %w", f, f+done.Load(), first)
		}
	}
	if limit > 0 && done.Load()+failed.Load() < limit {
		return done.Load(), elapsed, fmt.Errorf("only %d of %d calls within %s", done.Load(), limit, d)
	}
	return done.Load(), elapsed, nil
}

// tooManyFailures reports whether failed calls among failed+done are more
// than one in a hundred (a first failure in the first hundred calls is
// tolerated).
func tooManyFailures(failed, done int64) bool {
	return failed > 1 && failed*100 > failed+done
}

// authURLOnce starts a login as a browser without cookies would.
func authURLOnce(origin string) func(context.Context) error {
	c := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	return func(ctx context.Context) error {
		status, _, body, err := get(ctx, c, origin+"/api/auth-url")
		if err != nil {
			return err
		}
		if status != http.StatusOK || !strings.HasPrefix(string(body), `{"url":`) {
			return fmt.Errorf("auth-url: status %d, %.200q", status, body)
		}
		return nil
	}
}

func loginOnce(origin string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := login(ctx, origin)
		return err
	}
}
