package store

import (
	"container/heap"
	"slices"
	"sync"
	"time"
)

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

// sweepPerWrite bounds the expired records a write removes before it
// stores: a write never pays for more than this many, however many expired
// at once. Each session is made by writes (its record, its index entry),
// so in the long run writes outnumber expiries and the sweep keeps up;
// what a burst leaves is removed by later writes, by reads of it, by the
// bound (which takes expired records first) and by a count (MemberCount),
// in steps of sweepPerCount with the lock let go in between. Removing a
// record costs a few microseconds in a small table and tens in one of a
// million, where each step of the expiry heap is a cache miss, so a step
// holds the lock for a few milliseconds at most.
const (
	sweepPerWrite = 8
	sweepPerCount = 256
)

// memTable is one scope's records: a map for lookups and, per eviction
// class, a heap ordered by expiry for sweeping and evicting.
//
// A memory store may hold millions of sessions, so what each costs counts:
// times are unix nanoseconds, a set's members a slice (a user has a
// session or a few), and a member's set one string in a map, with a map of
// further sets only for members of several (the handler files a session in
// one).
type memTable struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	items map[string]*memEntry
	order [nClasses]memHeap
	// sets holds each set's members; memberOf the set each member is in,
	// and memberMore its other sets when it is in more than one, so that
	// a record's removal finds its memberships.
	sets       map[string][]memMember
	memberOf   map[string]string
	memberMore map[string][]string
	nMembers   int

	onEvict    func()
	evictOwner *memoryStore
}

type memEntry struct {
	key string
	// value is the record, a copy of the bytes stored, which nothing
	// changes: a string is 8 bytes shorter than a slice, and so is the
	// entry, which then takes 48 bytes instead of 64.
	value   string
	expires int64 // unix nanoseconds
	// index is the position in its class's heap, class the eviction class
	// (see classPlain).
	index int32
	class uint8
	// pinned marks a record made by PutIfAbsent: shared key material whose
	// loss would break every login sealed with it, so a flood of ordinary
	// records evicts it only after all of them.
	pinned bool
}

// memMember is a member of a set, with its expiry in unix nanoseconds.
type memMember struct {
	key     string
	expires int64
}

func newMemTable(max int) *memTable {
	return &memTable{
		max:        max,
		now:        time.Now,
		items:      make(map[string]*memEntry),
		sets:       make(map[string][]memMember),
		memberOf:   make(map[string]string),
		memberMore: make(map[string][]string),
	}
}

// Destruct lets the table live in a caddy.UsagePool; there is nothing to
// release beyond memory.
func (t *memTable) Destruct() error { return nil }

func (t *memTable) nowNano() int64 { return t.now().UnixNano() }

func (t *memTable) get(key string) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.liveLocked(key, t.nowNano())
	if e == nil {
		return nil, ErrNotFound
	}
	return []byte(e.value), nil
}

func (t *memTable) same(key string, value []byte) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.liveLocked(key, t.nowNano())
	if e == nil {
		return false, ErrNotFound
	}
	return e.value == string(value), nil
}

// liveLocked returns the live record of key, dropping it when expired.
func (t *memTable) liveLocked(key string, now int64) *memEntry {
	e := t.items[key]
	if e == nil {
		return nil
	}
	if now >= e.expires {
		t.removeLocked(e)
		return nil
	}
	return e
}

func (t *memTable) put(key string, value []byte, ttl time.Duration, pinned bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.storeLocked(key, value, now.UnixNano(), now.Add(ttl).UnixNano(), pinned)
}

// putIfAbsent checks and stores under one lock hold, so of concurrent
// callers exactly one stores and all return its value.
func (t *memTable) putIfAbsent(key string, value []byte, ttl time.Duration) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if e := t.liveLocked(key, now.UnixNano()); e != nil {
		return []byte(e.value)
	}
	t.storeLocked(key, value, now.UnixNano(), now.Add(ttl).UnixNano(), true)
	return clone(value)
}

// create checks and stores under one lock hold, so of concurrent callers
// exactly one stores. The record is an ordinary one, not pinned.
func (t *memTable) create(key string, value []byte, ttl time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.liveLocked(key, now.UnixNano()) != nil {
		return false
	}
	t.storeLocked(key, value, now.UnixNano(), now.Add(ttl).UnixNano(), false)
	return true
}

// createInSet is create with key filed in set first, under the same lock
// hold, so that the record is stored in its class, a set member's, at
// once.
func (t *memTable) createInSet(key string, value []byte, ttl time.Duration, set string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.liveLocked(key, now.UnixNano()) != nil {
		return false
	}
	exp := now.Add(ttl).UnixNano()
	t.addMemberLocked(set, key, now.UnixNano(), exp)
	t.storeLocked(key, value, now.UnixNano(), exp, false)
	return true
}

// storeLocked sets key, first sweeping a few expired records and then, if
// the table is still full, evicting.
func (t *memTable) storeLocked(key string, value []byte, now, expires int64, pinned bool) {
	t.sweepLocked(now, sweepPerWrite)
	if e := t.items[key]; e != nil {
		e.value = string(value)
		e.expires = expires
		e.pinned = pinned
		t.reclassLocked(e)
		heap.Fix(&t.order[e.class], int(e.index))
		return
	}
	for len(t.items) >= t.max {
		t.evictLocked(now)
	}
	e := &memEntry{key: key, value: string(value), expires: expires, pinned: pinned}
	e.class = t.classOfLocked(e)
	t.items[key] = e
	heap.Push(&t.order[e.class], e)
}

// classOfLocked is the eviction class e belongs in now.
func (t *memTable) classOfLocked(e *memEntry) uint8 {
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
	heap.Remove(&t.order[e.class], int(e.index))
	e.class = c
	heap.Push(&t.order[c], e)
}

