package sgidtest_test

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func TestAuthorizeRejectsUnsafeRequestsWithoutRedirect(t *testing.T) {
	s := newServer(t, sgidtest.Options{RedirectURIs: []string{testRedirect}})
	for name, mutate := range map[string]func(url.Values){
		"unknown client":         func(q url.Values) { q.Set("client_id", "other") },
		"missing client":         func(q url.Values) { q.Del("client_id") },
		"unregistered redirect":  func(q url.Values) { q.Set("redirect_uri", "http://evil.example/callback") },
		"missing redirect":       func(q url.Values) { q.Del("redirect_uri") },
		"duplicate redirect":     func(q url.Values) { q.Add("redirect_uri", "http://evil.example/") },
		"redirect with fragment": func(q url.Values) { q.Set("redirect_uri", testRedirect+"#x") },
	} {
		params, _ := authorizeParams(s, "openid")
		mutate(params)
		resp, body := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: status %d Location %q, want 400 without a redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(body, "Mock sgID") {
			t.Errorf("%s: the error page lacks the banner", name)
		}
	}
}

func TestAuthorizeAnyRedirectWhenUnconfigured(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	for uri, ok := range map[string]bool{
		"https://app.example/cb?keep=1": true,
		"http://localhost:8080/cb":      true,
		"/relative":                     false,
		"javascript:alert(1)":           false,
		"ftp://app.example/cb":          false,
	} {
		params, _ := authorizeParams(s, "openid")
		params.Set("redirect_uri", uri)
		resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
		if got := resp.StatusCode == http.StatusFound; got != ok {
			t.Errorf("%q: status %d", uri, resp.StatusCode)
		}
		if ok {
			// An existing query on the redirect URI is kept.
			u := location(t, resp)
			if strings.Contains(uri, "keep=1") && u.Query().Get("keep") != "1" {
				t.Errorf("%q: query lost in %s", uri, u)
			}
		}
	}
}

func TestAuthorizeErrorsRedirectWithState(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	for name, mutate := range map[string]func(url.Values){
		"no openid":          func(q url.Values) { q.Set("scope", "myinfo.name") },
		"response_type":      func(q url.Values) { q.Set("response_type", "token") },
		"no challenge":       func(q url.Values) { q.Del("code_challenge") },
		"short challenge":    func(q url.Values) { q.Set("code_challenge", "abc") },
		"plain method":       func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no method":          func(q url.Values) { q.Del("code_challenge_method") },
		"duplicate response": func(q url.Values) { q.Add("response_type", "code") },
	} {
		params, l := authorizeParams(s, "openid myinfo.name")
		mutate(params)
		resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
		u := location(t, resp)
		q := u.Query()
		if q.Get("error") != "invalid_request" || q.Get("state") != l.state || q.Get("code") != "" {
			t.Errorf("%s: redirected to %s", name, u)
		}
	}
}

func TestAuthorizeWithoutStateOrNonce(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	params, l := authorizeParams(s, "openid")
	params.Del("state")
	params.Del("nonce")
	resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
	u := location(t, resp)
	if u.Query().Has("state") {
		t.Errorf("state sent back although none was given: %s", u)
	}
	l.code = u.Query().Get("code")
	_, tr := redeem(t, s, tokenForm(s, l))
	if _, ok := unverifiedClaims(t, tr.IDToken)["nonce"]; ok {
		t.Error("ID token has a nonce although none was sent")
	}
}

func TestSelectPersona(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	if err := s.SelectPersona("sgidtest:nobody"); err == nil {
		t.Error("SelectPersona accepted an unknown sub")
	}
	target := s.Personas()[2]
	if err := s.SelectPersona(target.Sub); err != nil {
		t.Fatal(err)
	}
	_, tr := mustTokens(t, s, "openid")
	if sub := unverifiedClaims(t, tr.IDToken)["sub"]; sub != target.Sub {
		t.Errorf("sub %v, want %q", sub, target.Sub)
	}
}

var pendingRE = regexp.MustCompile(`name="pending" value="([^"]+)"`)

// loginPage fetches the interactive login page for a new request.
func loginPage(t *testing.T, s *sgidtest.Server, base string, l *url.Values) (string, string) {
	t.Helper()
	resp, body := get(t, s, base+"/oauth/authorize?"+l.Encode(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page status %d: %s", resp.StatusCode, body)
	}
	m := pendingRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no pending id in the page:\n%s", body)
	}
	return body, html.UnescapeString(m[1])
}

