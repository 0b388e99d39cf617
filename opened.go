package caddysgid

import (
	"bytes"
	"sync"
	"time"
)

// maxOpenedSessions bounds the sessions a handler keeps opened in memory.
const maxOpenedSessions = 10_000

// openedSession is a session record this handler has opened, with what
// every request of its user needs made ready once: the placeholder names
// and values setIdentity sets and the guard's encoded identity header
// values. Everything in it is shared by concurrent requests and must not
// be changed once it is built.
type openedSession struct {
	// sealed is the record as the store returned it: the opened session
	// is reused only for a request whose record is byte for byte the same.
	sealed []byte
	s      session
	// placeholders are set in order, the sub last (see setIdentity).
	placeholders []placeholder
	// headers are the encoded values of the guard's identity headers, in
	// the order of Guard.headers; "" where the user has no value.
	headers []string
	// userinfo is the body of /api/userinfo for this session, encoded once.
	userinfo []byte
	// until is when the entry stops being used and may be swept.
	until time.Time
}

type placeholder struct {
	name  string
	value any
}

// newOpenedSession makes ready what requests of session s need.
func newOpenedSession(sealed []byte, s session, g *Guard) *openedSession {
	o := &openedSession{sealed: sealed, s: s, placeholders: identityPlaceholders(s), userinfo: userinfoJSON(s)}
	if len(g.headers) > 0 {
		o.headers = make([]string, len(g.headers))
		for i, ih := range g.headers {
			if v, ok := userField(s, ih.field); ok && v != "" {
				o.headers[i] = encodeIdentityValue(v)
			}
		}
	}
	return o
}

// openedSessions keeps the sessions a handler opened, by store key, so that
// the next request of the same user skips openSession (HKDF, AES-GCM and
// JSON, about half of a logged-in request's work in the handler).
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
type openedSessions struct {
	ttl time.Duration
	max int

	mu        sync.RWMutex
	m         map[string]*openedSession
	lastSweep time.Time
}

func newOpenedSessions(ttl time.Duration, max int) *openedSessions {
	if ttl <= 0 {
		return nil
	}
	return &openedSessions{ttl: ttl, max: max, m: make(map[string]*openedSession)}
}

// get returns the session opened before from the record sealed under key,
// or nil. A nil memo keeps nothing.
func (c *openedSessions) get(key string, sealed []byte, now time.Time) *openedSession {
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
func (c *openedSessions) put(key string, o *openedSession, now time.Time) {
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
func (c *openedSessions) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *openedSessions) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
