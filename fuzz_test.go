package caddysgid

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/caddy-sgid/caddy-sgid/internal/fuzzseeds"
)

// The fuzz targets of the parsers that take bytes from a browser or an
// operator. Their seed corpora are under testdata/fuzz/<FuzzName>/; the
// sealed login cookies among them were sealed with fuzzSealingKey at
// keyringT0, the fuzz targets' clock, and TestPendingFuzzSeeds keeps them
// opening.

// fuzzSealingKey is the sealing_key of the fuzz targets' keyring.
var fuzzSealingKey = []byte("fuzz sealing key, 32 bytes or more")

// fuzzState is the state of the seed logins.
const fuzzState = "fuzz-state-0123456789abcdefghijklmnopqrstuvw"

func fuzzKeyring() *keyring {
	clock := keyringT0
	return testKeyring(&mapKeyStore{}, fuzzSealingKey, &clock)
}

// FuzzUnmarshalCaddyfile feeds arbitrary Caddyfile text to the sgid
// directive's parser. It must never panic; what it accepts encodes to JSON,
// and parsing the same text again gives the same config.
func FuzzUnmarshalCaddyfile(f *testing.F) {
	f.Add("sgid")
	f.Add("sgid {\n}")
	f.Add("sgid {\n\tstore redis {\n\t\taddress redis.internal:6379\n\t}\n\tidentity_header\n}")
	f.Fuzz(func(t *testing.T, input string) {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			return
		}
		first, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("accepted %q into a config that does not encode: %v", input, err)
		}
		var again Handler
		if err := again.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			t.Fatalf("accepted %q once, then refused it: %v", input, err)
		}
		if second, _ := json.Marshal(again); string(second) != string(first) {
			t.Fatalf("%q parsed to %s, then to %s", input, first, second)
		}
	})
}

// FuzzOpenPending feeds arbitrary login cookies (name, value) and states
// to the callback's opening of a sealed login. A refusal is one of the two
// the callback turns into reasons; what opens belongs to the state, has not
// expired, opens under no other cookie name, and seals again to the same
// login.
func FuzzOpenPending(f *testing.F) {
	f.Add("sgid_session_login_x", "", fuzzState)
	f.Add("sgid_session_login_x", "AQ", fuzzState)
	f.Add("sgid_session_login_x", "used", fuzzState)
	k := fuzzKeyring()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name, value, state string) {
		p, err := openPending(ctx, k, name, value, state, keyringT0)
		if err != nil {
			if !errors.Is(err, errPendingInvalid) && !errors.Is(err, errPendingExpired) {
				t.Fatalf("refused with %v, which the callback has no reason for", err)
			}
			return
		}
		if p.State != state {
			t.Fatalf("a login of state %q opened for state %q", p.State, state)
		}
		if !keyringT0.Before(time.Unix(p.Expires, 0)) {
			t.Fatalf("an expired login opened: %+v", p)
		}
		if _, err := unsealPending(ctx, k, name+"x", value); err == nil {
			t.Fatalf("the value of cookie %q opened under another name", name)
		}
		again, err := sealPending(ctx, k, name, p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := openPending(ctx, k, name, again, state, keyringT0)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("%+v sealed again opened as %+v, %v", p, q, err)
		}
	})
}

// TestPendingFuzzSeeds checks that the committed seeds of FuzzOpenPending
// still get the outcome they were made for. Run with -update-fuzz-seeds to
// seal them afresh.
func TestPendingFuzzSeeds(t *testing.T) {
	t.Parallel()
	k := fuzzKeyring()
	ctx := context.Background()
	name := pendingCookieName(DefaultCookieName, fuzzState)
	login := pendingLogin{State: fuzzState, CodeVerifier: strings.Repeat("v", 43), Nonce: "fuzz-nonce",
		RedirectURI: "https://app.example/api/redirect", ReturnTo: "/orders?id=1",
		AppValues: map[string]string{"iceCream": "Chendol"}, Expires: keyringT0.Add(10 * time.Minute).Unix()}
	expired := login
	expired.Expires = keyringT0.Add(-time.Second).Unix()
	seal := func(p pendingLogin) func() []string {
		return func() []string {
			v, err := sealPending(ctx, k, name, p)
			if err != nil {
				t.Fatal(err)
			}
			return []string{name, v, fuzzState}
		}
	}
	for _, tc := range []struct {
		file  string
		login pendingLogin
		want  error
	}{
		{"valid", login, nil},
		{"expired", expired, errPendingExpired},
	} {
		seed := fuzzseeds.Keep(t, "FuzzOpenPending", tc.file, seal(tc.login))
		got, err := openPending(ctx, k, seed[0], seed[1], seed[2], keyringT0)
		if !errors.Is(err, tc.want) || err == nil && !reflect.DeepEqual(got, tc.login) {
			t.Errorf("seed %s opened as %+v, %v; want %v", tc.file, got, err, tc.want)
		}
	}
}

// FuzzValidID: the session ids the handler looks up are exactly the
// strings that decode from base64url to 32 bytes, as newID makes them.
func FuzzValidID(f *testing.F) {
	f.Add(newID())
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "=")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		want := err == nil && len(b) == 32 && len(s) == 43
		if got := validID(s); got != want {
			t.Fatalf("validID(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzStripSessionCookies feeds arbitrary Cookie headers (two lines) to
// the guard's stripping. As Go's cookie parser reads the result, neither
// the session cookie nor a login cookie is left, under its plain or its
// __Host- name, and every other cookie is passed on as it came.
func FuzzStripSessionCookies(f *testing.F) {
	f.Add("sgid_session=abc; theme=dark", "")
	f.Add(" sgid_session = x ;a=1", "sgid_session_login_AAAAAAAAAAAA=v")
	f.Add("sgid_session", "b=2; sgid_session=\"q\"")
	f.Add("__Host-sgid_session=abc; __Secure-sgid_session=x", "__Host-sgid_session_login_AAAAAAAAAAAA=v")
	ours := func(n string) bool {
		base := strings.TrimPrefix(n, hostPrefix)
		return base == DefaultCookieName || isPendingCookieName(base, DefaultCookieName)
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		in := http.Header{"Cookie": {line1, line2}}
		out := in.Clone()
		stripSessionCookies(out, DefaultCookieName)
		var want []string
		for _, c := range (&http.Request{Header: in}).Cookies() {
			if !ours(c.Name) {
				want = append(want, c.String())
			}
		}
		var got []string
		for _, c := range (&http.Request{Header: out}).Cookies() {
			if ours(c.Name) {
				t.Fatalf("Cookie %q still passes on %s after stripping: %q", in["Cookie"], c.Name, out["Cookie"])
			}
			got = append(got, c.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Cookie %q became %q: the other cookies went from %q to %q", in["Cookie"], out["Cookie"], want, got)
		}
	})
}

// FuzzPendingCookieName: every login cookie's name is recognised as one,
// and the session cookie's name never is.
func FuzzPendingCookieName(f *testing.F) {
	f.Add(DefaultCookieName, fuzzState)
	f.Add("a", "")
	f.Fuzz(func(t *testing.T, name, state string) {
		if !isPendingCookieName(pendingCookieName(name, state), name) {
			t.Fatalf("the login cookie of state %q under %q is not recognised", state, name)
		}
		if isPendingCookieName(name, name) {
			t.Fatalf("the session cookie %q is taken for a login cookie", name)
		}
	})
}