// evictLocked makes room for one record: an expired one goes if there is
// any, and otherwise the soonest-expiring record of the lowest non-empty
// class, telling the eviction hook when its key is a set member.
func (t *memTable) evictLocked(now int64) {
	if t.sweepLocked(now, 1) > 0 {
		return
	}
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
	now := t.nowNano()
	for len(t.items) > t.max {
		t.evictLocked(now)
	}
}

func (t *memTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.items)
}

// sweepLocked drops up to limit expired records, soonest-expired first,
// from the fronts of the classes' heaps, and returns how many. It stops at
// the first live record of each class, so it never looks at a live record
// twice, and an expired record never waits behind a live one of another
// class.
func (t *memTable) sweepLocked(now int64, limit int) int {
	n := 0
	for n < limit {
		var first *memEntry
		for c := range t.order {
			if h := t.order[c]; len(h) > 0 && now >= h[0].expires && (first == nil || h[0].expires < first.expires) {
				first = h[0]
			}
		}
		if first == nil {
			break
		}
		t.removeLocked(first)
		n++
	}
	return n
}

// memberCount sweeps every expired record, sweepPerCount at a time with
// the lock let go in between, so that requests wait for one step at most,
// and returns the members of the scope's sets.
func (t *memTable) memberCount() int {
	for {
		t.mu.Lock()
		n := t.sweepLocked(t.nowNano(), sweepPerCount)
		if n < sweepPerCount {
			defer t.mu.Unlock()
			return t.nMembers
		}
		t.mu.Unlock()
	}
}

func (t *memTable) removeLocked(e *memEntry) {
	heap.Remove(&t.order[e.class], int(e.index))
	delete(t.items, e.key)
	if set, ok := t.memberOf[e.key]; ok {
		for _, other := range slices.Clone(t.memberMore[e.key]) {
			t.removeMemberLocked(other, e.key)
		}
		t.removeMemberLocked(set, e.key)
	}
}

func (t *memTable) addMember(set, member string, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.addMemberLocked(set, member, now.UnixNano(), now.Add(ttl).UnixNano())
}

// addMemberLocked adds member to set until exp, or renews it.
func (t *memTable) addMemberLocked(set, member string, now, exp int64) {
	// Adding is the moment to drop the set's expired members, so that a
	// set that is only ever added to does not grow without end.
	ms := t.sets[set]
	kept := ms[:0]
	found := false
	for _, m := range ms {
		switch {
		case m.key == member:
			m.expires, found = exp, true
		case now >= m.expires:
			t.nMembers--
			t.leaveLocked(set, m.key)
			continue
		}
		kept = append(kept, m)
	}
	clear(ms[len(kept):])
	if !found {
		kept = append(kept, memMember{key: member, expires: exp})
		t.nMembers++
		t.joinLocked(set, member)
	}
	t.sets[set] = kept
}

// joinLocked records that member is in set, which it was not in.
func (t *memTable) joinLocked(set, member string) {
	first, ok := t.memberOf[member]
	if !ok {
		t.memberOf[member] = set
		if e := t.items[member]; e != nil {
			t.reclassLocked(e)
		}
		return
	}
	if first != set && !slices.Contains(t.memberMore[member], set) {
		t.memberMore[member] = append(t.memberMore[member], set)
	}
}

// leaveLocked records that member is no longer in set. A record whose key
// is left in no set is no longer a session and loses its place.
func (t *memTable) leaveLocked(set, member string) {
	first, ok := t.memberOf[member]
	if !ok {
		return
	}
	more := t.memberMore[member]
	switch i := slices.Index(more, set); {
	case first == set && len(more) == 0:
		delete(t.memberOf, member)
		// A record being removed has left items already.
		if e := t.items[member]; e != nil {
			t.reclassLocked(e)
		}
		return
	case first == set:
		t.memberOf[member] = more[len(more)-1]
		more = more[:len(more)-1]
	case i >= 0:
		more = slices.Delete(more, i, i+1)
	default:
		return
	}
	if len(more) == 0 {
		delete(t.memberMore, member)
	} else {
		t.memberMore[member] = more
	}
}

func (t *memTable) members(set string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.nowNano()
	var out, expired []string
	for _, m := range t.sets[set] {
		if now < m.expires {
			out = append(out, m.key)
		} else {
			expired = append(expired, m.key)
		}
	}
	for _, m := range expired {
		t.removeMemberLocked(set, m)
	}
	return out
}

// removeMemberLocked takes member out of set, and drops the set when it is
// left empty.
func (t *memTable) removeMemberLocked(set, member string) {
	ms := t.sets[set]
	i := slices.IndexFunc(ms, func(m memMember) bool { return m.key == member })
	if i < 0 {
		return
	}
	last := len(ms) - 1
	ms[i] = ms[last]
	ms[last] = memMember{}
	if last == 0 {
		delete(t.sets, set)
	} else {
		t.sets[set] = ms[:last]
	}
	t.nMembers--
	t.leaveLocked(set, member)
}

func (t *memTable) removeMember(set, member string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.removeMemberLocked(set, member)
}

func (t *memTable) deleteSet(set string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range slices.Clone(t.sets[set]) {
		t.removeMemberLocked(set, m.key)
	}
}

func (t *memTable) setNames() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.sets))
	for name := range t.sets {
		out = append(out, name)
	}
	return out
}

// memHeap orders the records of one eviction class: the one that expires
// first is first.
type memHeap []*memEntry

func (h memHeap) Len() int           { return len(h) }
func (h memHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h memHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = int32(i)
	h[j].index = int32(j)
}
func (h *memHeap) Push(x any) {
	e := x.(*memEntry)
	e.index = int32(len(*h))
	*h = append(*h, e)
}
func (h *memHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
