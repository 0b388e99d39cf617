package session

import (
	"bytes"
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

	// sealed is the record as the store returned it: the opened session
	// is reused only for a request whose record is byte for byte the same.
	sealed []byte
	// until is when the memo stops using the entry and may sweep it.
	until time.Time
}

// memo keeps the sessions a Manager opened, by store key, so that the next
// request of the same user skips opening its record (HKDF, AES-GCM and
// JSON, about half of a logged-in request's work in the handler) and the
// HTTP side's Prepare.
//
// It is a memo, not a cache of the store: every request still reads the
// record from the store, and an entry is used only when the store returns
// exactly the bytes it was opened from. Since the store key and the record
// key both follow from the session id, the same key and the same bytes
// open to the same session, so a logout (the record gone) or a new record
// takes effect exactly as without the memo, and the logout bound stays
// what the store and its cache make it. An entry is kept for at most ttl
// (cache_ttl), so the plaintext of an idle user's session does not stay in
// memory longer than the cache would keep its record; ttl 0 keeps none.
type memo struct {
	ttl time.Duration
	max int

	mu        sync.RWMutex
	m         map[string]*Opened
	lastSweep time.Time
}

func newMemo(ttl time.Duration, max int) *memo {
	if ttl <= 0 {
		return nil
	}
	return &memo{ttl: ttl, max: max, m: make(map[string]*Opened)}
}

// get returns the session opened before from the record sealed under key,
// or nil. A nil memo keeps nothing.
func (c *memo) get(key string, sealed []byte, now time.Time) *Opened {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	o := c.m[key]
	c.mu.RUnlock()
	if o == nil || !now.Before(o.until) || !bytes.Equal(o.sealed, sealed) {
		return nil
	}
	return o
}

// put keeps o under key until ttl from now. Once per ttl it sweeps the
// entries past their time; when still full, it drops arbitrary ones (Go
// starts each map walk at a random place).
func (c *memo) put(key string, o *Opened, now time.Time) {
	if c == nil {
		return
	}
	o.until = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.lastSweep) >= c.ttl {
		c.lastSweep = now
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
	}
	for k := range c.m {
		if len(c.m) < c.max {
			break
		}
		delete(c.m, k)
	}
	c.m[key] = o
}

// drop forgets the session under key (logged out, or gone from the store).
func (c *memo) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *memo) len() int {
	if c == nil {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
