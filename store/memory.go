package store

import (
	"bytes"
	"container/heap"
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
	s.table.mu.Lock()
	defer s.table.mu.Unlock()
	s.table.removeMemberLocked(set, member)
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
	s.table.mu.Lock()
	defer s.table.mu.Unlock()
	for m := range s.table.sets[set] {
		s.table.removeMemberLocked(set, m)
	}
	return nil
}

func (s *memoryStore) Sets(context.Context) ([]string, error) {
	s.table.mu.Lock()
	defer s.table.mu.Unlock()
	out := make([]string, 0, len(s.table.sets))
	for name := range s.table.sets {
		out = append(out, name)
	}
	return out, nil
}

// MemberCount returns how many members the scope's sets hold, all sets
// together: for the handler, which files each session in one set, its
// sessions (a member leaves with its record; see MaxEntries). It sweeps
// expired records first and then reads a counter, so a metrics scrape may
// call it.
func (s *memoryStore) MemberCount() int {
	s.table.mu.Lock()
	defer s.table.mu.Unlock()
	s.table.sweepLocked(s.table.now())
	return s.table.nMembers
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

// Eviction classes: when the bound is reached, the soonest-expiring record
// of the lowest non-empty class goes. A record whose key is a set member
// is, for the handler, a session, so a session is evicted only when no
// other ordinary record is left, and key material (PutIfAbsent) only when
// nothing else is.
const (
	classPlain  = iota // ordinary record, not a set member
	classMember        // ordinary record whose key is a set member
	classPinned        // made by PutIfAbsent
	nClasses
)

// memTable is one scope's records: a map for lookups and, per eviction
// class, a heap ordered by expiry for sweeping and evicting.
type memTable struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	items map[string]*memEntry
	order [nClasses]memHeap
	// sets holds each set's members and their expiry; memberOf the sets
	// each member is in, so that a record's removal finds its memberships.
	sets     map[string]map[string]time.Time
	memberOf map[string]map[string]struct{}
	nMembers int

	onEvict    func()
	evictOwner *memoryStore
}

type memEntry struct {
	key     string
	value   []byte
	expires time.Time
	// pinned marks a record made by PutIfAbsent: shared key material whose
	// loss would break every login sealed with it, so a flood of ordinary
	// records evicts it only after all of them.
	pinned bool
	// class is the eviction class (see classPlain), index the position in
	// that class's heap.
	class int
	index int
}

func newMemTable(max int) *memTable {
	return &memTable{
		max:      max,
		now:      time.Now,
		items:    make(map[string]*memEntry),
		sets:     make(map[string]map[string]time.Time),
		memberOf: make(map[string]map[string]struct{}),
	}
}

// Destruct lets the table live in a caddy.UsagePool; there is nothing to
// release beyond memory.
func (t *memTable) Destruct() error { return nil }

func (t *memTable) get(key string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.liveLocked(key, t.now())
	if e == nil {
		return nil, ErrNotFound
	}
	return clone(e.value), nil
}

func (t *memTable) same(key string, value []byte) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.liveLocked(key, t.now())
	if e == nil {
		return false, ErrNotFound
	}
	return bytes.Equal(e.value, value), nil
}

// liveLocked returns the live record of key, dropping it when expired.
func (t *memTable) liveLocked(key string, now time.Time) *memEntry {
	e := t.items[key]
	if e == nil {
		return nil
	}
	if !now.Before(e.expires) {
		t.removeLocked(e)
		return nil
	}
	return e
}

func (t *memTable) put(key string, value []byte, ttl time.Duration, pinned bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.storeLocked(key, value, t.now().Add(ttl), pinned)
}

// putIfAbsent checks and stores under one lock hold, so of concurrent
// callers exactly one stores and all return its value.
func (t *memTable) putIfAbsent(key string, value []byte, ttl time.Duration) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if e := t.liveLocked(key, now); e != nil {
		return clone(e.value)
	}
	t.storeLocked(key, value, now.Add(ttl), true)
	return clone(value)
}

// create checks and stores under one lock hold, so of concurrent callers
// exactly one stores. The record is an ordinary one, not pinned.
func (t *memTable) create(key string, value []byte, ttl time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.liveLocked(key, now) != nil {
		return false
	}
	t.storeLocked(key, value, now.Add(ttl), false)
	return true
}

// storeLocked sets key, first sweeping expired records and then, if the
// table is still full, evicting in heap order.
func (t *memTable) storeLocked(key string, value []byte, expires time.Time, pinned bool) {
	t.sweepLocked(t.now())
	if e := t.items[key]; e != nil {
		e.value = clone(value)
		e.expires = expires
		e.pinned = pinned
		t.reclassLocked(e)
		heap.Fix(&t.order[e.class], e.index)
		return
	}
	for len(t.items) >= t.max {
		t.evictLocked()
	}
	e := &memEntry{key: key, value: clone(value), expires: expires, pinned: pinned}
	e.class = t.classOfLocked(e)
	t.items[key] = e
	heap.Push(&t.order[e.class], e)
}

