package caddysgid

import (
	"context"
	"encoding/base64"
	"errors"
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
