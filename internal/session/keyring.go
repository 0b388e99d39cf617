package session

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// keyStore is the part of a session store the keyring needs: a value that
// the first instance to ask creates and every other instance then reads.
type keyStore interface {
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error)
}

// errUnknownKey is returned for a sealed value whose key epoch is not
// accepted now: too old (rotated out) or too far in the future.
var errUnknownKey = errors.New("sealing key not accepted")

// keyring hands out the AES-256-GCM keys that seal pending-login cookies.
//
// Time is cut into epochs of one rotation period each, and every epoch has
// its own key. The first instance that needs an epoch's key generates it
// and puts it in the shared store; every other instance that shares the
// store reads the same key, so instances agree with no configuration and no
// lock. A sealed value names its epoch, and is accepted while its epoch is
// the current one, for grace (the login timeout) into the next epoch, and
// one epoch early, for instances whose clocks run a little ahead.
//
// With a configured secret, the epoch keys are derived from it with HKDF
// and the store is not used.
type keyring struct {
	store    keyStore
	secret   []byte
	rotation time.Duration
	grace    time.Duration
	now      func() time.Time

	mu   sync.Mutex
	aead map[uint64]cipher.AEAD
}

func newKeyring(store keyStore, secret []byte, rotation, grace time.Duration) *keyring {
	return &keyring{
		store:    store,
		secret:   secret,
		rotation: rotation,
		grace:    grace,
		now:      time.Now,
		aead:     make(map[uint64]cipher.AEAD),
	}
}

// epoch is the number of the rotation period t falls in.
func (k *keyring) epoch(t time.Time) uint64 {
	return uint64(t.UnixNano() / int64(k.rotation))
}

// current returns the epoch to seal with now and its key.
func (k *keyring) current(ctx context.Context) (uint64, cipher.AEAD, error) {
	e := k.epoch(k.now())
	a, err := k.key(ctx, e)
	return e, a, err
}

// forOpening returns the key of epoch e when a value sealed in e is still
// accepted, and errUnknownKey otherwise.
func (k *keyring) forOpening(ctx context.Context, e uint64) (cipher.AEAD, error) {
	t := k.now()
	cur := k.epoch(t)
	switch {
	case e == cur, e == cur+1:
	case e+1 == cur && t.Sub(time.Unix(0, int64(cur)*int64(k.rotation))) < k.grace:
	default:
		return nil, errUnknownKey
	}
	return k.key(ctx, e)
}

// key returns epoch e's key, from the cache or else from the store (which
// creates it when no instance has yet).
func (k *keyring) key(ctx context.Context, e uint64) (cipher.AEAD, error) {
	k.mu.Lock()
	a, ok := k.aead[e]
	k.mu.Unlock()
	if ok {
		return a, nil
	}
	raw, err := k.material(ctx, e)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	if a, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Keep the cache to the few epochs still in use.
	for old := range k.aead {
		if old+2 < e {
			delete(k.aead, old)
		}
	}
	k.aead[e] = a
	return a, nil
}

func (k *keyring) material(ctx context.Context, e uint64) ([]byte, error) {
	if k.secret != nil {
		return hkdf.Key(sha256.New, k.secret, nil, "sgid pending-login key "+strconv.FormatUint(e, 10), 32)
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	// Long enough for every value sealed in the epoch to be opened.
	ttl := 2*k.rotation + k.grace + time.Hour
	raw, err := k.store.PutIfAbsent(ctx, "sealkey-"+strconv.FormatUint(e, 10), fresh, ttl)
	if err != nil {
		return nil, fmt.Errorf("loading the sealing key: %w", err)
	}
	if len(raw) != 32 {
		return nil, fmt.Errorf("loading the sealing key: stored key has %d bytes, want 32", len(raw))
	}
	return raw, nil
}
