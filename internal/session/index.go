package session

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// The session index: one store set per user, holding the store keys of the
// user's sessions, so that the admin API can end every session of a user
// on every instance that shares the store.
//
// A set is named HMAC-SHA256(index key, sub), never the sub: whoever reads
// the store learns neither who has sessions nor, without the index key,
// whether a given sub has any. With a secret (sealing_key) the index key
// is derived from it and never stored. Without one it is created once at
// random in the store by the first instance that needs it, so instances
// sharing the store share it. The members are session store keys, which
// are one-way hashes of the session ids.

// indexKeyTTL is how long the stored index key lives. It must outlive
// every session, and changing it would orphan every set, so it is set
// far out of reach.
const indexKeyTTL = 100 * 365 * 24 * time.Hour

// indexKeyName is the store key of the stored index key.
const indexKeyName = "indexkey"

// ErrIndexKeyLost is returned when the stored index key is gone while
// index sets remain (a Redis eviction or FLUSH of that key, a failover to
// an empty replica): a new key would name every user's set anew, and
// revocation would silently miss the sessions filed under the old one.
// Ending every session (the admin API's DELETE with confirm=all-sessions)
// removes the old sets, after which a new key is made.
var ErrIndexKeyLost = errors.New("the session index key is missing from the store while index sets remain; revocation would miss sessions, so no new key is made (end all sessions through the admin API to start a new index, and keep the store from evicting keys)")

type index struct {
	store  store.Store
	secret []byte

	mu  sync.Mutex
	key []byte
	// handleKey and infoKey are derived from key, for a user's list of
	// their sessions (see list.go).
	handleKey, infoKey []byte
}

// loadKey returns the index key, from memory, derived from the secret, or
// else from the store, which creates it when no instance has yet.
func (x *index) loadKey(ctx context.Context) ([]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.key != nil {
		return x.key, nil
	}
	if x.secret != nil {
		key, err := hkdf.Key(sha256.New, x.secret, nil, "sgid session index key", 32)
		if err != nil {
			return nil, err
		}
		if err := x.keep(key); err != nil {
			return nil, err
		}
		return key, nil
	}
	// Read first: a key made before is the common case, and only a key
	// this call would create needs the check below.
	key, err := x.store.Get(ctx, indexKeyName)
	if errors.Is(err, store.ErrNotFound) {
		key, err = x.create(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("loading the session index key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("loading the session index key: stored key has %d bytes, want 32", len(key))
	}
	if err := x.keep(key); err != nil {
		return nil, err
	}
	return key, nil
}

// keep keeps key as the index key, with the keys derived from it. The
// caller holds x.mu.
func (x *index) keep(key []byte) error {
	handleKey, err := hkdf.Key(sha256.New, key, nil, "sgid session handle key", 32)
	if err != nil {
		return err
	}
	infoKey, err := hkdf.Key(sha256.New, key, nil, "sgid session info key", 32)
	if err != nil {
		return err
	}
	x.key, x.handleKey, x.infoKey = key, handleKey, infoKey
	return nil
}

// create makes the index key when there is none and no set remains that an
// earlier key named.
func (x *index) create(ctx context.Context) ([]byte, error) {
	sets, err := x.store.Sets(ctx)
	if err != nil {
		return nil, err
	}
	for _, set := range sets {
		members, err := x.store.Members(ctx, set)
		if err != nil {
			return nil, err
		}
		if len(members) > 0 {
			return nil, ErrIndexKeyLost
		}
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	return x.store.PutIfAbsent(ctx, indexKeyName, fresh, indexKeyTTL)
}

// set is the name of sub's set.
func (x *index) set(ctx context.Context, sub string) (string, error) {
	key, err := x.loadKey(ctx)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sub))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}
