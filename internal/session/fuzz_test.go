package session

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/fuzzseeds"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// The fuzz targets of what a browser sends that this package reads. The
// seed corpora are under testdata/fuzz/<FuzzName>/; the sealed login
// cookies among them were sealed with fuzzSecret at fuzzT0, the fuzz
// targets' clock, and TestLoginFuzzSeeds keeps them opening.

// fuzzSecret is the secret of the fuzz targets' keys.
var fuzzSecret = []byte("fuzz sealing key, 32 bytes or more")

// fuzzState is the state of the seed logins.
const fuzzState = "fuzz-state-0123456789abcdefghijklmnopqrstuvw"

// fuzzCookie is the name of the seed logins' cookie.
const fuzzCookie = "sgid_session_login_AAAAAAAAAAAA"

var fuzzT0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// fuzzManager is a Manager whose keys come from fuzzSecret and whose clock
// stands at fuzzT0.
func fuzzManager(tb testing.TB) *Manager {
	st, err := (&store.Memory{MaxEntries: 100}).Open(storetest.RandomKey(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return New(Options{Store: st, Secret: fuzzSecret, LoginTimeout: 10 * time.Minute, KeyRotation: time.Hour,
		Now: func() time.Time { return fuzzT0 }})
}

// FuzzOpenLogin feeds arbitrary login cookies (name, value) and states to
// the callback's opening of a sealed login. A refusal is one of the two the
// callback turns into reasons; what opens belongs to the state, has not
// expired, names its session, opens under no other cookie name, and seals
// again to the same login.
func FuzzOpenLogin(f *testing.F) {
	f.Add(fuzzCookie, "", fuzzState)
	f.Add(fuzzCookie, "AQ", fuzzState)
	f.Add(fuzzCookie, "used", fuzzState)
	m := fuzzManager(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name, value, state string) {
		l, err := m.openLogin(ctx, name, value, state)
		if err != nil {
			if !errors.Is(err, ErrLoginInvalid) && !errors.Is(err, ErrLoginExpired) {
				t.Fatalf("refused with %v, which the callback has no reason for", err)
			}
			return
		}
		if l.State != state {
			t.Fatalf("a login of state %q opened for state %q", l.State, state)
		}
		if !fuzzT0.Before(time.Unix(l.Expires, 0)) {
			t.Fatalf("an expired login opened: %+v", l)
		}
		if l.SessionID == "" {
			t.Fatalf("a login opened without the id of its session: %+v", l)
		}
		if _, err := m.peekLogin(ctx, name+"x", value); err == nil {
			t.Fatalf("the value of cookie %q opened under another name", name)
		}
		again, err := m.sealLogin(ctx, name, l)
		if err != nil {
			t.Fatal(err)
		}
		q, err := m.openLogin(ctx, name, again, state)
		if err != nil || !reflect.DeepEqual(l, q) {
			t.Fatalf("%+v sealed again opened as %+v, %v", l, q, err)
		}
	})
}

// TestLoginFuzzSeeds checks that the committed seeds of FuzzOpenLogin still
// get the outcome they were made for. Run with -update-fuzz-seeds to seal
// them afresh.
func TestLoginFuzzSeeds(t *testing.T) {
	t.Parallel()
	m := fuzzManager(t)
	ctx := context.Background()
	login := Login{State: fuzzState, CodeVerifier: strings.Repeat("v", 43), Nonce: "fuzz-nonce",
		RedirectURI: "https://app.example/api/redirect", ReturnTo: "/orders?id=1",
		AppValues: map[string]string{"iceCream": "Chendol"}, Expires: fuzzT0.Add(10 * time.Minute).Unix(),
		SessionID: "fuzz-session-0123456789abcdefghijklmnopqrstu"}
	expired := login
	expired.Expires = fuzzT0.Add(-time.Second).Unix()
	seal := func(l Login) func() []string {
		return func() []string {
			v, err := m.sealLogin(ctx, fuzzCookie, l)
			if err != nil {
				t.Fatal(err)
			}
			return []string{fuzzCookie, v, fuzzState}
		}
	}
	for _, tc := range []struct {
		file  string
		login Login
		want  error
	}{
		{"valid", login, nil},
		{"expired", expired, ErrLoginExpired},
	} {
		t.Run(tc.file, func(t *testing.T) {
			seed := fuzzseeds.Keep(t, "FuzzOpenLogin", tc.file, seal(tc.login))
			got, err := m.openLogin(ctx, seed[0], seed[1], seed[2])
			if !errors.Is(err, tc.want) || err == nil && !reflect.DeepEqual(got, tc.login) {
				t.Errorf("seed %s opened as %+v, %v; want %v", tc.file, got, err, tc.want)
			}
		})
	}
}

// FuzzValidID: the session ids looked up are exactly the strings that
// decode from base64url to 32 bytes, as NewID makes them.
func FuzzValidID(f *testing.F) {
	f.Add(NewID())
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "=")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		want := err == nil && len(b) == 32 && len(s) == 43
		if got := ValidID(s); got != want {
			t.Fatalf("ValidID(%q) = %v, want %v", s, got, want)
		}
	})
}
