package sgidtest_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func TestOpenIDOnlyOmitsKeyAndData(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	_, tr := mustTokens(t, s, "openid")
	status, ui, body := fetchUserinfo(t, s, tr.AccessToken)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if ui.Sub != s.Personas()[0].Sub {
		t.Errorf("sub %q", ui.Sub)
	}
	if strings.Contains(body, `"key"`) || strings.Contains(body, `"data"`) {
		t.Errorf("openid-only userinfo has key or data: %s", body)
	}
}

func TestMissingFieldsGiveEmptyData(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	if err := s.SelectPersona("sgidtest:lee-jia-hui"); err != nil {
		t.Fatal(err)
	}
	_, tr := mustTokens(t, s, "openid myinfo.vehicles")
	_, ui, body := fetchUserinfo(t, s, tr.AccessToken)
	if ui.Key == nil || ui.Data == nil || len(ui.Data) != 0 {
		t.Errorf("want a key and an empty data object, got %s", body)
	}
}

func TestCodeSingleUse(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	l := authorize(t, s, "openid myinfo.name")
	status, first := redeem(t, s, tokenForm(s, l))
	if status != http.StatusOK {
		t.Fatalf("first redemption: %d %+v", status, first)
	}
	status, second := redeem(t, s, tokenForm(s, l))
	if status != http.StatusBadRequest || second.Error != "invalid_grant" {
		t.Fatalf("replay: %d %+v, want 400 invalid_grant", status, second)
	}
	// A replay means the code leaked, so what it bought is revoked.
	if status, _, _ := fetchUserinfo(t, s, first.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a token from a replayed code: %d, want 401", status)
	}
}

func TestFailedRedemptionConsumesCode(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	l := authorize(t, s, "openid")
	bad := tokenForm(s, l)
	bad.Set("code_verifier", strings.Repeat("a", 43))
	if status, tr := redeem(t, s, bad); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Fatalf("PKCE mismatch: %d %+v", status, tr)
	}
	if status, tr := redeem(t, s, tokenForm(s, l)); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Fatalf("retry after a failed check: %d %+v, want invalid_grant", status, tr)
	}
}

func TestCodeExpiry(t *testing.T) {
	clock := testclock.New(time.Now())
	s := newServer(t, sgidtest.Options{Now: clock.Now, CodeTTL: 30 * time.Second})
	l := authorize(t, s, "openid")
	clock.Advance(31 * time.Second)
	if status, tr := redeem(t, s, tokenForm(s, l)); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Fatalf("expired code: %d %+v, want 400 invalid_grant", status, tr)
	}

	l = authorize(t, s, "openid")
	clock.Advance(29 * time.Second)
	if status, tr := redeem(t, s, tokenForm(s, l)); status != http.StatusOK {
		t.Fatalf("code within its lifetime: %d %+v", status, tr)
	}
}

func TestAccessTokenExpiry(t *testing.T) {
	clock := testclock.New(time.Now())
	s := newServer(t, sgidtest.Options{Now: clock.Now, TokenTTL: 10 * time.Minute})
	_, tr := mustTokens(t, s, "openid myinfo.name")
	if tr.ExpiresIn != 600 {
		t.Errorf("expires_in %d, want 600", tr.ExpiresIn)
	}
	if status, _, _ := fetchUserinfo(t, s, tr.AccessToken); status != http.StatusOK {
		t.Fatalf("fresh token: %d", status)
	}
	clock.Advance(10 * time.Minute)
	if status, _, _ := fetchUserinfo(t, s, tr.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("expired token: %d, want 401", status)
	}
}

func TestUserinfoRejectsBadTokens(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"none", nil},
		{"unknown", http.Header{"Authorization": {"Bearer not-a-token"}}},
		{"basic", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, header := tc.name, tc.header
			resp, body := get(t, s, s.Issuer()+"/oauth/userinfo", header)
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: status %d %s, want 401 with a challenge", name, resp.StatusCode, body)
			}
		})
	}
}

func TestPKCEMismatch(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	for _, tc := range []struct {
		name     string
		verifier string
	}{
		{"other verifier", func() string { v, _ := pkcePair(); return v }()},
		{"too short", "abc"},
		{"bad characters", strings.Repeat("a", 42) + "+"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, verifier := tc.name, tc.verifier
			l := authorize(t, s, "openid")
			form := tokenForm(s, l)
			form.Set("code_verifier", verifier)
			if status, tr := redeem(t, s, form); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
				t.Errorf("%s: %d %+v, want 400 invalid_grant", name, status, tr)
			}
		})
	}
}

