package caddysgid

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPendingCookieRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := keyringT0
	k := testKeyring(&mapKeyStore{}, nil, &clock)
	p := pendingLogin{State: "state-1", CodeVerifier: "verifier", Nonce: "nonce", RedirectURI: "http://localhost/api/redirect",
		ReturnTo: "/back", AppValues: map[string]string{"iceCream": "vanilla"}, Expires: keyringT0.Add(10 * time.Minute).Unix()}
	const name = "sgid_session_login_abc"
	v, err := sealPending(ctx, k, name, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openPending(ctx, k, name, v, "state-1", keyringT0)
	if err != nil || got.CodeVerifier != p.CodeVerifier || got.Nonce != p.Nonce || got.ReturnTo != p.ReturnTo || got.AppValues["iceCream"] != "vanilla" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(v)
	flipped := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cases := []struct {
		name, cookie, value, state string
		at                         time.Time
		want                       error
	}{
		{"another state (login CSRF)", name, v, "state-2", keyringT0, errPendingInvalid},
		{"empty state", name, v, "", keyringT0, errPendingInvalid},
		{"moved to another cookie", "sgid_session_login_xyz", v, "state-1", keyringT0, errPendingInvalid},
		{"truncated", name, v[:len(v)-10], "state-1", keyringT0, errPendingInvalid},
		{"cut to the header", name, v[:4], "state-1", keyringT0, errPendingInvalid},
		{"ciphertext bit flipped", name, flipped(len(raw) - 20), "state-1", keyringT0, errPendingInvalid},
		{"tag bit flipped", name, flipped(len(raw) - 1), "state-1", keyringT0, errPendingInvalid},
		{"nonce bit flipped", name, flipped(len(raw) - 30), "state-1", keyringT0, errPendingInvalid},
		{"version changed", name, flipped(0), "state-1", keyringT0, errPendingInvalid},
		{"not base64", name, "!!!" + v, "state-1", keyringT0, errPendingInvalid},
		{"empty", name, "", "state-1", keyringT0, errPendingInvalid},
		{"expired", name, v, "state-1", keyringT0.Add(10 * time.Minute), errPendingExpired},
	}
	for _, tc := range cases {
		_, err := openPending(ctx, k, tc.cookie, tc.value, tc.state, tc.at)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Every single-bit change anywhere is refused (the epoch byte may read
	// as an epoch not accepted, which ends the login as expired).
	for i := range raw {
		if _, err := openPending(ctx, k, name, flipped(i), "state-1", keyringT0); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
}

func TestPendingCookieSuffix(t *testing.T) {
	t.Parallel()
	a, b := pendingCookieSuffix("state-1"), pendingCookieSuffix("state-2")
	if a == b || len(a) != 12 || !validCookieToken(a) {
		t.Fatalf("suffixes %q and %q: want two different 12-character cookie-name tokens", a, b)
	}
	if a != pendingCookieSuffix("state-1") {
		t.Fatal("the suffix of a state is not stable")
	}
}

func validCookieToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// On HTTPS a login's cookie goes by its __Host- name: the callback finds
// and opens it (the login goes on to the code exchange, which fails here
// for want of a provider), and a bare-named copy, which a sibling
// subdomain could plant, is not a login of this browser.
func TestLoginCookieOnHTTPS(t *testing.T) {
	t.Parallel()
	h, _ := benchHandler(t)
	h.client = mustTestClient(t)
	serveTLS := func(target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "https://app.example"+target, nil)
		req.TLS = &tls.ConnectionState{}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		w := httptest.NewRecorder()
		if err := h.ServeHTTP(w, req.WithContext(contextWithReplacer(req)), okNext); err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := serveTLS("/api/auth-url")
	var start struct{ URL string }
	json.Unmarshal(w.Body.Bytes(), &start)
	state := mustQuery(t, start.URL, "state")
	login := responseCookie(w.Result(), "__Host-"+pendingCookieName(DefaultCookieName, state))
	if login == nil {
		t.Fatalf("no __Host- login cookie: %v", w.Result().Cookies())
	}
	callback := "/api/redirect?code=c&state=" + url.QueryEscape(state)
	bare := &http.Cookie{Name: strings.TrimPrefix(login.Name, "__Host-"), Value: login.Value}
	if loc := serveTLS(callback, bare).Header().Get("Location"); loc != "/error?reason=no_session" {
		t.Errorf("bare-named login cookie on HTTPS: redirected to %q, want no_session", loc)
	}
	if loc := serveTLS(callback, &http.Cookie{Name: login.Name, Value: login.Value}).Header().Get("Location"); loc != "/error?reason=provider_error" {
		t.Errorf("__Host- login cookie: redirected to %q, want the exchange to be tried (provider_error)", loc)
	}
}
