package session

import (
	"hash/maphash"
	"sync"
	"time"
)

// maxOpened bounds the sessions a Manager keeps opened in memory.
const maxOpened = 10_000

// Opened is a live session found for a session id, with what the HTTP
// side made ready for its requests once (see Options.Prepare). Everything
// in it is shared by concurrent requests and must not be changed.
type Opened struct {
	// ID is the session id, the session cookie's value.
	ID string
	// Key is the store key the session is filed under.
	Key     string
	Session Session
	// View is what Options.Prepare returned for the session.
	View any
	// IdleUntil is when the idle timeout ends the session if it is not
	// used before: filled only by a Lookup with Peek or Extend, and zero
	// without an idle timeout.
	IdleUntil time.Time

	// sealed is the record as the store returned it: the opened session
	// is reused only for a request whose record is byte for byte the same.
	sealed []byte
	// until is when the memo stops using the entry and may sweep it.
	until time.Time
	// slot is the memo's keyed hash of ID, under which the entry is
	// found by its id.
	slot uint64
}

// memo keeps the sessions a Manager opened, so that the next request of
// the same user skips opening its record (HKDF, AES-GCM and JSON, about
// half of a logged-in request's work in the handler), hashing its id into
// its store key, and the HTTP side's Prepare.
//
// It is a memo, not a cache of the store: every request still asks the
// store, and an entry is used only when the store holds exactly the bytes
// it was opened from (store.Same). Since the store key and the record key
// both follow from the session id, the same id and the same bytes open to
// the same session, so a logout (the record gone) or a new record takes
// effect exactly as without the memo, and the logout bound stays what the
// store and its cache make it. An entry is kept for at most ttl
// (cache_ttl), so the plaintext of an idle user's session does not stay in
// memory longer than the cache would keep its record; ttl 0 keeps none.
//
// Entries are found by session id on a request (byID) and by store key
// when a session ends (byKey, since a revocation knows only the keys). A
// request's id, which anyone may make up, is looked up by a hash keyed with
// a random seed and then compared in constant time, so a guess reaches a
// comparison with a live id only on a collision of that keyed hash. Every
// entry is in both maps or in neither.
type memo struct {
	ttl  time.Duration
	max  int
	seed maphash.Seed

	mu        sync.RWMutex
	byKey     map[string]*Opened
	byID      map[uint64]*Opened
	lastSweep time.Time
}

func newMemo(ttl time.Duration, max int) *memo {
	if ttl <= 0 {
		return nil
	}
	return &memo{
		ttl:   ttl,
		max:   max,
		seed:  maphash.MakeSeed(),
		byKey: make(map[string]*Opened),
		byID:  make(map[uint64]*Opened),
	}
}

// get returns the session opened before for id while its time lasts, or
// nil. The caller still has to check that the store holds the record it
// was opened from. A nil memo keeps nothing.
func (c *memo) get(id string, now time.Time) *Opened {
	if c == nil {
		return nil
	}
	slot := maphash.String(c.seed, id)
	c.mu.RLock()
	o := c.byID[slot]
	c.mu.RUnlock()
	if o == nil || !now.Before(o.until) || !sameID(o.ID, id) {
		return nil
	}
	return o
}

// sameID compares two ids in time that depends on their length only.
func sameID(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var diff byte
	for i := 0; i < len(a); i++ {
		diff |= a[i] ^ b[i]
	}
	return diff == 0
}

// put keeps o, found by its ID and its Key, until ttl from now, in place
// of any entry of the same id or key. Once per ttl it sweeps the entries
// past their time; when still full, it drops arbitrary ones (Go starts
// each map walk at a random place).
func (c *memo) put(o *Opened, now time.Time) {
	if c == nil {
		return
	}
	o.until = now.Add(c.ttl)
	o.slot = maphash.String(c.seed, o.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastSweep) >= c.ttl {
		c.lastSweep = now
		for _, e := range c.byKey {
			if !now.Before(e.until) {
				c.removeLocked(e)
			}
		}
	}
	c.removeLocked(c.byKey[o.Key])
	c.removeLocked(c.byID[o.slot])
	for _, e := range c.byKey {
		if len(c.byKey) < c.max {
			break
		}
		c.removeLocked(e)
	}
	c.byKey[o.Key] = o
	c.byID[o.slot] = o
}

// removeLocked takes e, when not nil, out of both maps.
func (c *memo) removeLocked(e *Opened) {
	if e == nil {
		return
	}
	if c.byKey[e.Key] == e {
		delete(c.byKey, e.Key)
	}
	if c.byID[e.slot] == e {
		delete(c.byID, e.slot)
	}
}

// drop forgets the session under key (logged out, or gone from the store).
func (c *memo) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.removeLocked(c.byKey[key])
	c.mu.Unlock()
}

func (c *memo) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byKey)
}
