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

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func TestAuthorizeRejectsUnsafeRequestsWithoutRedirect(t *testing.T) {
	s := newServer(t, sgidtest.Options{RedirectURIs: []string{testRedirect}})
	for _, tc := range []struct {
		name   string
		mutate func(url.Values)
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "other") }},
		{"missing client", func(q url.Values) { q.Del("client_id") }},
		{"unregistered redirect", func(q url.Values) { q.Set("redirect_uri", "http://evil.example/callback") }},
		{"missing redirect", func(q url.Values) { q.Del("redirect_uri") }},
		{"duplicate redirect", func(q url.Values) { q.Add("redirect_uri", "http://evil.example/") }},
		{"redirect with fragment", func(q url.Values) { q.Set("redirect_uri", testRedirect+"#x") }},
		// Only the code flow exists, and asking for another one must not
		// send the browser anywhere, even to a registered URI.
		{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }},
		{"hybrid flow", func(q url.Values) { q.Set("response_type", "code id_token") }},
		{"missing response_type", func(q url.Values) { q.Del("response_type") }},
		{"duplicate response", func(q url.Values) { q.Add("response_type", "code") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, mutate := tc.name, tc.mutate
			params, _ := authorizeParams(s, "openid")
			mutate(params)
			resp, body := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("%s: status %d Location %q, want 400 without a redirect", name, resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, "Mock sgID") {
				t.Errorf("%s: the error page lacks the banner", name)
			}
		})
	}
}

func TestAuthorizeAnyRedirectWhenUnconfigured(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"https://app.example/cb?keep=1", true},
		{"http://localhost:8080/cb", true},
		{"/relative", false},
		{"javascript:alert(1)", false},
		{"ftp://app.example/cb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			uri, ok := tc.name, tc.ok
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
		})
	}
}

