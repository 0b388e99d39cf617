package store

import (
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
	classGone = nClasses // a removed record, which no queue entry stands for
)

// sweepPerWrite bounds the expired records a write removes before it
// stores: a write never pays for more than this many, however many expired
// at once. Each session is made by a write (its record, filed in its
// user's set), so in the long run writes are at least as many as expiries
// and the sweep, several per write, keeps up;
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

// sweepSteps bounds the queue entries one sweep of limit removals may
// look at (stale ones dropped, early ones queued again) to this many per
// removal, so that a write's sweep stays bounded however many stale
// entries wait at the front.
const sweepSteps = 4

// memTable is one scope's records: a map for lookups and, per eviction
// class, a queue ordered by expiry for sweeping and evicting.
//
// A memory store may hold millions of sessions, so what each costs counts:
// times are unix nanoseconds, a set's members a slice (a user has a
// session or a few), and a member's set one string in a map, with a map of
// further sets only for members of several (the handler files a session in
// one).
//
// The queues are lazy (see memQueue): a record's entry is pushed when the
// record is made or changes class, and nothing else moves it. With a
// million sessions, each step of a heap is a miss to memory; moving a
// session's entry when its expiry changes (a revocation's ended mark) and
// taking it out of its queue when it leaves its set or goes cost a
// revocation some forty such misses per session, which made it nearly
// twice as slow as among a thousand sessions.
type memTable struct {
	mu    sync.Mutex
	max   int
	now   func() time.Time
	items map[string]*memEntry
	// byLen counts the records by the length of their keys, so that the
	// lookup of a key no record's key is as long as costs no probe of
	// items: a revocation or a logout deletes each session's last use,
	// which no session has without session_idle_timeout, and a miss in a
	// map of a million records costs several misses to memory.
	byLen [MaxKeyLen + 1]int32
	order [nClasses]memQueue
	// sets holds each set's members; a member's first set is in its
	// record's entry (set) when it is a record's key, a session's, and in
	// memberOf otherwise, and memberMore holds its other sets when it is
	// in more than one, so that a record's removal finds its memberships
	// and a session's costs no lookup in a map of every session.
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
	// entry, which then takes 64 bytes instead of 80.
	value   string
	expires int64 // unix nanoseconds
	// set is the first set the key is a member of, "" for none (see
	// memTable.sets).
	set string
	// gen numbers the entry's queue entries: only the one pushed last (gen
	// equal) stands for it; class is the eviction class (see classPlain),
	// classGone once the record is removed.
	gen   uint32
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
	t := &memTable{
		max:        max,
		now:        time.Now,
		items:      make(map[string]*memEntry),
		sets:       make(map[string][]memMember),
		memberOf:   make(map[string]string),
		memberMore: make(map[string][]string),
	}
	for c := range t.order {
		t.order[c].class = uint8(c)
	}
	return t
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

// recordLocked returns the record of key, or nil.
func (t *memTable) recordLocked(key string) *memEntry {
	if len(key) <= MaxKeyLen && t.byLen[len(key)] == 0 {
		return nil
	}
	return t.items[key]
}

// liveLocked returns the live record of key, dropping it when expired.
func (t *memTable) liveLocked(key string, now int64) *memEntry {
	e := t.recordLocked(key)
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
	now := t.nowNano()
	if t.liveLocked(key, now) != nil {
		return false
	}
	exp := now + int64(ttl)
	t.addMemberLocked(set, key, now, exp)
	t.storeLocked(key, value, now, exp, false)
	return true
}

// storeLocked sets key, first sweeping a few expired records and then, if
// the table is still full, evicting.
func (t *memTable) storeLocked(key string, value []byte, now, expires int64, pinned bool) {
	t.sweepLocked(now, sweepPerWrite)
	if e := t.recordLocked(key); e != nil {
		// The entry keeps its place in its queue: one that comes up before
		// the new expiry is queued again then; one that comes up after a
		// shorter one (an ended mark over a session) leaves the record to be
		// refused by reads until it does. Only a change of class (pinned)
		// moves it now.
		e.value = string(value)
		e.expires = expires
		if e.pinned != pinned {
			e.pinned = pinned
			t.reclassLocked(e)
		}
		return
	}
	for len(t.items) >= t.max {
		t.evictLocked(now)
	}
	e := &memEntry{key: key, value: string(value), expires: expires, pinned: pinned}
	if set, ok := t.memberOf[key]; ok {
		// A member that was no record's key becomes this one's.
		e.set = set
		delete(t.memberOf, key)
	}
	e.class = t.classOfLocked(e)
	t.items[key] = e
	if len(key) <= MaxKeyLen {
		t.byLen[len(key)]++
	}
	t.order[e.class].push(e)
}

// classOfLocked is the eviction class e belongs in now.
func (t *memTable) classOfLocked(e *memEntry) uint8 {
	if e.pinned {
		return classPinned
	}
	if e.set != "" {
		return classMember
	}
	return classPlain
}

// reclassLocked queues e in its class when that has changed (it was
// pinned or unpinned, or its key joined or left every set); its entry in
// the queue of its old class is stale from then on.
func (t *memTable) reclassLocked(e *memEntry) {
	c := t.classOfLocked(e)
	if c == e.class {
		return
	}
	t.order[e.class].dropLast(e)
	e.class = c
	t.order[c].push(e)
}

// evictLocked makes room for one record: an expired one goes if there is
// any, and otherwise the soonest-expiring record of the lowest non-empty
// class, telling the eviction hook when its key is a set member.
func (t *memTable) evictLocked(now int64) {
	// Past however many stale entries come first: an expired record goes
	// before any live one.
	for {
		n, more := t.sweepSome(now, 1)
		if n > 0 {
			return
		}
		if !more {
			break
		}
	}
	var e *memEntry
	for c := range t.order {
		if e = t.order[c].popFirst(); e != nil {
			break
		}
	}
	member := e.set != ""
	t.removeLocked(e)
	if member && t.onEvict != nil {
		t.onEvict()
	}
}

func (t *memTable) delete(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.recordLocked(key); e != nil {
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

// sweepLocked drops up to limit expired records from the fronts of the
// classes' queues, the entry that came due first first, and returns how
// many. An entry that came due for a record since renewed is queued again
// at the record's expiry, and a stale one dropped; such steps count
// toward a bound of sweepSteps per removal, so that no write pays for
// many. It stops at the first entry of each class not yet due, so an
// expired record never waits behind a live one of another class.
func (t *memTable) sweepLocked(now int64, limit int) int {
	n, _ := t.sweepSome(now, limit)
	return n
}

// sweepSome is sweepLocked, and reports whether entries that came due are
// left.
func (t *memTable) sweepSome(now int64, limit int) (n int, more bool) {
	for steps := 0; ; steps++ {
		var q *memQueue
		for c := range t.order {
			if o := &t.order[c]; o.due(now) && (q == nil || o.nodes[0].at < q.nodes[0].at) {
				q = o
			}
		}
		if q == nil {
			return n, false
		}
		if n == limit || steps == sweepSteps*limit {
			return n, true
		}
		e := q.pop()
		switch {
		case e == nil: // stale
		case now < e.expires:
			q.push(e) // renewed since it was queued
		default:
			t.removeLocked(e)
			n++
		}
	}
}

// memberCount sweeps every expired record, sweepPerCount at a time with
// the lock let go in between, so that requests wait for one step at most,
// and returns the members of the scope's sets.
func (t *memTable) memberCount() int {
	for {
		t.mu.Lock()
		if _, more := t.sweepSome(t.nowNano(), sweepPerCount); !more {
			defer t.mu.Unlock()
			return t.nMembers
		}
		t.mu.Unlock()
	}
}

// removeLocked removes the record e. Its queue entry stays, stale, until
// it comes up: taking it out now would cost a walk of the heap.
func (t *memTable) removeLocked(e *memEntry) {
	e.class = classGone
	delete(t.items, e.key)
	if len(e.key) <= MaxKeyLen {
		t.byLen[len(e.key)]--
	}
	if set := e.set; set != "" {
		// Its memberships go with it, read from memberOf meanwhile.
		t.memberOf[e.key], e.set = set, ""
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

// firstSetLocked is the first set member is in, and whether it is in
// any, with the record of member, when there is one, which holds it.
func (t *memTable) firstSetLocked(member string) (e *memEntry, set string, ok bool) {
	if e = t.recordLocked(member); e != nil {
		return e, e.set, e.set != ""
	}
	set, ok = t.memberOf[member]
	return nil, set, ok
}

// setFirstLocked makes set ("" for none) the first set of member, whose
// record is e (nil for none).
func (t *memTable) setFirstLocked(e *memEntry, member, set string) {
	switch {
	case e != nil:
		e.set = set
	case set == "":
		delete(t.memberOf, member)
	default:
		t.memberOf[member] = set
	}
}

// joinLocked records that member is in set, which it was not in.
func (t *memTable) joinLocked(set, member string) {
	e, first, ok := t.firstSetLocked(member)
	if !ok {
		t.setFirstLocked(e, member, set)
		if e != nil {
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
	e, first, ok := t.firstSetLocked(member)
	if !ok {
		return
	}
	more := t.memberMore[member]
	switch i := slices.Index(more, set); {
	case first == set && len(more) == 0:
		t.setFirstLocked(e, member, "")
		if e != nil {
			t.reclassLocked(e)
		}
		return
	case first == set:
		t.setFirstLocked(e, member, more[len(more)-1])
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

// memQueue orders the records of one eviction class by expiry, lazily: a
// binary heap of entries, each a record's expiry when it was queued and
// the record. A record has one current
// entry, the last pushed (its gen); an entry whose record has since gone,
// changed class or been queued again is stale and dropped when it comes
// up. An entry whose record was renewed since comes up early and is
// queued again at the record's expiry then; one whose record's expiry was
// shortened comes up late, the record refused by reads meanwhile. Nothing
// but a push or a pop moves entries, so a record's changes cost no walk of
// the heap, and the heap's entries hold what they are ordered by, so its
// walks read no record.
type memQueue struct {
	class uint8 // the eviction class of its records
	nodes []memNode
}

// memNode is one entry of a memQueue: 24 bytes. Its expiry is exact, so
// that a record comes up the moment it expires and a count right after
// counts it out.
type memNode struct {
	at  int64  // the expiry queued, unix nanoseconds
	gen uint32 // the record's gen when queued
	e   *memEntry
}

// push queues e's current expiry as its current entry.
func (q *memQueue) push(e *memEntry) {
	e.gen++
	q.nodes = append(q.nodes, memNode{at: e.expires, gen: e.gen, e: e})
	// Up.
	n := q.nodes
	for i := len(n) - 1; i > 0; {
		p := (i - 1) / 2
		if n[p].at <= n[i].at {
			break
		}
		n[p], n[i] = n[i], n[p]
		i = p
	}
}

// due reports whether the first entry has come up at now.
func (q *memQueue) due(now int64) bool {
	return len(q.nodes) > 0 && q.nodes[0].at <= now
}

// current reports whether nd stands for its record in q.
func (q *memQueue) current(nd *memNode) bool {
	return nd.gen == nd.e.gen && nd.e.class == q.class
}

// pop takes the first entry off and returns its record, or nil when the
// entry was stale.
func (q *memQueue) pop() *memEntry {
	n := q.nodes
	nd := n[0]
	last := len(n) - 1
	n[0] = n[last]
	n[last] = memNode{}
	n = n[:last]
	q.nodes = n
	// Down.
	for i := 0; ; {
		c := 2*i + 1
		if c >= len(n) {
			break
		}
		if r := c + 1; r < len(n) && n[r].at < n[c].at {
			c = r
		}
		if n[i].at <= n[c].at {
			break
		}
		n[i], n[c] = n[c], n[i]
		i = c
	}
	if !q.current(&nd) {
		return nil
	}
	return nd.e
}

// popFirst takes off the entry of the record whose expiry comes first
// among those q stands for, and returns the record, or nil: stale entries
// at the front are dropped, and early ones (their record renewed since)
// queued again, until the front stands for its record at its expiry. (A
// record whose expiry was shortened since it was queued is ordered by the
// expiry queued.) The record is the caller's to remove.
func (q *memQueue) popFirst() *memEntry {
	for len(q.nodes) > 0 {
		nd := &q.nodes[0]
		switch {
		case !q.current(nd):
			q.pop()
		case nd.e.expires > nd.at:
			q.push(q.pop())
		default:
			return q.pop()
		}
	}
	return nil
}

// dropLast takes e's current entry off when it is the last one, where a
// push leaves an entry not due before its parent's: a record that changes
// class right after it is made (a session, created and then filed in its
// user's set) then leaves no stale entry behind.
func (q *memQueue) dropLast(e *memEntry) {
	if n := len(q.nodes); n > 0 && q.nodes[n-1].e == e && q.current(&q.nodes[n-1]) {
		q.nodes[n-1] = memNode{}
		q.nodes = q.nodes[:n-1]
	}
}
