package session

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// Durations every test Manager uses unless a test says otherwise.
const (
	testLoginTimeout = 10 * time.Minute
	testRotation     = time.Hour
)

// clockStart is where the tests' clocks (testclock) start: on the hour,
// so that a test knows where the keyring's epochs begin.
var clockStart = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)

// memoryScope opens a fresh scope of a memory store bounded to max
// records, closed with the test.
func memoryScope(t testing.TB, max int) store.Store {
	t.Helper()
	st, err := (&store.Memory{MaxEntries: max}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newManager is a Manager on st dated by clk; edit, when set, changes the
// options before the Manager is made.
func newManager(st store.Store, clk *testclock.Clock, edit func(*Options)) *Manager {
	o := Options{
		Store:        st,
		LoginTimeout: testLoginTimeout,
		KeyRotation:  testRotation,
		Now:          clk.Now,
	}
	if edit != nil {
		edit(&o)
	}
	return New(o)
}

// mustCreate creates a session of sub that expires in an hour and returns
// its id.
func mustCreate(t *testing.T, m *Manager, sub string) string {
	t.Helper()
	id := NewID()
	created, err := m.create(t.Context(), id, Session{Sub: sub, Expires: m.now().Add(time.Hour)}, "")
	if err != nil || !created {
		t.Fatalf("create: %v, %v", created, err)
	}
	return id
}

// live reports whether Lookup finds the session of id.
func live(t *testing.T, m *Manager, id string) bool {
	t.Helper()
	o, err := m.lookup(t.Context(), id, Used)
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	return o != nil
}

// count is the Manager's session count, failing the test on an error.
func count(t *testing.T, m *Manager) int {
	t.Helper()
	n, _, err := m.Count(t.Context(), true)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// creator is a store with an atomic Create, which the store package is
// gaining; spyStore offers one either way.
type creator interface {
	Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
}

// spyStore wraps a store: it counts and remembers the writes made through
// it, can hold readers of keys with a prefix at a gate, and runs afterMembers
// once, after the first Members call returns.
type spyStore struct {
	store.Store

	// writes counts every call that changes the store.
	writes atomic.Int64

	mu sync.Mutex
	// written is every key a value was stored under, with its last ttl
	// and value.
	written map[string]spyWrite

	// prefix and prefixPuts count the Puts of keys starting with prefix.
	prefix     string
	prefixPuts atomic.Int64
	// gate, when set, holds every Get of a key with prefix until as many
	// as the gate counts have arrived.
	gate *sync.WaitGroup

	afterMembers func()
	once         sync.Once
}

type spyWrite struct {
	value []byte
	ttl   time.Duration
}

func spy(st store.Store) *spyStore { return &spyStore{Store: st, written: map[string]spyWrite{}} }

func (s *spyStore) wrote(key string, value []byte, ttl time.Duration) {
	s.writes.Add(1)
	s.mu.Lock()
	s.written[key] = spyWrite{bytes.Clone(value), ttl}
	s.mu.Unlock()
}

// lastWrite is what was last stored under key through s.
func (s *spyStore) lastWrite(key string) (spyWrite, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.written[key]
	return w, ok
}

// keys is every key a value was stored under through s.
func (s *spyStore) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.written))
	for k := range s.written {
		out = append(out, k)
	}
	return out
}

func (s *spyStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Store.Get(ctx, key)
	if g := s.gate; g != nil && s.prefix != "" && strings.HasPrefix(key, s.prefix) {
		g.Done()
		g.Wait()
	}
	return v, err
}

func (s *spyStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	s.wrote(key, value, ttl)
	if s.prefix != "" && strings.HasPrefix(key, s.prefix) {
		s.prefixPuts.Add(1)
	}
	return s.Store.Put(ctx, key, value, ttl)
}

func (s *spyStore) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	s.wrote(key, value, ttl)
	return s.Store.PutIfAbsent(ctx, key, value, ttl)
}

// Create forwards to the wrapped store's Create, or, while stores have
// none, does what the Manager would do without one.
func (s *spyStore) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	s.wrote(key, value, ttl)
	if c, ok := s.Store.(creator); ok {
		return c.Create(ctx, key, value, ttl)
	}
	got, err := s.Store.PutIfAbsent(ctx, key, value, ttl)
	return err == nil && bytes.Equal(got, value), err
}

func (s *spyStore) Delete(ctx context.Context, key string) error {
	s.writes.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *spyStore) AddMember(ctx context.Context, set, member string, ttl time.Duration) error {
	s.writes.Add(1)
	return s.Store.AddMember(ctx, set, member, ttl)
}

func (s *spyStore) RemoveMember(ctx context.Context, set, member string) error {
	s.writes.Add(1)
	return s.Store.RemoveMember(ctx, set, member)
}

func (s *spyStore) DeleteSet(ctx context.Context, set string) error {
	s.writes.Add(1)
	return s.Store.DeleteSet(ctx, set)
}

func (s *spyStore) Members(ctx context.Context, set string) ([]string, error) {
	members, err := s.Store.Members(ctx, set)
	if f := s.afterMembers; f != nil {
		s.once.Do(f)
	}
	return members, err
}