func TestAuthorizeErrorsRedirectWithState(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	for _, tc := range []struct {
		name   string
		mutate func(url.Values)
	}{
		{"no openid", func(q url.Values) { q.Set("scope", "myinfo.name") }},
		{"no challenge", func(q url.Values) { q.Del("code_challenge") }},
		{"short challenge", func(q url.Values) { q.Set("code_challenge", "abc") }},
		{"plain method", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{"no method", func(q url.Values) { q.Del("code_challenge_method") }},
		{"duplicate state", func(q url.Values) { q.Add("state", "other") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, mutate := tc.name, tc.mutate
			params, l := authorizeParams(s, "openid myinfo.name")
			mutate(params)
			resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
			u := location(t, resp)
			q := u.Query()
			if q.Get("error") != "invalid_request" || q.Get("state") != l.state || q.Get("code") != "" {
				t.Errorf("%s: redirected to %s", name, u)
			}
		})
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

// loginPage fetches the interactive login page for a new request and
// returns it with its form's hidden fields.
func loginPage(t *testing.T, s *sgidtest.Server, base string, l *url.Values) (string, url.Values) {
	t.Helper()
	resp, body := get(t, s, base+"/oauth/authorize?"+l.Encode(), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page status %d: %s", resp.StatusCode, body)
	}
	form := sgidtest.LoginForm(body)
	if form == nil {
		t.Fatalf("no login form in the page:\n%s", body)
	}
	return body, form
}

// with returns a copy of form with key set to value.
func with(form url.Values, key, value string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	out.Set(key, value)
	return out
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
	body, form := loginPage(t, s, s.Issuer(), &params)

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
	resp, _ = postForm(t, s, s.Issuer()+"/oauth/authorize", with(form, "sub", target.Sub))
	u := location(t, resp)
	if u.Query().Get("state") != l.state || u.Query().Get("code") == "" {
		t.Fatalf("approve redirected to %s", u)
	}
	l.code = u.Query().Get("code")
	_, tr := redeem(t, s, tokenForm(s, l))
	if sub := unverifiedClaims(t, tr.IDToken)["sub"]; sub != target.Sub {
		t.Errorf("sub %v, want %q", sub, target.Sub)
	}

	// A form decides once: sending it again mints no second code.
	for _, again := range []url.Values{with(form, "sub", target.Sub), with(form, "cancel", "1")} {
		resp, _ = postForm(t, s, s.Issuer()+"/oauth/authorize", again)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("reused form: status %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestLoginPageCancel(t *testing.T) {
	s := newServer(t, sgidtest.Options{LoginPage: true})
	params, l := authorizeParams(s, "openid")
	_, form := loginPage(t, s, s.Issuer(), &params)
	resp, _ := postForm(t, s, s.Issuer()+"/oauth/authorize", with(form, "cancel", "1"))
	u := location(t, resp)
	q := u.Query()
	if q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != l.state || q.Has("code") {
		t.Errorf("cancel redirected to %s", u)
	}
}

func TestLoginPageExpires(t *testing.T) {
	clock := testclock.New(time.Now())
	s := newServer(t, sgidtest.Options{LoginPage: true, Now: clock.Now})
	params, _ := authorizeParams(s, "openid")
	_, form := loginPage(t, s, s.Issuer(), &params)
	clock.Advance(9 * time.Minute)
	resp, page := postForm(t, s, s.Issuer()+"/oauth/authorize", with(form, "sub", s.Personas()[0].Sub))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("a 9-minute-old form: status %d, want 302", resp.StatusCode)
	}
	_, form = loginPage(t, s, s.Issuer(), &params)
	clock.Advance(11 * time.Minute)
	resp, page = postForm(t, s, s.Issuer()+"/oauth/authorize", with(form, "sub", s.Personas()[0].Sub))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "expired") {
		t.Errorf("stale form: status %d, want 400 saying it expired", resp.StatusCode)
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
	body, form := loginPage(t, s, s.Issuer(), &params)
	for _, bad := range []string{"<script", "<img", "<b>"} {
		if strings.Contains(body, bad) {
			t.Errorf("unescaped %q in the page", bad)
		}
	}
	resp, _ := postForm(t, s, s.Issuer()+"/oauth/authorize", with(form, "sub", evil.Sub))
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
	form := sgidtest.LoginForm(string(body))
	if form == nil {
		t.Fatalf("no login page: %s", body)
	}
	action := regexp.MustCompile(`action="([^"]+)"`).FindSubmatch(body)
	base, _ := url.Parse(pageURL)
	target := base.ResolveReference(&url.URL{Path: string(action[1])})
	resp, err = client.PostForm(target.String(), with(form, "sub", p.Personas()[0].Sub))
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

// TestLoginPageKeepsNoState: showing the login page stores nothing, so no
// number of page views can fill a table and lock out other logins (an
// earlier table of open pages did exactly that after 10,000 views).
func TestLoginPageKeepsNoState(t *testing.T) {
	p, err := sgidtest.NewProvider("https://mock.example/v2", sgidtest.Options{LoginPage: true, ClientPublicKey: &clientKey().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	challenge := strings.Repeat("a", 43)
	page := "/v2/oauth/authorize?client_id=sgidtest-client&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge=" + challenge + "&code_challenge_method=S256&state=s"
	for i := range 20_000 {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, page, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("login page view %d answered %d", i, w.Code)
		}
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, page, nil))
	form := sgidtest.LoginForm(w.Body.String())
	form.Set("sub", p.Personas()[0].Sub)
	req := httptest.NewRequest(http.MethodPost, "/v2/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	p.ServeHTTP(w, req)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Query().Get("code") == "" {
		t.Errorf("login after 20,000 page views: status %d Location %q", w.Code, loc)
	}
}

// TestLoginFormTampering: the form carries the whole login request, so
// every field is authenticated; a changed, missing, repeated or foreign
// field is refused on a page of our own, without a redirect.
func TestLoginFormTampering(t *testing.T) {
	s := newServer(t, sgidtest.Options{LoginPage: true})
	params, l := authorizeParams(s, "openid myinfo.name")
	_, form := loginPage(t, s, s.Issuer(), &params)
	form.Set("sub", s.Personas()[0].Sub)

	other := newServer(t, sgidtest.Options{LoginPage: true})
	otherParams, _ := authorizeParams(other, "openid")
	_, foreign := loginPage(t, other, other.Issuer(), &otherParams)
	foreign.Set("sub", s.Personas()[0].Sub)

	tampered := map[string]url.Values{
		"another provider's form": foreign,
	}
	for _, k := range []string{"client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "expires", "mac"} {
		changed := map[string]string{
			"redirect_uri":   "https://evil.example/steal",
			"scope":          "openid myinfo.name myinfo.nric_number",
			"code_challenge": strings.Repeat("A", 43),
			"expires":        "99999999999",
		}[k]
		if changed == "" {
			changed = form.Get(k) + "x"
		}
		tampered["changed "+k] = with(form, k, changed)
		missing := with(form, k, "")
		missing.Del(k)
		tampered["missing "+k] = missing
		twice := with(form, k, form.Get(k))
		twice.Add(k, form.Get(k))
		tampered["repeated "+k] = twice
	}
	for name, f := range tampered {
		resp, page := postForm(t, s, s.Issuer()+"/oauth/authorize", f)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "Mock sgID") {
			t.Errorf("%s: status %d Location %q, want our own 400 page", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// None of that used the genuine form up.
	resp, _ := postForm(t, s, s.Issuer()+"/oauth/authorize", form)
	if u := location(t, resp); u.Query().Get("state") != l.state || u.Query().Get("code") == "" {
		t.Errorf("the genuine form redirected to %s", u)
	}
}

// TestAllowRedirect: with Options.AllowRedirect the provider asks, for
// each request, whether that request may use the redirect URI, on the
// authorize request and again on the login form's POST. Anything refused
// gets a 400 page and no redirect.
func TestAllowRedirect(t *testing.T) {
	const listed = "https://listed.example/cb"
	var asked []string
	s := newServer(t, sgidtest.Options{
		LoginPage:    true,
		RedirectURIs: []string{listed},
		AllowRedirect: func(r *http.Request, uri string) bool {
			asked = append(asked, uri)
			return uri == "http://"+r.Host+"/cb"
		},
	})
	own := s.URL + "/cb"
	refused := func(name string, resp *http.Response) {
		t.Helper()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: status %d Location %q, want 400 without a redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for _, uri := range []string{"https://evil.example/steal", s.URL + "/other", "http://localhost/cb"} {
		params, _ := authorizeParams(s, "openid")
		params.Set("redirect_uri", uri)
		resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
		refused(uri, resp)
	}
	if len(asked) != 3 {
		t.Errorf("AllowRedirect was asked about %q, want each refused URI once", asked)
	}
	// The listed URI needs no hook, and the hook's URI works.
	for _, uri := range []string{listed, own} {
		params, _ := authorizeParams(s, "openid")
		params.Set("redirect_uri", uri)
		loginPage(t, s, s.Issuer(), &params)
	}
	// The request: another response_type to a refused URI, and to
	// the allowed one.
	for _, uri := range []string{"https://evil.example/steal", own} {
		params, _ := authorizeParams(s, "openid")
		params.Set("redirect_uri", uri)
		params.Set("response_type", "token")
		resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
		refused("response_type=token to "+uri, resp)
	}

	// The POST is vetted for its own request: a page shown on one host is
	// refused when its form arrives on another.
	params, l := authorizeParams(s, "openid")
	params.Set("redirect_uri", own)
	_, form := loginPage(t, s, s.Issuer(), &params)
	form.Set("sub", s.Personas()[0].Sub)
	req, _ := http.NewRequest(http.MethodPost, s.Issuer()+"/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Host = "other.example"
	resp, _ := do(t, s, req)
	refused("POST on another host", resp)
	resp, _ = postForm(t, s, s.Issuer()+"/oauth/authorize", form)
	if u := location(t, resp); u.Scheme+"://"+u.Host+u.Path != own || u.Query().Get("state") != l.state {
		t.Errorf("POST on its own host redirected to %s", u)
	}
}
