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

// droppingStore accepts every write and keeps none, as a store that lost
// its data (or a replica that was never written) would answer.
type droppingStore struct{ store.Store }

func (droppingStore) Put(context.Context, string, []byte, time.Duration) error { return nil }
func (droppingStore) Get(context.Context, string) ([]byte, error)              { return nil, store.ErrNotFound }

// alteringStore returns something else than what was written.
type alteringStore struct{ store.Store }

func (s alteringStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	return append(v, 'x'), err
}

func TestProbe(t *testing.T) {
	t.Parallel()
	errDown := errors.New("store down")
	for _, tc := range []struct {
		name string
		// st is the store behind the cache, raw the one without it.
		st, raw func(t *testing.T) store.Store
		want    string // "" = no error
	}{
		{"healthy", nil, nil, ""},
		{"failing", nil, func(*testing.T) store.Store { return &failingStore{err: errDown} }, "writing: store down"},
		{"dropping writes", nil, func(t *testing.T) store.Store { return droppingStore{memoryScope(t, 10)} }, "missing"},
		{"changing what it keeps", nil, func(t *testing.T) store.Store { return alteringStore{memoryScope(t, 10)} }, "changed"},
		// The cache in front of a shared store could answer for a store
		// that is down: the probe goes around it.
		{"healthy cache, failing store", func(t *testing.T) store.Store { return memoryScope(t, 10) }, func(*testing.T) store.Store { return &failingStore{err: errDown} }, "store down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := memoryScope(t, 10)
			if tc.raw != nil {
				raw = tc.raw(t)
			}
			st := raw
			if tc.st != nil {
				st = tc.st(t)
			}
			m := newManager(st, testclock.New(clockStart), func(o *Options) { o.Raw = raw })
			err := m.probe(t.Context())
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Probe: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Probe: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// The probe leaves one short-lived record and touches no session.
func TestProbeRecord(t *testing.T) {
	t.Parallel()
	sp := spy(memoryScope(t, 10))
	m := newManager(sp, testclock.New(clockStart), nil)
	id := mustCreate(t, m, "sub-1")
	before := sp.keys()
	for range 3 {
		if err := m.probe(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	w, ok := sp.lastWrite(probeKey)
	if !ok || w.ttl <= 0 || w.ttl > time.Minute {
		t.Errorf("probe record written %v with ttl %v, want a ttl of at most a minute", ok, w.ttl)
	}
	if got := len(sp.keys()); got != len(before)+1 {
		t.Errorf("probes wrote %d keys, want only the probe's", got-len(before))
	}
	if !live(t, m, id) || count(t, m) != 1 {
		t.Error("the probe disturbed a session")
	}
}

func TestCheckKeys(t *testing.T) {
	t.Parallel()
	errDown := errors.New("store down")
	secret := []byte(strings.Repeat("s", 32))
	for _, tc := range []struct {
		name   string
		st     func(t *testing.T) store.Store
		secret []byte
		want   error // nil = no error
	}{
		{"keys in the store", func(t *testing.T) store.Store { return memoryScope(t, 10) }, nil, nil},
		{"keys in a failing store", func(*testing.T) store.Store { return &failingStore{err: errDown} }, nil, errDown},
		// With a secret every key is derived from it: the store is not
		// needed for the keys at all.
		{"keys from the secret, failing store", func(*testing.T) store.Store { return &failingStore{err: errDown} }, secret, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newManager(tc.st(t), testclock.New(clockStart), func(o *Options) { o.Secret = tc.secret })
			err := m.checkKeys(t.Context())
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("CheckKeys: %v, want %v", err, tc.want)
			}
		})
	}
}

// A stored index key that went missing while sets remain fails the check
// with ErrIndexKeyLost, as it fails logins.
func TestCheckKeysIndexKeyLost(t *testing.T) {
	t.Parallel()
	st := memoryScope(t, 10)
	clk := testclock.New(clockStart)
	mustCreate(t, newManager(st, clk, nil), "sub-1")
	if err := st.Delete(t.Context(), indexKeyName); err != nil {
		t.Fatal(err)
	}
	if err := newManager(st, clk, nil).checkKeys(t.Context()); !errors.Is(err, ErrIndexKeyLost) {
		t.Errorf("CheckKeys: %v, want ErrIndexKeyLost", err)
	}
}
