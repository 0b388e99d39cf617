// Package store holds the session stores of the sgid handler: the Store
// and Backend interfaces, three backends as Caddy guest modules in the
// namespace sgid.stores (memory, storage, redis) and Cached,
// an in-process read cache in front of a shared store.
//
// Backends keep opaque, already sealed bytes under already hashed keys:
// they never see a cookie value, a subject or personal data, so nothing
// they write or log can reveal one.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNotFound is returned for a key that is unknown or whose record has
// expired. Callers tell it apart from other errors (an unreachable store),
// which must not be read as "logged out".
var ErrNotFound = errors.New("store: not found")

// ErrInvalidKey is returned for a key or scope that is not an unpadded
// base64url string of 1 to MaxKeyLen characters. Keys become path
// segments in the storage backend and parts of Redis keys, so anything
// else (a slash, "..", an empty string) is refused rather than escaped.
var ErrInvalidKey = errors.New("store: key must be 1 to 128 unpadded base64url characters")

// ErrInvalidTTL is returned by Put, Create and PutIfAbsent for a ttl that
// is not positive: every record expires.
var ErrInvalidTTL = errors.New("store: ttl must be positive")

// MaxKeyLen is the longest key or scope accepted. It keeps a storage path
// segment well under the 255-byte file name limit of common file systems.
const MaxKeyLen = 128

// Store is one handler's view of a backend: its records live under its
// scope and never mix with another scope's. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the value stored under key, or ErrNotFound when there is
	// none or it has expired. The returned slice is the caller's.
	Get(ctx context.Context, key string) ([]byte, error)
	// Put stores value under key for ttl (> 0), replacing any earlier
	// value. The store keeps its own copy of value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// PutIfAbsent stores value under key for ttl (> 0) unless a live value
	// exists, and returns the value stored now: the existing one or value.
	// It is for creating shared key material exactly once across
	// instances, so concurrent callers, in one process or several, all get
	// the same answer.
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error)
	// Create stores value under key for ttl (> 0) only if no live value
	// exists, and reports whether this call stored it. Of concurrent
	// callers, in one process or several sharing the backend, exactly one
	// creates a missing key, so creating a record can stand as a
	// single-use claim (a login finished once). Unlike PutIfAbsent's, the
	// record is an ordinary one, bounded and evicted like Put's, and a
	// caller that did not create it learns nothing of its value.
	Create(ctx context.Context, key string, value []byte, ttl time.Duration) (created bool, err error)

	// Sets are named groups of keys (members) kept apart from the records:
	// a set name and a record key never collide. The handler keeps one set
	// per user, holding the keys of the user's sessions, so that it can end
	// them all. Set names and members are keys (see ErrInvalidKey).

	// AddMember adds member to set for ttl (> 0); adding a present member
	// again gives it the new ttl. Adds to one set from several callers, in
	// one process or several, all stay: none overwrites another.
	AddMember(ctx context.Context, set, member string, ttl time.Duration) error
	// RemoveMember removes member from set. Removing a missing member is
	// not an error.
	RemoveMember(ctx context.Context, set, member string) error
	// Members returns the live members of set, in no particular order, and
	// none for an unknown set.
	Members(ctx context.Context, set string) ([]string, error)
	// DeleteSet removes set and all its members.
	DeleteSet(ctx context.Context, set string) error
	// Sets returns the names of the scope's sets. It may name a set whose
	// members have all expired. It reads every set name (a directory
	// listing, a Redis SCAN), so it is for rare administrative calls, not
	// for requests.
	Sets(ctx context.Context) ([]string, error)

	// Close releases what the store holds for its scope (a reference in a
	// pool, a sweeper). It is safe to call more than once. The records
	// stay in the backend.
	Close() error
}

// Comparer is a Store that can tell whether the value under a key is a
// given one without handing out a copy of it. The handler asks it on every
// request whose session it opened before: only a record that is byte for
// byte the one it opened may reuse that opening, and a copy per request
// would be made only to be compared and thrown away.
type Comparer interface {
	// Same reports whether the live value under key is exactly value. It
	// reads what Get would read (a cache answers from its copy, as its Get
	// does) and fails as Get does: ErrNotFound when there is no live
	// value, ErrInvalidKey for a malformed key. It neither keeps nor
	// changes value.
	Same(ctx context.Context, key string, value []byte) (bool, error)
}

