package testcaddy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// The sgid handler's routes under their default paths, which the tests'
// Caddyfiles keep.
const (
	AuthURLPath  = "/api/auth-url"
	UserinfoPath = "/api/userinfo"
	LogoutPath   = "/api/logout"
)

// Browser is a client with a cookie jar of its own that follows no
// redirects, so that each hop of a login can be checked. Paths (URLs that
// begin with "/") are on Base, and so are the sgid routes. Every failure
// to get an answer fails the test.
type Browser struct {
	TB     testing.TB
	Client *http.Client
	Jar    *cookiejar.Jar
	// Base is the origin, as "http://localhost:9080", that paths and the
	// sgid routes are relative to.
	Base string
}

// NewBrowser returns a browser with an empty jar on origin base, whose
// requests go through ReloadTransport.
func NewBrowser(tb testing.TB, base string) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &Browser{TB: tb, Jar: jar, Base: base, Client: &http.Client{
		Transport:     ReloadTransport,
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// UserAgent makes b send ua as its User-Agent from now on, as a real
// browser names itself (Go's client sends its own otherwise).
func (b *Browser) UserAgent(ua string) {
	c := *b.Client
	c.Transport = userAgent{ua: ua, next: c.Transport}
	b.Client = &c
}

// userAgent is a transport that sets the User-Agent of every request.
type userAgent struct {
	ua   string
	next http.RoundTripper
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	next := u.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// At is the same browser (jar and client) with paths on another origin.
func (b *Browser) At(base string) *Browser {
	c := *b
	c.Base = base
	return &c
}

// URL is u on Base when u is a path, else u.
func (b *Browser) URL(u string) string {
	if strings.HasPrefix(u, "/") {
		return b.Base + u
	}
	return u
}

// Get fetches u with header pairs (name, value, ...) set, and returns the
// answer and its body.
func (b *Browser) Get(u string, header ...string) (*http.Response, string) {
	b.TB.Helper()
	req, err := http.NewRequest(http.MethodGet, b.URL(u), nil)
	if err != nil {
		b.TB.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.Do(req)
}

// Send makes a request with header set exactly as given: names are not
// canonicalized and values may repeat.
func (b *Browser) Send(method, u string, header http.Header, body io.Reader) (*http.Response, string) {
	b.TB.Helper()
	req, err := http.NewRequest(method, b.URL(u), body)
	if err != nil {
		b.TB.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return b.Do(req)
}

// PostForm posts form to u as a browser submits a form.
func (b *Browser) PostForm(u string, form url.Values) (*http.Response, string) {
	b.TB.Helper()
	return b.Send(http.MethodPost, u, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, strings.NewReader(form.Encode()))
}

// Do sends req with the jar's cookies and returns the answer and its
// whole body.
func (b *Browser) Do(req *http.Request) (*http.Response, string) {
	b.TB.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.TB.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.TB.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, string(body)
}

// maxHops bounds the redirects Follow takes, as browsers do.
const maxHops = 10

// Follow GETs u with header and follows the redirects, as a browser's
// navigation does. It returns the last answer (whose Request.URL is where
// the navigation ended), its body, and the URL of each redirect taken, in
// order. More than 10 redirects fail the test.
func (b *Browser) Follow(u string, header http.Header) (*http.Response, string, []*url.URL) {
	b.TB.Helper()
	var hops []*url.URL
	for {
		resp, body := b.Send(http.MethodGet, u, header, nil)
		loc, err := resp.Location()
		if resp.StatusCode < 300 || resp.StatusCode > 399 || errors.Is(err, http.ErrNoLocation) {
			return resp, body, hops
		}
		if err != nil {
			b.TB.Fatalf("GET %s: redirect to a bad Location: %v", u, err)
		}
		if len(hops) == maxHops {
			b.TB.Fatalf("GET %s: more than %d redirects", u, maxHops)
		}
		hops = append(hops, loc)
		u = loc.String()
	}
}

// StartLogin calls auth-url on Base with query and returns the
// authorization URL.
func (b *Browser) StartLogin(query string) string {
	b.TB.Helper()
	resp, body := b.Get(AuthURLPath + "?" + query)
	var out struct{ URL string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil || out.URL == "" {
		b.TB.Fatalf("auth-url on %s: %d %q", b.Base, resp.StatusCode, body)
	}
	return out.URL
}

// AtProvider visits the authorization URL at a provider that logs the
// browser in at once (sgidtest's, or mockpass's default persona) and
// returns the callback URL it redirects to, with the code and state.
func (b *Browser) AtProvider(authURL string) string {
	b.TB.Helper()
	resp, body := b.Get(authURL)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || loc == "" {
		b.TB.Fatalf("authorize answered %d %q", resp.StatusCode, body)
	}
	return loc
}

// Callback visits the callback URL and returns where it redirects.
func (b *Browser) Callback(callbackURL string) string {
	b.TB.Helper()
	resp, body := b.Get(callbackURL)
	if resp.StatusCode != http.StatusFound {
		b.TB.Fatalf("callback answered %d %q, want 302", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// Login runs a whole login on Base (StartLogin, AtProvider, Callback) and
// returns where the callback redirected.
func (b *Browser) Login(query string) string {
	b.TB.Helper()
	return b.Callback(b.AtProvider(b.StartLogin(query)))
}

// MockApprove opens the built-in mock's login page at authURL, checks its
// banner, picks persona sub, follows the callback, and returns where the
// callback redirected.
func (b *Browser) MockApprove(authURL, sub string) string {
	b.TB.Helper()
	resp, page := b.Get(authURL)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Mock sgID") || !strings.Contains(page, "development only") {
		b.TB.Fatalf("mock login page %d lacks its banner:\n%.400s", resp.StatusCode, page)
	}
	form := sgidtest.LoginForm(page)
	if form == nil {
		b.TB.Fatal("no login form on the mock's page")
	}
	form.Set("sub", sub)
	// The page's form posts back to the authorize endpoint itself.
	endpoint, _, _ := strings.Cut(authURL, "?")
	resp, body := b.PostForm(endpoint, form)
	if resp.StatusCode != http.StatusFound {
		b.TB.Fatalf("the mock's form answered %d %.200q, want 302", resp.StatusCode, body)
	}
	return b.Callback(resp.Header.Get("Location"))
}

// Userinfo asks Base who is logged in: the status, the JSON object (nil
// when the body is none) and the body.
func (b *Browser) Userinfo() (int, map[string]any, string) {
	b.TB.Helper()
	resp, body := b.Get(UserinfoPath)
	var out map[string]any
	_ = json.Unmarshal([]byte(body), &out)
	return resp.StatusCode, out, body
}

// Logout logs out on Base and fails the test unless that answers 200.
func (b *Browser) Logout() {
	b.TB.Helper()
	if resp, body := b.Get(LogoutPath); resp.StatusCode != http.StatusOK {
		b.TB.Fatalf("logout on %s: %d %q", b.Base, resp.StatusCode, body)
	}
}

// Cookie is the jar's cookie by that name for Base, or nil.
func (b *Browser) Cookie(name string) *http.Cookie {
	for _, c := range b.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Cookies are the jar's cookies for Base.
func (b *Browser) Cookies() []*http.Cookie {
	u, err := url.Parse(b.Base)
	if err != nil {
		b.TB.Fatalf("base %q: %v", b.Base, err)
	}
	return b.Jar.Cookies(u)
}

// ReloadTransport is the transport of the tests that reload Caddy. A
// reload stops the old servers asynchronously: right after it, a new
// connection may still be accepted by an old server, which then closes it
// without an answer (EOF). So every request gets a new connection, and a
// request that met such a close before any answer is sent once more. The
// handler itself never closes a connection, so this hides nothing of the
// plugin's.
// Every connection goes to the loopback interface: the test sites are
// named like localhost and openid.localhost, which the machine's resolver
// need not know.
var ReloadTransport http.RoundTripper = RetryOnReload(&http.Transport{DisableKeepAlives: true, DialContext: dialLoopback})

// dialLoopback dials addr's port on 127.0.0.1, whatever its host, as
// Caddy's own test client does.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
}

// RetryOnReload is ReloadTransport's retry over t (which should disable
// keep-alives).
func RetryOnReload(t *http.Transport) http.RoundTripper { return retryOnReload{t} }

type retryOnReload struct{ http.RoundTripper }

func (t retryOnReload) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(r)
	if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return resp, err
	}
	if r.Body != nil && r.Body != http.NoBody {
		if r.GetBody == nil {
			return resp, err
		}
		body, gerr := r.GetBody()
		if gerr != nil {
			return resp, err
		}
		r = r.Clone(r.Context())
		r.Body = body
	}
	return t.RoundTripper.RoundTrip(r)
}
