package caddysgid

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
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
// whether a given sub has any. The index key lives where the sealing keys
// live: created once at random in the store by the first instance that
// needs it (so instances sharing the store share it), or derived with HKDF
// from sealing_key when that is set. The members are session store keys,
// which are one-way hashes of the session ids.

// indexKeyTTL is how long the stored index key lives. It must outlive
// every session, and changing it would orphan every set, so it is set
// far out of reach.
const indexKeyTTL = 100 * 365 * 24 * time.Hour

type sessionIndex struct {
	store  keyStore
	secret []byte

	mu  sync.Mutex
	key []byte
}

func newSessionIndex(st keyStore, secret []byte) *sessionIndex {
	return &sessionIndex{store: st, secret: secret}
}

// loadKey returns the index key, from memory or else from the store (which
// creates it when no instance has yet) or sealing_key.
func (x *sessionIndex) loadKey(ctx context.Context) ([]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.key != nil {
		return x.key, nil
	}
	var key []byte
	var err error
	if x.secret != nil {
		key, err = hkdf.Key(sha256.New, x.secret, nil, "sgid session index key", 32)
	} else {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		key, err = x.store.PutIfAbsent(ctx, "indexkey", fresh, indexKeyTTL)
		if err == nil && len(key) != 32 {
			err = fmt.Errorf("stored index key has %d bytes, want 32", len(key))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading the session index key: %w", err)
	}
	x.key = key
	return key, nil
}

// set is the name of sub's set.
func (x *sessionIndex) set(ctx context.Context, sub string) (string, error) {
	key, err := x.loadKey(ctx)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(sub))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// indexSession files the session under key in sub's set for ttl, the
// session's lifetime.
func (h *Handler) indexSession(ctx context.Context, sub, key string, ttl time.Duration) error {
	set, err := h.index.set(ctx, sub)
	if err != nil {
		return err
	}
	return h.store.AddMember(ctx, set, key, ttl)
}

// revokeSet ends every session in set and removes the set; it returns how
// many sessions the set held. Each deletion also goes through the stores
// of the other live handlers of this scope in this process (an old config
// during a reload, another site with the same client), so that none of
// their caches keeps serving an ended session.
func (h *Handler) revokeSet(ctx context.Context, set string, peers []*Handler) (int, error) {
	members, err := h.rawStore.Members(ctx, set)
	if err != nil {
		return 0, err
	}
	for _, key := range members {
		if err := h.endSession(ctx, h.store, key, "", false); err != nil {
			return 0, err
		}
		for _, p := range peers {
			_ = p.store.Delete(ctx, key)
			_ = p.store.Delete(ctx, seenKey(key))
		}
	}
	return len(members), h.rawStore.DeleteSet(ctx, set)
}

// revokeSub ends every session of sub in this handler's scope.
func (h *Handler) revokeSub(ctx context.Context, sub string, peers []*Handler) (int, error) {
	set, err := h.index.set(ctx, sub)
	if err != nil {
		return 0, err
	}
	return h.revokeSet(ctx, set, peers)
}

// revokeAll ends every session of this handler's scope.
func (h *Handler) revokeAll(ctx context.Context, peers []*Handler) (int, error) {
	sets, err := h.rawStore.Sets(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, set := range sets {
		n, err := h.revokeSet(ctx, set, peers)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sessionCounter is a store that counts its sessions exactly and cheaply
// (memory).
type sessionCounter interface{ MemberCount() int }

// evictionReporter is a store that drops sessions to stay within a bound
// and says so (memory).
type evictionReporter interface{ OnEvict(func()) }

// countSessions returns the sessions of this handler's scope: exact from a
// store that counts its index entries (memory, where an entry leaves with
// its session), else the live entries of the index, read
// set by set (a listing or SCAN of the store: an administrative call).
func (h *Handler) countSessions(ctx context.Context) (n int, exact bool, err error) {
	if c, ok := h.rawStore.(sessionCounter); ok {
		return c.MemberCount(), true, nil
	}
	sets, err := h.rawStore.Sets(ctx)
	if err != nil {
		return 0, false, err
	}
	for _, set := range sets {
		members, err := h.rawStore.Members(ctx, set)
		if err != nil {
			return 0, false, err
		}
		n += len(members)
	}
	return n, false, nil
}

var _ keyStore = (store.Store)(nil)
