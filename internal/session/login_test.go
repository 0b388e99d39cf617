package session

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
)

// TestOpenLoginRefusals: a sealed login opens to what was sealed, for its
// own state and cookie and before its expiry; anything else is refused as
// invalid or expired, and so is every single-bit change.
func TestOpenLoginRefusals(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, nil)
	ctx := t.Context()
	l := Login{State: "state-1", CodeVerifier: "verifier", Nonce: "nonce", RedirectURI: "http://localhost/api/redirect",
		ReturnTo: "/back", AppValues: map[string]string{"iceCream": "vanilla"}, SessionID: NewID(),
		Expires: clockStart.Add(10 * time.Minute).Unix()}
	const name = "sgid_session_login_abc"
	v, err := m.sealLogin(ctx, name, l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.openLogin(ctx, name, v, "state-1")
	if err != nil || got.CodeVerifier != l.CodeVerifier || got.Nonce != l.Nonce || got.ReturnTo != l.ReturnTo ||
		got.AppValues["iceCream"] != "vanilla" || got.SessionID != l.SessionID || got.RedirectURI != l.RedirectURI {
		t.Fatalf("round trip: %+v, %v", got, err)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(v)
	flipped := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for _, tc := range []struct {
		name, cookie, value, state string
		at                         time.Time
		want                       error
	}{
		{"another state (login CSRF)", name, v, "state-2", clockStart, ErrLoginInvalid},
		{"empty state", name, v, "", clockStart, ErrLoginInvalid},
		{"moved to another cookie", "sgid_session_login_xyz", v, "state-1", clockStart, ErrLoginInvalid},
		{"truncated", name, v[:len(v)-10], "state-1", clockStart, ErrLoginInvalid},
		{"cut to the header", name, v[:4], "state-1", clockStart, ErrLoginInvalid},
		{"ciphertext bit flipped", name, flipped(len(raw) - 20), "state-1", clockStart, ErrLoginInvalid},
		{"tag bit flipped", name, flipped(len(raw) - 1), "state-1", clockStart, ErrLoginInvalid},
		{"nonce bit flipped", name, flipped(len(raw) - 30), "state-1", clockStart, ErrLoginInvalid},
		{"version changed", name, flipped(0), "state-1", clockStart, ErrLoginInvalid},
		{"not base64", name, "!!!" + v, "state-1", clockStart, ErrLoginInvalid},
		{"empty", name, "", "state-1", clockStart, ErrLoginInvalid},
		{"expired", name, v, "state-1", clockStart.Add(10 * time.Minute), ErrLoginExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(tc.at)
			if _, err := m.openLogin(ctx, tc.cookie, tc.value, tc.state); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Every single-bit change anywhere is refused (the epoch byte may read
	// as an epoch not accepted, which ends the login as expired).
	clk.Set(clockStart)
	for i := range raw {
		if _, err := m.openLogin(ctx, name, flipped(i), "state-1"); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
}

// TestPeekLogin: PeekLogin reads an authentic login whatever its state and
// expiry (to read a browser's logins), but no forgery.
func TestPeekLogin(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, nil)
	l := testLogin("s")
	l.Expires = clockStart.Add(-time.Minute).Unix()
	v, err := m.sealLogin(t.Context(), "c", l)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.openLogin(t.Context(), "c", v, "s"); !errors.Is(err, ErrLoginExpired) {
		t.Fatalf("open of an expired login: %v", err)
	}
	got, err := m.peekLogin(t.Context(), "c", v)
	if err != nil || got.Expires != l.Expires || got.SessionID != l.SessionID {
		t.Fatalf("peek of an expired login: %+v, %v", got, err)
	}
	for _, tc := range []struct{ name, cookie, value string }{
		{"another cookie", "d", v},
		{"truncated", "c", v[:len(v)-3]},
		{"an unknown version", "c", "AwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := m.peekLogin(t.Context(), tc.cookie, tc.value); !errors.Is(err, ErrLoginInvalid) {
				t.Fatalf("got %v, want ErrLoginInvalid", err)
			}
		})
	}
}

// TestLegacyLoginSessionID: a login sealed before logins named their
// session opens with an id derived from its code verifier, the same on
// every replay and apart for another verifier, so its claim still holds.
func TestLegacyLoginSessionID(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, nil)
	open := func(verifier string) string {
		t.Helper()
		l := testLogin("s")
		l.SessionID, l.CodeVerifier = "", verifier
		v, err := m.sealLogin(t.Context(), "c", l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.openLogin(t.Context(), "c", v, "s")
		if err != nil {
			t.Fatal(err)
		}
		return got.SessionID
	}
	a, again, b := open("verifier-a"), open("verifier-a"), open("verifier-b")
	if !ValidID(a) || a != again || a == b {
		t.Fatalf("legacy session ids %q, %q (same verifier) and %q (another): want two equal valid ids and a third apart", a, again, b)
	}
	// Its claim works as any other: one session, once.
	for i, want := range []bool{true, false} {
		created, err := m.create(t.Context(), a, Session{Sub: "u", Expires: clk.Now().Add(time.Hour)}, "")
		if err != nil || created != want {
			t.Fatalf("create %d of the legacy login's session: %v, %v; want %v", i+1, created, err, want)
		}
	}
}

// A browser keeps at most LoginsPerBrowser logins: with that many held, a
// new one makes room by dropping the unreadable first, then the ones that
// expire first; with fewer, nothing is dropped.
func TestSurplusLogins(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, nil)
	ctx := context.Background()
	seal := func(name string, expiresIn time.Duration) loginCookie {
		v, err := m.sealLogin(ctx, name, Login{State: name, Expires: clk.Now().Add(expiresIn).Unix(), SessionID: NewID()})
		if err != nil {
			t.Fatal(err)
		}
		return loginCookie{Name: name, Value: v}
	}
	for _, tc := range []struct {
		name string
		held []loginCookie
		want []string
	}{
		{"fewer than the limit", []loginCookie{seal("a", time.Minute), seal("b", 2*time.Minute)}, nil},
		{"at the limit, soonest expiry goes", []loginCookie{seal("a", 5*time.Minute), seal("b", time.Minute), seal("c", 3*time.Minute), seal("d", 4*time.Minute), seal("e", 6*time.Minute)}, []string{"b"}},
		{"unreadable goes first", []loginCookie{seal("a", 5*time.Minute), {Name: "b", Value: "junk"}, seal("c", time.Minute), seal("d", 4*time.Minute), seal("e", 6*time.Minute)}, []string{"b"}},
		{"over the limit", []loginCookie{seal("a", 5*time.Minute), seal("b", time.Minute), seal("c", 3*time.Minute), seal("d", 4*time.Minute), seal("e", 6*time.Minute), seal("f", 2*time.Minute)}, []string{"b", "f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.surplus(ctx, tc.held); !slices.Equal(got, tc.want) {
				t.Errorf("Surplus = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSealLoginRaw: SealLoginRaw appends to the caller's buffer, keeping
// what it held, a value that opens once base64url-encoded; the bytes it
// hands back are the caller's own, untouched by later seals that reuse
// its scratch buffers, and a login too large for them to be kept still
// seals and opens.
func TestSealLoginRaw(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, nil)
	ctx := t.Context()
	const name = "sgid_session_login_abc"
	large := testLogin("state-large")
	large.ReturnTo = "/" + strings.Repeat("r", maxScratch)
	for _, tc := range []struct {
		name   string
		prefix string
		login  Login
	}{
		{"into an empty buffer", "", testLogin("state-1")},
		{"after what the buffer held", "name=", testLogin("state-2")},
		{"larger than the kept scratch", "", large},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := m.sealLoginRaw(ctx, name, &tc.login, []byte(tc.prefix))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(out), tc.prefix) {
				t.Fatalf("the buffer's %q was overwritten", tc.prefix)
			}
			sealed := slices.Clone(out[len(tc.prefix):])
			// Seal more logins, which reuse the scratch buffers, before
			// opening the first.
			for i := range 3 {
				if _, err := m.sealLoginRaw(ctx, name, new(testLogin("other-"+strconv.Itoa(i))), nil); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(out[len(tc.prefix):], sealed) {
				t.Fatal("a later seal changed the bytes an earlier one handed back")
			}
			got, err := m.openLogin(ctx, name, base64.RawURLEncoding.EncodeToString(sealed), tc.login.State)
			if err != nil || got.ReturnTo != tc.login.ReturnTo || got.SessionID != tc.login.SessionID {
				t.Fatalf("open: %+v, %v", got, err)
			}
		})
	}
}
