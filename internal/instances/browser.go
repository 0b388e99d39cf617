package instances

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"syscall"
	"testing"
	"time"
)

// Browser is an HTTP client with one cookie jar for every instance. It
// follows no redirects, so each hop of a login can be checked, and opens a
// new connection per request, so a restarted instance never meets a
// connection its previous run left behind.
type Browser struct {
	tb  testing.TB
	Jar *cookiejar.Jar
	c   *http.Client
}

// NewBrowser returns a browser with an empty jar.
func NewBrowser(tb testing.TB) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &Browser{tb: tb, Jar: jar, c: newClient(jar)}
}

func newClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true, DialContext: dialLoopback},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Get fetches u with the jar's cookies and returns the answer and its
// body. A transport error fails the test.
func (b *Browser) Get(u string) (*http.Response, string) {
	b.tb.Helper()
	return get(b.tb, b.c, u)
}

func get(tb testing.TB, c *http.Client, u string, cookies ...*http.Cookie) (*http.Response, string) {
	tb.Helper()
	for _, ck := range cookies {
		if ck == nil {
			tb.Fatalf("GET %s: a cookie to send is missing", u)
		}
	}
	var resp *http.Response
	// Right after a reload, the old config's server may still accept a
	// connection and then close it unanswered as it shuts down. Such a
	// request never reached the handler, so it is sent once more; every
	// other error fails the test.
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			tb.Fatal(err)
		}
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err = c.Do(req)
		if err == nil {
			break
		}
		if attempt > 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			tb.Fatalf("GET %s: %v", u, err)
		}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("GET %s: reading the body: %v", u, err)
	}
	return resp, string(body)
}

// Target is where a browser sends a request: an Instance, or a Balancer
// in front of instances.
type Target interface {
	// URL is path on the target's origin.
	URL(path string) string
	// String names the target in messages.
	String() string
}

// StartLogin calls auth-url on i with the query and returns the
// authorization URL at sgID.
func (b *Browser) StartLogin(i Target, query string) string {
	b.tb.Helper()
	resp, body := b.Get(i.URL("/api/auth-url?" + query))
	var out struct{ URL string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.URL == "" {
		b.tb.Fatalf("auth-url on %s: %d %q", i, resp.StatusCode, body)
	}
	return out.URL
}

// AtProvider visits the authorization URL and returns the callback URL
// sgID sends the browser to (with the code and state).
func (b *Browser) AtProvider(authURL string) string {
	b.tb.Helper()
	resp, body := b.Get(authURL)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		b.tb.Fatalf("authorize answered %d %q", resp.StatusCode, body)
	}
	return loc
}

// Callback visits the callback URL on i (whatever origin sgID named in
// it, as a load balancer may send it anywhere) and returns where it
// redirects.
func (b *Browser) Callback(i Target, callbackURL string) string {
	b.tb.Helper()
	resp, body := b.Get(OnTarget(b.tb, i, callbackURL))
	if resp.StatusCode != http.StatusFound {
		b.tb.Fatalf("callback on %s answered %d %q, want 302", i, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// OnTarget is u with its scheme and host replaced by i's origin.
func OnTarget(tb testing.TB, i Target, u string) string {
	tb.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("bad URL %q: %v", u, err)
	}
	o, _ := url.Parse(i.URL(""))
	pu.Scheme, pu.Host = o.Scheme, o.Host
	return pu.String()
}

// Login starts a login on start and finishes it on finish, and returns
// where the callback redirected.
func (b *Browser) Login(start, finish Target, query string) string {
	b.tb.Helper()
	return b.Callback(finish, b.AtProvider(b.StartLogin(start, query)))
}

// Userinfo asks i who is logged in and returns the status and body.
func (b *Browser) Userinfo(i Target) (int, string) {
	b.tb.Helper()
	resp, body := b.Get(i.URL("/api/userinfo"))
	return resp.StatusCode, body
}

// Logout logs out on i and fails the test unless i answers 200.
func (b *Browser) Logout(i Target) {
	b.tb.Helper()
	if resp, body := b.Get(i.URL("/api/logout")); resp.StatusCode != http.StatusOK {
		b.tb.Fatalf("logout on %s: %d %q", i, resp.StatusCode, body)
	}
}

// Cookie returns the jar's cookie by that name for the instances' host,
// or nil.
func (b *Browser) Cookie(name string) *http.Cookie {
	u := &url.URL{Scheme: "http", Host: "localhost"}
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// GetWithCookies fetches path on i with exactly these cookies and no jar:
// what a client holding a copied cookie sees.
func GetWithCookies(tb testing.TB, i Target, path string, cookies ...*http.Cookie) (*http.Response, string) {
	tb.Helper()
	return get(tb, newClient(nil), i.URL(path), cookies...)
}
