package cluster

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// Browser is testcaddy's browser with one cookie jar for every instance.
// It follows no redirects, so each hop of a login can be checked, and opens
// a new connection per request, so a restarted instance never meets a
// connection its previous run left behind. Its sgid methods take the
// Target to call, where testcaddy's work on one origin.
type Browser struct {
	*testcaddy.Browser
}

// NewBrowser returns a browser with an empty jar.
func NewBrowser(tb testing.TB) *Browser {
	b := testcaddy.NewBrowser(tb, "http://localhost")
	b.Client = NewClient(b.Jar)
	return &Browser{b}
}

// NewClient is a client that follows no redirects, with jar (nil: none),
// dialling localhost on IPv4, and sending a request once more that an
// instance on its way out closed unanswered (testcaddy.ReloadTransport).
func NewClient(jar http.CookieJar) *http.Client {
	return &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		Transport:     testcaddy.RetryOnReload(&http.Transport{DisableKeepAlives: true, DialContext: DialLoopback}),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
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
	b.TB.Helper()
	return b.on(i).StartLogin(query)
}

// on is the browser with paths on i's origin.
func (b *Browser) on(i Target) *testcaddy.Browser {
	return b.At(strings.TrimSuffix(i.URL(""), "/"))
}

// Callback visits the callback URL on i (whatever origin sgID named in
// it, as a load balancer may send it anywhere) and returns where it
// redirects.
func (b *Browser) Callback(i Target, callbackURL string) string {
	b.TB.Helper()
	return b.Browser.Callback(OnTarget(b.TB, i, callbackURL))
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
	b.TB.Helper()
	return b.Callback(finish, b.AtProvider(b.StartLogin(start, query)))
}

// Userinfo asks i who is logged in and returns the status and body.
func (b *Browser) Userinfo(i Target) (int, string) {
	b.TB.Helper()
	status, _, body := b.on(i).Userinfo()
	return status, body
}

// Logout logs out on i and fails the test unless i answers 200.
func (b *Browser) Logout(i Target) {
	b.TB.Helper()
	b.on(i).Logout()
}

// GetWithCookies fetches path on i with exactly these cookies and no jar:
// what a client holding a copied cookie sees.
func GetWithCookies(tb testing.TB, i Target, path string, cookies ...*http.Cookie) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, i.URL(path), nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, ck := range cookies {
		if ck == nil {
			tb.Fatalf("GET %s: a cookie to send is missing", path)
		}
		req.AddCookie(ck)
	}
	b := &testcaddy.Browser{TB: tb, Client: NewClient(nil)}
	return b.Do(req)
}