// Same reports whether the live value under key in s is exactly value,
// with the errors of Get: through s's own Same when s is a Comparer, and
// otherwise by comparing what Get returns.
func Same(ctx context.Context, s Store, key string, value []byte) (bool, error) {
	if c, ok := s.(Comparer); ok {
		return c.Same(ctx, key, value)
	}
	got, err := s.Get(ctx, key)
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, value), nil
}

// SetCreator is a Store that creates a record and files its key in a set
// in one call: what a login does (its session's record, whose creation is
// the login's claim, and the entry of the session in its user's index),
// for a backend that can do the two at less cost together than apart.
type SetCreator interface {
	// CreateInSet is Create(key, value, ttl) and then, when that created
	// the record, AddMember(set, key, ttl), with their guarantees. created
	// is whether the record was created: with an error, a created record
	// may be missing from set, and the caller deletes it.
	CreateInSet(ctx context.Context, key string, value []byte, ttl time.Duration, set string) (created bool, err error)
}

// CreateInSet creates the record of key in s as Create does and, when it
// created it, files key in set for ttl as AddMember does: through s's own
// CreateInSet when s is a SetCreator, otherwise by the two calls. With an
// error, created says whether the record was created (and may be missing
// from set); without one, a created record is in set.
func CreateInSet(ctx context.Context, s Store, key string, value []byte, ttl time.Duration, set string) (created bool, err error) {
	if err := checkCreateInSet(key, ttl, set); err != nil {
		return false, err
	}
	if c, ok := s.(SetCreator); ok {
		return c.CreateInSet(ctx, key, value, ttl, set)
	}
	return createThenAdd(ctx, s, key, value, ttl, set)
}

// checkCreateInSet checks CreateInSet's arguments before any write, so
// that a bad set name never leaves a record behind.
func checkCreateInSet(key string, ttl time.Duration, set string) error {
	if err := checkPut(key, ttl); err != nil {
		return err
	}
	return checkKey(set)
}

// createThenAdd is CreateInSet as two calls, Create and then AddMember.
func createThenAdd(ctx context.Context, s Store, key string, value []byte, ttl time.Duration, set string) (bool, error) {
	created, err := s.Create(ctx, key, value, ttl)
	if err != nil || !created {
		return false, err
	}
	return true, s.AddMember(ctx, set, key, ttl)
}

// Backend is the guest module the handler loads from its "store" field
// (namespace sgid.stores, JSON inline key "module").
type Backend interface {
	// Open returns the store of one scope, a hash naming a handler's site
	// (issuer, client id and cookie name). Records of different scopes
	// never mix; a reloaded config, or another instance sharing the
	// backend, that opens the same scope sees the same records.
	Open(scope string) (Store, error)
}

// checkKey refuses anything but unpadded base64url of 1 to MaxKeyLen
// characters (see ErrInvalidKey).
func checkKey(key string) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return ErrInvalidKey
	}
	for i := 0; i < len(key); i++ {
		if !keyChar[key[i]] {
			return ErrInvalidKey
		}
	}
	return nil
}

// keyChar marks the bytes a key may hold. Every store call checks its key,
// a logged-in request at least once, so the check is one table load per
// byte rather than a chain of comparisons.
var keyChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	return t
}()

// checkPut validates the arguments every Put, Create and PutIfAbsent
// takes.
func checkPut(key string, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if ttl <= 0 {
		return ErrInvalidTTL
	}
	return nil
}

// checkMember validates the arguments of AddMember and RemoveMember.
func checkMember(set, member string) error {
	if err := checkKey(set); err != nil {
		return err
	}
	return checkKey(member)
}

// checkScope validates a scope passed to Open; it has the same form as a
// key because it becomes a path segment and part of Redis keys too.
func checkScope(scope string) error {
	if err := checkKey(scope); err != nil {
		return fmt.Errorf("store: invalid scope: %w", err)
	}
	return nil
}

// clone copies b so that neither the caller nor the store can change the
// other's bytes; it keeps an empty value non-nil.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// openStores is what a backend module opened, so that its Cleanup can
// close what the handler left open: an old config's handles must not keep
// a pooled table alive or a sweeper running.
type openStores struct {
	mu     sync.Mutex
	stores []Store
}

func (o *openStores) add(s Store) {
	o.mu.Lock()
	o.stores = append(o.stores, s)
	o.mu.Unlock()
}

func (o *openStores) closeAll() {
	o.mu.Lock()
	stores := o.stores
	o.stores = nil
	o.mu.Unlock()
	for _, s := range stores {
		_ = s.Close()
	}
}