func TestLoginPage(t *testing.T) {
	s := newServer(t, sgidtest.Options{LoginPage: true})
	params, l := authorizeParams(s, "openid myinfo.name myinfo.email")
	resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	body, pending := loginPage(t, s, s.Issuer(), &params)

	for _, want := range []string{
		"Mock sgID — for development only. No real Singpass login happens here.",
		`<meta name="viewport"`,
		`method="post"`,
		`action="authorize"`,
		`name="cancel"`,
		"myinfo.email",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	for _, p := range s.Personas() {
		for _, want := range []string{p.Name(), p.Label, p.Data["myinfo.nric_number"], p.Sub} {
			if !strings.Contains(html.UnescapeString(body), want) {
				t.Errorf("login page lacks %q of persona %s", want, p.Sub)
			}
		}
	}
	// Self-contained: nothing is loaded from anywhere.
	for _, bad := range []string{"<script", "<link", "<img", "src=", "@import", "url("} {
		if strings.Contains(body, bad) {
			t.Errorf("login page contains %q", bad)
		}
	}

	// Approve as the second persona.
	target := s.Personas()[1]
	resp, _ = postForm(t, s, s.Issuer()+"/oauth/authorize", url.Values{"pending": {pending}, "sub": {target.Sub}})
	u := location(t, resp)
	if u.Query().Get("state") != l.state || u.Query().Get("code") == "" {
		t.Fatalf("approve redirected to %s", u)
	}
	l.code = u.Query().Get("code")
	_, tr := redeem(t, s, tokenForm(s, l))
	if sub := unverifiedClaims(t, tr.IDToken)["sub"]; sub != target.Sub {
		t.Errorf("sub %v, want %q", sub, target.Sub)
	}

	// The pending id is single use.
	resp, _ = postForm(t, s, s.Issuer()+"/oauth/authorize", url.Values{"pending": {pending}, "sub": {target.Sub}})
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("reused pending id: status %d", resp.StatusCode)
	}
	// A made-up one does not work either.
	resp, _ = postForm(t, s, s.Issuer()+"/oauth/authorize", url.Values{"pending": {"guess"}, "sub": {target.Sub}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("guessed pending id: status %d", resp.StatusCode)
	}
}

func TestLoginPageCancel(t *testing.T) {
	s := newServer(t, sgidtest.Options{LoginPage: true})
	params, l := authorizeParams(s, "openid")
	_, pending := loginPage(t, s, s.Issuer(), &params)
	resp, _ := postForm(t, s, s.Issuer()+"/oauth/authorize", url.Values{"pending": {pending}, "cancel": {"1"}})
	u := location(t, resp)
	q := u.Query()
	if q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != l.state || q.Has("code") {
		t.Errorf("cancel redirected to %s", u)
	}
}

func TestLoginPageExpires(t *testing.T) {
	clock := newFakeClock()
	s := newServer(t, sgidtest.Options{LoginPage: true, Now: clock.Now})
	params, _ := authorizeParams(s, "openid")
	_, pending := loginPage(t, s, s.Issuer(), &params)
	clock.Advance(11 * time.Minute)
	resp, _ := postForm(t, s, s.Issuer()+"/oauth/authorize", url.Values{"pending": {pending}, "sub": {s.Personas()[0].Sub}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("stale pending id: status %d, want 400", resp.StatusCode)
	}
}

func TestLoginPageEscapes(t *testing.T) {
	evil := sgidtest.Persona{
		Sub:   `sgidtest:"><script>alert(1)</script>`,
		Label: `<b>bold</b> & "quoted"`,
		Data:  map[string]string{"myinfo.name": "<img src=x onerror=alert(1)>"},
	}
	s := newServer(t, sgidtest.Options{LoginPage: true, Personas: []sgidtest.Persona{evil}})
	params, _ := authorizeParams(s, "openid <script>")
	body, pending := loginPage(t, s, s.Issuer(), &params)
	for _, bad := range []string{"<script", "<img", "<b>"} {
		if strings.Contains(body, bad) {
			t.Errorf("unescaped %q in the page", bad)
		}
	}
	resp, _ := postForm(t, s, s.Issuer()+"/oauth/authorize", url.Values{"pending": {pending}, "sub": {evil.Sub}})
	if resp.StatusCode != http.StatusFound {
		t.Errorf("approving the odd persona: status %d", resp.StatusCode)
	}
}

// TestMountedUnderPrefix proves that the page's relative form action works
// when the provider is mounted below a path prefix.
func TestMountedUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	ts := httptest.NewUnstartedServer(mux)
	issuer := "http://" + ts.Listener.Addr().String() + "/auth/v2"
	p, err := sgidtest.NewProvider(issuer, sgidtest.Options{LoginPage: true, ClientPublicKey: &clientKey().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/auth/", http.StripPrefix("/auth", p))
	ts.Start()
	defer ts.Close()

	client := ts.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	_, challenge := pkcePair()
	pageURL := issuer + "/oauth/authorize?" + url.Values{
		"client_id": {p.ClientID()}, "scope": {"openid"}, "redirect_uri": {testRedirect},
		"response_type": {"code"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"xyz"},
	}.Encode()
	resp, err := client.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := pendingRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no login page: %s", body)
	}
	action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(body)
	base, _ := url.Parse(pageURL)
	target := base.ResolveReference(&url.URL{Path: string(action[1])})
	resp, err = client.PostForm(target.String(), url.Values{"pending": {html.UnescapeString(string(m[1]))}, "sub": {p.Personas()[0].Sub}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Get("state") != "xyz" {
		t.Errorf("POST to %s: status %d Location %s", target, resp.StatusCode, loc)
	}

	resp, err = client.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"token_endpoint":"`+issuer+`/oauth/token"`) {
		t.Errorf("discovery under a prefix: %s", body)
	}
}

// The login pages open at once are bounded, so a flood of authorize
// requests (the provider also runs inside Caddy as the handler's mock)
// cannot grow memory without end.
func TestLoginPagesBounded(t *testing.T) {
	p, err := sgidtest.NewProvider("https://mock.example/v2", sgidtest.Options{LoginPage: true})
	if err != nil {
		t.Fatal(err)
	}
	challenge := strings.Repeat("a", 43)
	u := "/v2/oauth/authorize?client_id=sgidtest-client&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge=" + challenge + "&code_challenge_method=S256&state=s"
	var last int
	for i := 0; i <= 10_000; i++ {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		last = w.Code
		if i < 10_000 && last != http.StatusOK {
			t.Fatalf("login page %d answered %d", i, last)
		}
	}
	if last != http.StatusServiceUnavailable {
		t.Errorf("login page beyond the bound answered %d, want 503", last)
	}
}
