package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(new(Memory))
}

// DefaultMaxEntries is the bound of a memory store's scope when
// max_entries is not set.
const DefaultMaxEntries = 100_000

// memoryTables holds one table per scope. It lives at package level so
// that `caddy reload`, which provisions the new config before it cleans up
// the old one, hands the same table to the new config and no record is
// lost.
var memoryTables = caddy.NewUsagePool()

// Memory keeps records in this process's memory: fast, lost on restart,
// not shared with other instances. It is for a single instance whose
// users may log in again after a restart.
type Memory struct {
	// Bounds the records kept per scope. When a new record would
	// exceed it, expired records are dropped first, then the record that
	// expires first among those whose key is in no set; a record whose key
	// is a set member (for the handler: a session) goes only when no such
	// record is left, and key material goes last. A reload with another value
	// changes the bound of the live table in place, keeping its records
	// (only the excess over a lower bound is dropped, soonest-expiring
	// first). Default: 100000. No placeholders.
	//
	// The members of sets (a user's sessions) do not count toward the bound, but a member
	// that is also the key of a record of the scope leaves its sets when
	// that record goes (deleted, expired or evicted), so the handler's
	// index of sessions never outgrows the sessions.
	MaxEntries int `json:"max_entries,omitempty"`

	handles openStores
}

// CaddyModule returns the Caddy module information.
func (*Memory) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "sgid.stores.memory",
		New: func() caddy.Module { return new(Memory) },
	}
}

// Provision sets the default bound.
func (m *Memory) Provision(caddy.Context) error {
	if m.MaxEntries == 0 {
		m.MaxEntries = DefaultMaxEntries
	}
	return nil
}

// Validate refuses a negative bound.
func (m *Memory) Validate() error {
	if m.MaxEntries < 0 {
		return errors.New("store memory: max_entries must be positive")
	}
	return nil
}

// Open returns the scope's table, creating it on first use, and sets its
// bound to this config's MaxEntries.
func (m *Memory) Open(scope string) (Store, error) {
	if err := checkScope(scope); err != nil {
		return nil, err
	}
	max := m.MaxEntries
	if max <= 0 {
		max = DefaultMaxEntries
	}
	v, _, err := memoryTables.LoadOrNew(scope, func() (caddy.Destructor, error) {
		return newMemTable(max), nil
	})
	if err != nil {
		return nil, err
	}
	t := v.(*memTable)
	t.setMax(max)
	s := &memoryStore{table: t, scope: scope}
	m.handles.add(s)
	return s, nil
}

// Cleanup releases every scope this config opened and did not close, so
// the old config's references do not keep a table alive forever.
func (m *Memory) Cleanup() error {
	m.handles.closeAll()
	return nil
}

// memoryStore is one handle on a scope's table; closing it drops its
// reference in the pool.
type memoryStore struct {
	table *memTable
	scope string
	once  sync.Once
}

func (s *memoryStore) Get(_ context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return s.table.get(key)
}

// Same compares the record in place, under the table's lock, so a request
// whose session is unchanged costs no copy of it.
func (s *memoryStore) Same(_ context.Context, key string, value []byte) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	return s.table.same(key, value)
}

func (s *memoryStore) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkPut(key, ttl); err != nil {
		return err
	}
	s.table.put(key, value, ttl, false)
	return nil
}

func (s *memoryStore) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	s.table.delete(key)
	return nil
}

func (s *memoryStore) PutIfAbsent(_ context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	if err := checkPut(key, ttl); err != nil {
		return nil, err
	}
	return s.table.putIfAbsent(key, value, ttl), nil
}

func (s *memoryStore) Create(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkPut(key, ttl); err != nil {
		return false, err
	}
	return s.table.create(key, value, ttl), nil
}

// CreateInSet creates the record already filed in set, under one lock
// hold: the record is a session from the start, so it takes its place
// among the sessions at once rather than among plain records first.
func (s *memoryStore) CreateInSet(_ context.Context, key string, value []byte, ttl time.Duration, set string) (bool, error) {
	if err := checkCreateInSet(key, ttl, set); err != nil {
		return false, err
	}
	return s.table.createInSet(key, value, ttl, set), nil
}

func (s *memoryStore) AddMember(_ context.Context, set, member string, ttl time.Duration) error {
	if err := checkMember(set, member); err != nil {
		return err
	}
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	s.table.addMember(set, member, ttl)
	return nil
}

func (s *memoryStore) RemoveMember(_ context.Context, set, member string) error {
	if err := checkMember(set, member); err != nil {
		return err
	}
	s.table.removeMember(set, member)
	return nil
}

func (s *memoryStore) Members(_ context.Context, set string) ([]string, error) {
	if err := checkKey(set); err != nil {
		return nil, err
	}
	return s.table.members(set), nil
}

func (s *memoryStore) DeleteSet(_ context.Context, set string) error {
	if err := checkKey(set); err != nil {
		return err
	}
	s.table.deleteSet(set)
	return nil
}

func (s *memoryStore) Sets(context.Context) ([]string, error) {
	return s.table.setNames(), nil
}

// MemberCount returns how many members the scope's sets hold, all sets
// together: for the handler, which files each session in one set, its
// sessions (a member leaves with its record; see MaxEntries). It sweeps
// expired records first, a step at a time, and then reads a counter, so a
// metrics scrape may call it.
func (s *memoryStore) MemberCount() int {
	return s.table.memberCount()
}

// OnEvict sets f to be called, under the table's lock, for each record the
// bound evicts whose key is a set member (for the handler: a session). The scope's table is shared by every
// handle on it (an old and a new config during a reload), and the latest
// handle's f is the one called, so an eviction is counted once; closing
// the handle unsets its f. f must be quick and must not call the store.
func (s *memoryStore) OnEvict(f func()) {
	s.table.mu.Lock()
	defer s.table.mu.Unlock()
	s.table.onEvict, s.table.evictOwner = f, s
}

func (s *memoryStore) Close() error {
	s.once.Do(func() {
		s.table.mu.Lock()
		if s.table.evictOwner == s {
			s.table.onEvict, s.table.evictOwner = nil, nil
		}
		s.table.mu.Unlock()
		_, _ = memoryTables.Delete(s.scope)
	})
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner  = (*Memory)(nil)
	_ caddy.Validator    = (*Memory)(nil)
	_ caddy.CleanerUpper = (*Memory)(nil)
	_ Backend            = (*Memory)(nil)
	_ Store              = (*memoryStore)(nil)
	_ Comparer           = (*memoryStore)(nil)
	_ SetCreator         = (*memoryStore)(nil)
	_ caddy.Destructor   = (*memTable)(nil)
)
