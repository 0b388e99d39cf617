package store

import (
	"bytes"
	"container/list"
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultCacheEntries is the bound of a Cached store when max is not
// positive.
const DefaultCacheEntries = 10_000

// Cached puts an in-process read cache in front of s, a store shared by
// several instances, so that reading a session costs a map lookup instead
// of a round trip.
//
// A value read from s is served from memory for at most ttl; that is the
// logout bound: a Delete (logout) made on another instance is seen here
// within ttl. A Put or Delete made through this Cached store updates or
// drops the cached value at once, so a logout is seen at once on the
// instance that handled it. Misses and errors are never cached: a login
// made on another instance is seen at once, and an outage of s is reported
// on every call. At most max values are cached (DefaultCacheEntries when
// max <= 0); when full, the one cached first is dropped.
//
// A value read (rather than written) here may outlive its record's expiry
// in s by up to ttl, since Get does not learn the expiry; callers that
// need an exact end keep it inside the sealed value.
//
// With ttl <= 0, Cached returns s itself.
func Cached(s Store, ttl time.Duration, max int) Store {
	if ttl <= 0 {
		return s
	}
	if max <= 0 {
		max = DefaultCacheEntries
	}
	return &cached{
		next:  s,
		ttl:   ttl,
		max:   max,
		now:   time.Now,
		seed:  maphash.MakeSeed(),
		items: make(map[string]*list.Element),
		order: list.New(),
	}
}

// cacheShards is the number of write counters a read checks (see
// cached.gens).
const cacheShards = 64

type cached struct {
	next Store
	ttl  time.Duration
	max  int
	now  func() time.Time
	seed maphash.Seed

	mu    sync.Mutex
	items map[string]*list.Element // of *cacheEntry
	order *list.List               // oldest first
	// gens counts writes (Put, Delete) per shard of keys. A read from next
	// is cached only if no write to its shard happened while it was in
	// flight; otherwise a Get racing a logout on this instance could put
	// the logged-out session back into the cache.
	gens [cacheShards]uint64
}

type cacheEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func (c *cached) shard(key string) int {
	return int(maphash.String(c.seed, key) % cacheShards)
}

func (c *cached) Get(ctx context.Context, key string) ([]byte, error) {
	sh := c.shard(key)
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		if c.now().Before(e.expires) {
			v := clone(e.value)
			c.mu.Unlock()
			return v, nil
		}
		c.removeLocked(el)
	}
	gen := c.gens[sh]
	c.mu.Unlock()

	v, err := c.next.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gens[sh] == gen {
		c.storeLocked(key, v, c.now().Add(c.ttl))
	}
	c.mu.Unlock()
	return v, nil
}

// Same compares the cached copy in place while it is fresh, as Get would
// serve it; otherwise it reads (and caches) the record as Get does.
func (c *cached) Same(ctx context.Context, key string, value []byte) (bool, error) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		if c.now().Before(e.expires) {
			same := bytes.Equal(e.value, value)
			c.mu.Unlock()
			return same, nil
		}
		c.removeLocked(el)
	}
	c.mu.Unlock()
	v, err := c.Get(ctx, key)
	if err != nil {
		return false, err
	}
	return bytes.Equal(v, value), nil
}

func (c *cached) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := c.next.Put(ctx, key, value, ttl)
	sh := c.shard(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[sh]++
	if err != nil {
		// The record in next is unknown now; the next Get asks it.
		c.dropLocked(key)
		return err
	}
	c.storeLocked(key, value, c.now().Add(min(ttl, c.ttl)))
	return nil
}

func (c *cached) Delete(ctx context.Context, key string) error {
	sh := c.shard(key)
	// Drop first, so that reads during the delete ask next.
	c.mu.Lock()
	c.gens[sh]++
	c.dropLocked(key)
	c.mu.Unlock()
	err := c.next.Delete(ctx, key)
	// Bump and drop again: a Get that read the record before it was
	// deleted cannot cache it now, and one that cached it already loses it.
	c.mu.Lock()
	c.gens[sh]++
	c.dropLocked(key)
	c.mu.Unlock()
	return err
}

func (c *cached) PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	sh := c.shard(key)
	c.mu.Lock()
	gen := c.gens[sh]
	c.mu.Unlock()
	v, err := c.next.PutIfAbsent(ctx, key, value, ttl)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gens[sh] == gen {
		c.storeLocked(key, v, c.now().Add(min(ttl, c.ttl)))
	}
	c.mu.Unlock()
	return v, nil
}

// Create goes to the store behind, which alone can tell whether another
// instance created the key. A created value is cached like a Put's; when
// the key existed, any cached copy is dropped, since the record there may
// be newer than it.
func (c *cached) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	created, err := c.next.Create(ctx, key, value, ttl)
	return c.afterCreate(key, value, ttl, created, err)
}

// CreateInSet goes to the store behind as Create does, through its own
// CreateInSet when it has one, and caches as Create does.
func (c *cached) CreateInSet(ctx context.Context, key string, value []byte, ttl time.Duration, set string) (bool, error) {
	created, err := CreateInSet(ctx, c.next, key, value, ttl, set)
	return c.afterCreate(key, value, ttl, created, err)
}

// afterCreate caches a created value, and drops any cached copy of a key
// that was not created or whose creation failed.
func (c *cached) afterCreate(key string, value []byte, ttl time.Duration, created bool, err error) (bool, error) {
	sh := c.shard(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[sh]++
	if err != nil || !created {
		c.dropLocked(key)
		return created, err
	}
	c.storeLocked(key, value, c.now().Add(min(ttl, c.ttl)))
	return true, nil
}

// The set methods go straight to the store behind: sets are read only by
// administrative calls, which must see what the other instances wrote.

func (c *cached) AddMember(ctx context.Context, set, member string, ttl time.Duration) error {
	return c.next.AddMember(ctx, set, member, ttl)
}

func (c *cached) RemoveMember(ctx context.Context, set, member string) error {
	return c.next.RemoveMember(ctx, set, member)
}

func (c *cached) Members(ctx context.Context, set string) ([]string, error) {
	return c.next.Members(ctx, set)
}

func (c *cached) DeleteSet(ctx context.Context, set string) error {
	return c.next.DeleteSet(ctx, set)
}

func (c *cached) Sets(ctx context.Context) ([]string, error) {
	return c.next.Sets(ctx)
}

// Close closes the store behind the cache.
func (c *cached) Close() error {
	c.mu.Lock()
	c.items = make(map[string]*list.Element)
	c.order.Init()
	c.mu.Unlock()
	return c.next.Close()
}

// storeLocked caches a copy of value until expires, dropping the oldest
// entries while the cache is full.
func (c *cached) storeLocked(key string, value []byte, expires time.Time) {
	c.dropLocked(key)
	for len(c.items) >= c.max {
		c.removeLocked(c.order.Front())
	}
	c.items[key] = c.order.PushBack(&cacheEntry{key: key, value: clone(value), expires: expires})
}

func (c *cached) dropLocked(key string) {
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
}

func (c *cached) removeLocked(el *list.Element) {
	delete(c.items, el.Value.(*cacheEntry).key)
	c.order.Remove(el)
}

func (c *cached) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// Interface guards
var (
	_ Store      = (*cached)(nil)
	_ Comparer   = (*cached)(nil)
	_ SetCreator = (*cached)(nil)
)
