package caddysgid

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// mapKeyStore is a keyStore in a map, shared by the keyrings of a test as a
// store is shared by Caddy instances.
type mapKeyStore struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail error
}

func (s *mapKeyStore) PutIfAbsent(_ context.Context, key string, value []byte, _ time.Duration) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	if s.m == nil {
		s.m = make(map[string][]byte)
	}
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	s.m[key] = bytes.Clone(value)
	return value, nil
}

// testKeyring is a keyring on st whose clock the test sets.
func testKeyring(st keyStore, secret []byte, clock *time.Time) *keyring {
	k := newKeyring(st, secret, time.Hour, 10*time.Minute)
	k.now = func() time.Time { return *clock }
	return k
}

var keyringT0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func sealOpen(t *testing.T, sealer, opener *keyring, state string) error {
	t.Helper()
	ctx := context.Background()
	p := pendingLogin{State: state, CodeVerifier: "v", Nonce: "n", RedirectURI: "https://x/api/redirect", Expires: keyringT0.Add(100 * time.Hour).Unix()}
	v, err := sealPending(ctx, sealer, "sgid_session_login_x", p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := openPending(ctx, opener, "sgid_session_login_x", v, state, keyringT0)
	if err == nil && got.CodeVerifier != "v" {
		t.Fatalf("opened %+v", got)
	}
	return err
}

func TestKeyringSharedThroughStore(t *testing.T) {
	t.Parallel()
	st := &mapKeyStore{}
	clock := keyringT0.Add(5 * time.Minute)
	a, b := testKeyring(st, nil, &clock), testKeyring(st, nil, &clock)
	if err := sealOpen(t, a, b, "s1"); err != nil {
		t.Fatalf("instance B cannot open what A sealed with the shared store: %v", err)
	}
	if len(st.m) != 1 {
		t.Fatalf("store holds %d keys, want one for the epoch", len(st.m))
	}
	// Another store is another site: its key does not open A's cookie.
	other := testKeyring(&mapKeyStore{}, nil, &clock)
	if err := sealOpen(t, a, other, "s1"); !errors.Is(err, errPendingInvalid) {
		t.Fatalf("a cookie sealed with another site's key: got %v, want errPendingInvalid", err)
	}
}

func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	st := &mapKeyStore{}
	clock := keyringT0.Add(55 * time.Minute) // 5 minutes before the epoch ends
	k := testKeyring(st, nil, &clock)
	ctx := context.Background()
	p := pendingLogin{State: "s", Expires: keyringT0.Add(100 * time.Hour).Unix()}
	v, err := sealPending(ctx, k, "c", p)
	if err != nil {
		t.Fatal(err)
	}
	open := func() error {
		_, err := openPending(ctx, k, "c", v, "s", keyringT0)
		return err
	}
	if err := open(); err != nil {
		t.Fatalf("same epoch: %v", err)
	}
	clock = keyringT0.Add(69 * time.Minute) // next epoch, within the grace
	if err := open(); err != nil {
		t.Fatalf("previous epoch within the login timeout after rotation: %v", err)
	}
	if e, _, _ := k.current(ctx); e != k.epoch(keyringT0)+1 {
		t.Fatalf("sealing epoch after rotation = %d, want the next one", e)
	}
	clock = keyringT0.Add(71 * time.Minute) // past the grace
	if err := open(); !errors.Is(err, errPendingExpired) {
		t.Fatalf("previous epoch after the grace: got %v, want errPendingExpired", err)
	}
	// A clock a little behind still opens what a clock ahead sealed.
	clock = keyringT0.Add(65 * time.Minute)
	ahead, err := sealPending(ctx, k, "c", p)
	if err != nil {
		t.Fatal(err)
	}
	clock = keyringT0.Add(59 * time.Minute)
	if _, err := openPending(ctx, k, "c", ahead, "s", keyringT0); err != nil {
		t.Fatalf("a cookie from the next epoch (clock skew): %v", err)
	}
	clock = keyringT0.Add(-61 * time.Minute)
	if _, err := openPending(ctx, k, "c", ahead, "s", keyringT0); !errors.Is(err, errPendingExpired) {
		t.Fatalf("a cookie two epochs ahead: got %v, want errPendingExpired", err)
	}
}

func TestKeyringConfiguredSecret(t *testing.T) {
	t.Parallel()
	clock := keyringT0
	failing := &mapKeyStore{fail: errors.New("store down")}
	a := testKeyring(failing, []byte("0123456789abcdef0123456789abcdef"), &clock)
	b := testKeyring(failing, []byte("0123456789abcdef0123456789abcdef"), &clock)
	if err := sealOpen(t, a, b, "s"); err != nil {
		t.Fatalf("two instances with the same configured key, store unused: %v", err)
	}
	c := testKeyring(failing, []byte("another secret, another site...."), &clock)
	if err := sealOpen(t, a, c, "s"); !errors.Is(err, errPendingInvalid) {
		t.Fatalf("another configured key: got %v, want errPendingInvalid", err)
	}
}

func TestKeyringStoreFailure(t *testing.T) {
	t.Parallel()
	clock := keyringT0
	st := &mapKeyStore{fail: errors.New("connection refused")}
	k := testKeyring(st, nil, &clock)
	_, err := sealPending(context.Background(), k, "c", pendingLogin{State: "s"})
	if err == nil || errors.Is(err, errPendingInvalid) || errors.Is(err, errPendingExpired) {
		t.Fatalf("store failure: got %v, want the store's error", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("the cause is lost: %v", err)
	}
}
