package session

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// testLogin is a login that expires far after every clock the keyring
// tests set, so that only the key decides.
func testLogin(state string) Login {
	return Login{State: state, CodeVerifier: "v", Nonce: "n", RedirectURI: "https://x/api/redirect",
		SessionID: NewID(), Expires: clockStart.Add(100 * time.Hour).Unix()}
}

// sealOpen seals a login with sealer and opens it with opener.
func sealOpen(t *testing.T, sealer, opener *Manager) error {
	t.Helper()
	l := testLogin("s1")
	v, err := sealer.sealLogin(t.Context(), "sgid_session_login_x", l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := opener.openLogin(t.Context(), "sgid_session_login_x", v, "s1")
	if err == nil && (got.CodeVerifier != "v" || got.SessionID != l.SessionID) {
		t.Fatalf("opened %+v", got)
	}
	return err
}

// epochKey is the store key of the sealing key of the epoch t falls in.
func epochKey(t time.Time) string {
	return sealKeyName(uint64(t.UnixNano() / int64(testRotation)))
}

// TestKeyringSharedThroughStore: Managers on one store (instances sharing
// it) make one key per epoch and open each other's logins; a Manager on
// another store (another site) does not.
func TestKeyringSharedThroughStore(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	clk.Advance(5 * time.Minute)
	st := spy(memoryScope(t, 100))
	a, b := newManager(st, clk, nil), newManager(st, clk, nil)
	if err := sealOpen(t, a, b); err != nil {
		t.Fatalf("instance B cannot open what A sealed with the shared store: %v", err)
	}
	if keys := st.keys(); len(keys) != 1 || keys[0] != epochKey(clk.Now()) {
		t.Fatalf("keys written %q, want one for the epoch", keys)
	}
	other := newManager(memoryScope(t, 100), clk, nil)
	if err := sealOpen(t, a, other); !errors.Is(err, ErrLoginInvalid) {
		t.Fatalf("a login sealed with another site's key: got %v, want ErrLoginInvalid", err)
	}
}

// TestKeyringRotation: a login opens in its epoch, in the next one for the
// login timeout, and one epoch early (clock skew between instances); not
// after the grace nor two epochs early.
func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	m := newManager(memoryScope(t, 100), clk, nil)
	ctx := t.Context()
	seal := func(at time.Duration) string {
		t.Helper()
		clk.Set(clockStart.Add(at))
		v, err := m.sealLogin(ctx, "c", testLogin("s"))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	late := seal(55 * time.Minute) // 5 minutes before the epoch ends
	ahead := seal(65 * time.Minute)
	for _, tc := range []struct {
		name   string
		sealed string
		at     time.Duration
		want   error
	}{
		{"same epoch", late, 55 * time.Minute, nil},
		{"next epoch within the login timeout", late, 69 * time.Minute, nil},
		{"next epoch past the login timeout", late, 71 * time.Minute, ErrLoginExpired},
		{"two epochs later", late, 125 * time.Minute, ErrLoginExpired},
		{"one epoch early (clock behind)", ahead, 59 * time.Minute, nil},
		{"two epochs early", ahead, -1 * time.Minute, ErrLoginExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(clockStart.Add(tc.at))
			if _, err := m.openLogin(ctx, "c", tc.sealed, "s"); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	clk.Set(clockStart.Add(69 * time.Minute))
	if e, _, _ := m.keys.current(ctx); e != m.keys.epoch(clockStart)+1 {
		t.Fatalf("sealing epoch after rotation = %d, want the next one", e)
	}
}

// TestKeyringConfiguredSecret: with a secret, Managers with the same one
// open each other's logins without the store (which here fails every
// call), and a Manager with another secret does not.
func TestKeyringConfiguredSecret(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	down := &failingStore{Store: memoryScope(t, 100), err: errors.New("store down")}
	withSecret := func(secret string) *Manager {
		return newManager(down, clk, func(o *Options) { o.Secret = []byte(secret) })
	}
	a, b := withSecret("0123456789abcdef0123456789abcdef"), withSecret("0123456789abcdef0123456789abcdef")
	if err := sealOpen(t, a, b); err != nil {
		t.Fatalf("two instances with the same secret, store unused: %v", err)
	}
	if err := sealOpen(t, a, withSecret("another secret, another site....")); !errors.Is(err, ErrLoginInvalid) {
		t.Fatalf("another secret: got %v, want ErrLoginInvalid", err)
	}
}

// TestKeyringStoreFailure: when the key cannot be loaded, sealing and
// opening fail with the store's error (not as a bad or expired login, which
// would blame the browser), and StoreFailed is told.
func TestKeyringStoreFailure(t *testing.T) {
	t.Parallel()
	clk := testclock.New(clockStart)
	st := memoryScope(t, 100)
	sealed, err := newManager(st, clk, nil).sealLogin(t.Context(), "c", testLogin("s"))
	if err != nil {
		t.Fatal(err)
	}
	var told []string
	m := newManager(&failingStore{Store: st, err: errors.New("connection refused")}, clk, func(o *Options) {
		o.Hooks.StoreFailed = func(_ context.Context, op string, _ error) { told = append(told, op) }
	})
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"seal", func() error { _, err := m.sealLogin(t.Context(), "c", testLogin("s")); return err }},
		{"open", func() error { _, err := m.openLogin(t.Context(), "c", sealed, "s"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			told = nil
			err := tc.call()
			if err == nil || errors.Is(err, ErrLoginInvalid) || errors.Is(err, ErrLoginExpired) {
				t.Fatalf("got %v, want the store's error", err)
			}
			if !strings.Contains(err.Error(), "connection refused") {
				t.Fatalf("the cause is lost: %v", err)
			}
			if len(told) != 1 || told[0] != "sealing_key" {
				t.Fatalf("StoreFailed told %q, want [sealing_key]", told)
			}
		})
	}
}

// failingStore is a store whose every call but Close fails with err.
type failingStore struct {
	store.Store
	err error
}

func (s *failingStore) Get(context.Context, string) ([]byte, error) { return nil, s.err }
func (s *failingStore) Put(context.Context, string, []byte, time.Duration) error {
	return s.err
}
func (s *failingStore) Delete(context.Context, string) error { return s.err }
func (s *failingStore) PutIfAbsent(context.Context, string, []byte, time.Duration) ([]byte, error) {
	return nil, s.err
}
func (s *failingStore) Create(context.Context, string, []byte, time.Duration) (bool, error) {
	return false, s.err
}
func (s *failingStore) AddMember(context.Context, string, string, time.Duration) error {
	return s.err
}
func (s *failingStore) RemoveMember(context.Context, string, string) error { return s.err }
func (s *failingStore) Members(context.Context, string) ([]string, error)  { return nil, s.err }
func (s *failingStore) DeleteSet(context.Context, string) error            { return s.err }
func (s *failingStore) Sets(context.Context) ([]string, error)             { return nil, s.err }