func TestWrongClientCredentials(t *testing.T) {
	s := newServer(t, sgidtest.Options{ClientID: "my-app", ClientSecret: "my-secret"})
	if s.ClientID() != "my-app" || s.ClientSecret() != "my-secret" {
		t.Fatalf("credentials %q/%q", s.ClientID(), s.ClientSecret())
	}
	if s.ClientPrivateKeyPEM() != "" {
		t.Error("ClientPrivateKeyPEM should be empty when a public key was given")
	}
	for _, tc := range []struct {
		name   string
		mutate func(url.Values)
	}{
		{"wrong secret", func(f url.Values) { f.Set("client_secret", "nope") }},
		{"missing secret", func(f url.Values) { f.Del("client_secret") }},
		{"wrong client", func(f url.Values) { f.Set("client_id", "other") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, mutate := tc.name, tc.mutate
			l := authorize(t, s, "openid")
			form := tokenForm(s, l)
			mutate(form)
			if status, tr := redeem(t, s, form); status != http.StatusUnauthorized || tr.Error != "invalid_client" {
				t.Errorf("%s: %d %+v, want 401 invalid_client", name, status, tr)
			}
			// The code survives a request that never authenticated.
			if status, tr := redeem(t, s, tokenForm(s, l)); status != http.StatusOK {
				t.Errorf("%s: the code no longer works: %d %+v", name, status, tr)
			}
		})
	}
}

func TestTokenRequestShape(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	l := authorize(t, s, "openid")
	form := tokenForm(s, l)
	form.Set("grant_type", "refresh_token")
	if status, tr := redeem(t, s, form); status != http.StatusBadRequest || tr.Error != "unsupported_grant_type" {
		t.Errorf("grant_type: %d %+v", status, tr)
	}
	form = tokenForm(s, l)
	form.Del("code_verifier")
	if status, tr := redeem(t, s, form); status != http.StatusBadRequest || tr.Error != "invalid_request" {
		t.Errorf("no verifier: %d %+v", status, tr)
	}
	form = tokenForm(s, l)
	form.Set("code", "unknown")
	if status, tr := redeem(t, s, form); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Errorf("unknown code: %d %+v", status, tr)
	}
}

func TestTokenRedirectURIMismatch(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	l := authorize(t, s, "openid")
	form := tokenForm(s, l)
	form.Set("redirect_uri", testRedirect+"/other")
	if status, tr := redeem(t, s, form); status != http.StatusBadRequest || tr.Error != "invalid_grant" {
		t.Fatalf("%d %+v, want 400 invalid_grant", status, tr)
	}
}

func TestCodesNeedDecoding(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	params, l := authorizeParams(s, "openid")
	resp, _ := get(t, s, s.Issuer()+"/oauth/authorize?"+params.Encode(), nil)
	raw := resp.Header.Get("Location")
	u := location(t, resp)
	code := u.Query().Get("code")
	for _, c := range []string{"+", "/", "="} {
		if !strings.Contains(code, c) {
			t.Errorf("code %q lacks %q", code, c)
		}
	}
	// The raw Location must be properly encoded: '+' in a query means
	// space, so an unencoded '+' would corrupt the code.
	if strings.Contains(raw, "+") {
		t.Errorf("Location %q has a raw '+'", raw)
	}
	l.code = code
	if status, tr := redeem(t, s, tokenForm(s, l)); status != http.StatusOK {
		t.Fatalf("decoded code rejected: %d %+v", status, tr)
	}
}

func TestConcurrentLogins(t *testing.T) {
	s := newServer(t, sgidtest.Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 20)
	for range 20 {
		wg.Go(func() {
			params, l := authorizeParams(s, "openid myinfo.name")
			resp, err := noRedirect(s).Get(s.Issuer() + "/oauth/authorize?" + params.Encode())
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			u, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				errs <- err.Error()
				return
			}
			l.code = u.Query().Get("code")
			resp, err = s.Client().PostForm(s.Issuer()+"/oauth/token", tokenForm(s, l))
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- resp.Status
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if st := s.Stats(); st.Authorize != 20 || st.Token != 20 {
		t.Errorf("Stats = %+v, want 20 authorize and 20 token requests", st)
	}
}
