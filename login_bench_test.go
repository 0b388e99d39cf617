package caddysgid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// TestMain lets BenchmarkLoginCPU run the fake sgID in a child process.
func TestMain(m *testing.M) { os.Exit(loginbench.Main(m)) }

// BenchmarkLoginCPU measures the plugin's CPU time per login (auth-url,
// then the callback: login cookie, claim, code exchange with the ID-token
// check, userinfo with its decryption, session sealed and stored) against
// the login's physical floor (loginbench.Floor: one RSA-OAEP-256
// decryption and one RS256 verification with crypto/rsa). The handler is
// driven in process with the memory store; the fake sgID runs in a child
// process, so this process's CPU time (getrusage, every thread) is the
// plugin's. Each round runs 8 logins: their auth-urls and callbacks are
// timed, the browser's visit to sgID between them is not; then as many
// floor operations are timed, so that load from elsewhere weighs on both.
//
//	go test -run '^$' -bench BenchmarkLoginCPU -count 5 .
//
// With -cpuprofile, the samples of the timed work carry the label
// part=login or part=floor (pprof -tagfocus), so that the profile can be
// split as the ratio is; the runtime's own (GC, scheduler) carry none.
func BenchmarkLoginCPU(b *testing.B) {
	const parallel = 8
	p := loginbench.StartProvider(b)
	h := unitHandler(b, &Handler{}, nil, nil)
	client, err := sgid.New(sgid.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, PrivateKey: p.KeyPEM, Host: p.URL,
		Scopes: []string{"openid", "myinfo.name", "myinfo.residentialstatus", "myinfo.email"}})
	if err != nil {
		b.Fatal(err)
	}
	h.client = client
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	type login struct {
		cookie   *http.Cookie
		callback string
	}
	// start runs auth-url in the handler (timed by the caller) and returns
	// the login cookie and sgID's URL.
	start := func() (*http.Cookie, string) {
		req := httptest.NewRequest(http.MethodGet, "http://localhost:9080"+h.AuthURLPath, nil)
		req = withReplacer(req)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusOK {
			b.Fatalf("auth-url: %d %v", w.Code, err)
		}
		var out struct{ URL string }
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			b.Fatal(err)
		}
		return w.Result().Cookies()[0], out.URL
	}
	// atProvider is the browser at sgID, not timed: it returns the callback.
	atProvider := func(authURL string) string {
		resp, err := noFollow.Get(authURL)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound {
			b.Fatalf("authorize answered %d", resp.StatusCode)
		}
		return loc.RequestURI()
	}
	finish := func(l login) {
		req := httptest.NewRequest(http.MethodGet, "http://localhost:9080"+l.callback, nil)
		req.AddCookie(l.cookie)
		req = withReplacer(req)
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req, okNext); err != nil || w.Code != http.StatusFound || strings.HasPrefix(w.Header().Get("Location"), h.ErrorPath) {
			b.Errorf("callback: %d %v -> %s", w.Code, err, w.Header().Get("Location"))
		}
	}

	// The floor's inputs come from one login of the same client.
	verifier, challenge := sgid.GeneratePKCEPair()
	authURL, nonce, err := client.AuthorizationURL(sgid.AuthParams{State: "floor", CodeChallenge: challenge, RedirectURI: "http://localhost:9080" + h.CallbackPath})
	if err != nil {
		b.Fatal(err)
	}
	cb, _ := url.Parse(atProvider(authURL))
	tok, err := client.Exchange(b.Context(), sgid.ExchangeParams{Code: cb.Query().Get("code"), CodeVerifier: verifier, Nonce: nonce, RedirectURI: "http://localhost:9080" + h.CallbackPath})
	if err != nil {
		b.Fatal(err)
	}
	floor := loginbench.NewFloor(b, p, tok.AccessToken, tok.IDToken)

	var loginCPU, floorCPU time.Duration
	var logins int
	for b.Loop() {
		ls := make([]login, parallel)
		urls := make([]string, parallel)
		runtime.GC()
		t0 := loginbench.CPUTime(b)
		for i := range ls {
			loginbench.Label("login", func() { ls[i].cookie, urls[i] = start() })
		}
		loginCPU += loginbench.CPUTime(b) - t0
		for i := range ls {
			ls[i].callback = atProvider(urls[i])
		}
		runtime.GC()
		t0 = loginbench.CPUTime(b)
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Go(func() { loginbench.Label("login", func() { finish(l) }) })
		}
		wg.Wait()
		loginCPU += loginbench.CPUTime(b) - t0
		logins += parallel

		floorCPU += floor.TimeParallel(b, parallel)
	}
	loginbench.Report(b, loginCPU, floorCPU, logins)
}