// classOfLocked is the eviction class e belongs in now.
func (t *memTable) classOfLocked(e *memEntry) int {
	if e.pinned {
		return classPinned
	}
	if _, member := t.memberOf[e.key]; member {
		return classMember
	}
	return classPlain
}

// reclassLocked moves e to the heap of its class when that has changed (it
// was pinned or unpinned, or its key joined or left every set).
func (t *memTable) reclassLocked(e *memEntry) {
	c := t.classOfLocked(e)
	if c == e.class {
		return
	}
	heap.Remove(&t.order[e.class], e.index)
	e.class = c
	heap.Push(&t.order[c], e)
}

// evictLocked drops the soonest-expiring record of the lowest non-empty
// class, telling the eviction hook when its key is a set member.
func (t *memTable) evictLocked() {
	var e *memEntry
	for c := range t.order {
		if len(t.order[c]) > 0 {
			e = t.order[c][0]
			break
		}
	}
	_, member := t.memberOf[e.key]
	t.removeLocked(e)
	if member && t.onEvict != nil {
		t.onEvict()
	}
}

func (t *memTable) delete(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.items[key]; e != nil {
		t.removeLocked(e)
	}
}

// setMax changes the bound in place (a reload with another max_entries)
// and drops only the excess over a lower bound.
func (t *memTable) setMax(max int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.max = max
	for len(t.items) > t.max {
		t.evictLocked()
	}
}

func (t *memTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.items)
}

// sweepLocked drops expired records from the front of each class's heap.
// It stops at the first live one of each, so its cost is the number of
// records it drops, and an expired record never waits behind a live one
// of another class.
func (t *memTable) sweepLocked(now time.Time) {
	for c := range t.order {
		h := &t.order[c]
		for len(*h) > 0 && !now.Before((*h)[0].expires) {
			t.removeLocked((*h)[0])
		}
	}
}

func (t *memTable) removeLocked(e *memEntry) {
	heap.Remove(&t.order[e.class], e.index)
	delete(t.items, e.key)
	for set := range t.memberOf[e.key] {
		t.removeMemberLocked(set, e.key)
	}
}

func (t *memTable) addMember(set, member string, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	members := t.sets[set]
	if members == nil {
		members = make(map[string]time.Time)
		t.sets[set] = members
	}
	// Adding is the moment to drop the set's expired members, so that a
	// set that is only ever added to does not grow without end.
	for m, exp := range members {
		if !now.Before(exp) {
			t.removeMemberLocked(set, m)
		}
	}
	if t.sets[set] == nil {
		t.sets[set] = members
	}
	if _, ok := members[member]; !ok {
		t.nMembers++
	}
	members[member] = now.Add(ttl)
	in := t.memberOf[member]
	if in == nil {
		in = make(map[string]struct{}, 1)
		t.memberOf[member] = in
		if e := t.items[member]; e != nil {
			t.reclassLocked(e)
		}
	}
	in[set] = struct{}{}
}

func (t *memTable) members(set string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var out []string
	for m, exp := range t.sets[set] {
		if now.Before(exp) {
			out = append(out, m)
		} else {
			t.removeMemberLocked(set, m)
		}
	}
	return out
}

// removeMemberLocked takes member out of set, and drops the set when it is
// left empty.
func (t *memTable) removeMemberLocked(set, member string) {
	members := t.sets[set]
	if _, ok := members[member]; !ok {
		return
	}
	delete(members, member)
	t.nMembers--
	if len(members) == 0 {
		delete(t.sets, set)
	}
	if in := t.memberOf[member]; in != nil {
		delete(in, set)
		if len(in) == 0 {
			delete(t.memberOf, member)
			// A record being removed has left items already; one that
			// stays is no longer a session and loses its place.
			if e := t.items[member]; e != nil {
				t.reclassLocked(e)
			}
		}
	}
}

// memHeap orders the records of one eviction class: the one that expires
// first is first.
type memHeap []*memEntry

func (h memHeap) Len() int           { return len(h) }
func (h memHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h memHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *memHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *memHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// Interface guards
var (
	_ caddy.Provisioner  = (*Memory)(nil)
	_ caddy.Validator    = (*Memory)(nil)
	_ caddy.CleanerUpper = (*Memory)(nil)
	_ Backend            = (*Memory)(nil)
	_ Store              = (*memoryStore)(nil)
	_ Comparer           = (*memoryStore)(nil)
	_ caddy.Destructor   = (*memTable)(nil)
)
