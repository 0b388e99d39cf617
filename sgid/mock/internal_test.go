package mock

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// hiddenInputRE matches the hidden inputs the login template writes.
var hiddenInputRE = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)

// hiddenInputs reads the hidden inputs of a login page, which is all a
// browser would send back besides the button it pressed.
func hiddenInputs(page string) url.Values {
	form := url.Values{}
	for _, m := range hiddenInputRE.FindAllStringSubmatch(page, -1) {
		form.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	return form
}

// benchKey is shared so that each benchmark does not pay for RSA key
// generation.
var benchKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// mockLogin runs one whole login against p in-process, the way the Caddy
// mock is used: the login page, the persona pick, the token exchange and
// userinfo. It fails tb unless every step succeeds.
func mockLogin(tb testing.TB, p *Provider) {
	tb.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	const redirect = "https://app.example/cb"
	q := url.Values{
		"client_id": {p.clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid myinfo.name"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "state": {"st"}, "nonce": {"nn"},
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v2/oauth/authorize?"+q.Encode(), nil))
	if w.Code != http.StatusOK {
		tb.Fatalf("login page: %d %s", w.Code, w.Body)
	}
	form := hiddenInputs(w.Body.String())
	form.Set("sub", p.personas[0].Sub)
	req := httptest.NewRequest(http.MethodPost, "/v2/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	p.ServeHTTP(w, req)
	loc, _ := url.Parse(w.Header().Get("Location"))
	code := loc.Query().Get("code")
	if w.Code != http.StatusFound || code == "" {
		tb.Fatalf("persona pick: %d %s", w.Code, w.Body)
	}
	tf := url.Values{
		"grant_type": {"authorization_code"}, "client_id": {p.clientID}, "client_secret": {p.clientSecret},
		"redirect_uri": {redirect}, "code": {code}, "code_verifier": {verifier},
	}
	req = httptest.NewRequest(http.MethodPost, "/v2/oauth/token", strings.NewReader(tf.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w = httptest.NewRecorder()
	p.ServeHTTP(w, req)
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tr); w.Code != http.StatusOK || err != nil {
		tb.Fatalf("token: %d %s", w.Code, w.Body)
	}
	req = httptest.NewRequest(http.MethodGet, "/v2/oauth/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	w = httptest.NewRecorder()
	p.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		tb.Fatalf("userinfo: %d %s", w.Code, w.Body)
	}
}

// BenchmarkMockLogin measures one whole login (page, pick, token,
// userinfo) against a provider that already holds the codes and access
// tokens of many earlier logins. The cost per login should not depend on
// how many came before; compare the sub-benchmarks' ns/op in one run.
func BenchmarkMockLogin(b *testing.B) {
	for _, prior := range []int{1_000, 30_000} {
		b.Run(fmt.Sprintf("prior=%d", prior), func(b *testing.B) {
			p, err := NewProvider("https://mock.example/v2", Options{LoginPage: true, ClientPublicKey: &benchKey().PublicKey})
			if err != nil {
				b.Fatal(err)
			}
			prefill(p, prior)
			b.ResetTimer()
			for b.Loop() {
				mockLogin(b, p)
			}
		})
	}
}

// prefill gives p the codes and access tokens that n earlier logins would
// have left: used codes still kept for replay detection, and live tokens.
// Filling the tables directly keeps the benchmark's set-up from taking
// minutes of RSA signing.
func prefill(p *Provider, n int) {
	now := p.now()
	for i := range n {
		k := fmt.Sprint("prior-", i)
		p.codes.add(k, &authCode{sub: p.personas[0].Sub, used: true}, now.Add(p.codeTTL), now)
		p.tokens.add(k, &accessToken{sub: p.personas[0].Sub}, now.Add(p.tokenTTL), now)
	}
}

func TestExpiringTable(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	tab := newExpiringTable[int](3)
	for i := range 3 {
		tab.add(fmt.Sprint(i), i, t0.Add(time.Duration(i+1)*time.Minute), t0)
	}
	// Expired entries are never returned, swept or not.
	if _, ok := tab.get("0", t0.Add(time.Minute)); ok {
		t.Error("get returned an expired entry")
	}
	if v, ok := tab.get("1", t0.Add(time.Minute)); !ok || v != 1 {
		t.Errorf("get(1) = %v, %v", v, ok)
	}
	tab.sweep(t0.Add(2 * time.Minute))
	if tab.len() != 1 {
		t.Errorf("after the sweep %d entries, want 1", tab.len())
	}
	// Past the bound the oldest go first.
	for i := 3; i < 8; i++ {
		tab.add(fmt.Sprint(i), i, t0.Add(time.Hour), t0)
		if tab.len() > 3 {
			t.Fatalf("%d entries, bound 3", tab.len())
		}
	}
	for i := range 8 {
		_, ok := tab.get(fmt.Sprint(i), t0)
		if ok != (i >= 5) {
			t.Errorf("entry %d present = %v", i, ok)
		}
	}
	// Removed entries do not pile up in the queue.
	for i := range 1000 {
		k := fmt.Sprint("r", i)
		tab.add(k, i, t0.Add(time.Hour), t0)
		tab.remove(k)
	}
	if n := len(tab.queue) - tab.head; n > 2*tab.max+1 {
		t.Errorf("queue holds %d keys for a table of %d", n, tab.max)
	}
}

// TestTablesBounded: a flood of logins cannot grow the provider's tables
// beyond maxEntries; the oldest codes and tokens are dropped first.
func TestTablesBounded(t *testing.T) {
	p, err := NewProvider("https://mock.example/v2", Options{ClientPublicKey: &benchKey().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{
		"client_id": {p.clientID}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"},
	}
	u := "/v2/oauth/authorize?" + q.Encode()
	var first string
	for i := range maxEntries + 100 {
		w := httptest.NewRecorder()
		p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, u, nil))
		if w.Code != http.StatusFound {
			t.Fatalf("authorize %d: %d", i, w.Code)
		}
		if i == 0 {
			loc, _ := url.Parse(w.Header().Get("Location"))
			first = loc.Query().Get("code")
		}
		if n := p.codes.len(); n > maxEntries {
			t.Fatalf("%d codes after %d logins, bound %d", n, i+1, maxEntries)
		}
	}
	if _, ok := p.codes.get(first, p.now()); ok {
		t.Error("the oldest code survived a full table")
	}
	// The token table holds the same bound; prefill stores the tokens
	// the way serveToken does, without an RSA signature each.
	prefill(p, maxEntries+100)
	if n := p.tokens.len(); n != maxEntries {
		t.Errorf("%d access tokens, want the bound %d", n, maxEntries)
	}
	if _, ok := p.tokens.get("prior-0", p.now()); ok {
		t.Error("the oldest access token survived a full table")
	}
	// A login through the page still works at the bound.
	p.loginPage = true
	mockLogin(t, p)
}

// TestLoginFormClientChecked: the POST checks the client_id again, even in
// a form that carries a valid MAC.
func TestLoginFormClientChecked(t *testing.T) {
	p, err := NewProvider("https://mock.example/v2", Options{LoginPage: true, ClientPublicKey: &benchKey().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	form := p.loginForm(authRequest{redirectURI: "https://app.example/cb", scopes: []string{"openid"}, challenge: strings.Repeat("a", 43)})
	form.Set("client_id", "someone-else")
	form.Set("mac", p.formMAC(form))
	form.Set("sub", p.personas[0].Sub)
	req := httptest.NewRequest(http.MethodPost, "/v2/oauth/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	p.ServeHTTP(w, req)
	if w.Code != http.StatusBadRequest || w.Header().Get("Location") != "" || !strings.Contains(w.Body.String(), "Unknown application") {
		t.Errorf("status %d Location %q", w.Code, w.Header().Get("Location"))
	}
}
