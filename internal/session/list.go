package session

import (
	"bytes"
	"cmp"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/device"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// A user's own sessions: List shows them to the user, each under a handle,
// and Revoke with OneSession ends the one a handle names.
//
// The handle of the session filed under store key k is
// HMAC-SHA256(handle key, k) cut to 128 bits, with the handle key derived
// (HKDF) from the index key. So it is the same on every instance sharing
// the store and for the whole life of the session, it is not the cookie's
// id nor the store key, and it leads to neither: the store key is a
// one-way hash of the id, and the handle a keyed hash of the store key. A
// handle is only ever looked for among the members of the caller's own
// index set, so a handle of another user's session names nothing, and
// knowing one gains nothing.
//
// The info. Listing a user's other sessions cannot open their records,
// which only their ids open. So each record carries, ahead of the sealed
// session (see frame), its listing info: the login time to the minute and
// the device label, sealed with AES-256-GCM under a key of its user,
// HMAC-SHA256(info key, sub), with the info key derived from the index key
// too, and bound to the record's store key. Whoever can open it knows the
// index key and the sub, and so could find the user's set already; with a
// sealing_key the index key is never stored. The label is one of a few
// fixed names (internal/device), nothing the browser sent.

// handleBytes is how much of the MAC a handle keeps: 128 bits, 22
// characters of base64url.
const handleBytes = 16

// handleLen is the length of a handle.
const handleLen = 22

// maxDevice bounds a stored label. internal/device's are far shorter; a
// longer one is stored as device.Unknown.
const maxDevice = 64

// MaxListed bounds the sessions List reads: each costs a store read or two,
// and a user has as many sessions as logins.
const MaxListed = 100

// Entry is one of a user's sessions as List shows it to the user.
type Entry struct {
	// Handle names the session for OneSession.
	Handle string
	// Created is the login, to the minute; zero for another session
	// made before records carried their listing info.
	Created time.Time
	// LastSeen is its last recorded use, to the minute: recorded under
	// an idle timeout, at most once a minute per instance. Without one
	// it is Created.
	LastSeen time.Time
	// Device is the coarse label of the browser it was started from
	// (internal/device), or device.Unknown.
	Device string
	// Current is set for the session List was asked with.
	Current bool
}

// List returns the live sessions of the user of o, o's own first, then the
// most recently used first, as the store (not its cache) holds them on
// every instance. It reads at most MaxListed of them (o's always) and
// reports more when it left some out. A session found idle too long is
// left out, not ended.
func (m *Manager) List(ctx context.Context, o *Opened) (entries []Entry, more bool, err error) {
	set, err := m.index.set(ctx, o.Session.Sub)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return nil, false, err
	}
	handleKey, infoKey, err := m.index.keys(ctx)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return nil, false, err
	}
	aead, err := userAEAD(infoKey, o.Session.Sub)
	if err != nil {
		return nil, false, err
	}
	members, err := m.raw.Members(ctx, set)
	if err != nil {
		m.storeFailed(ctx, "index", err)
		return nil, false, err
	}
	// o's own first, so that a list cut at MaxListed still shows it.
	if i := slices.Index(members, o.Key); i > 0 {
		members[0], members[i] = members[i], members[0]
	}
	if len(members) > MaxListed {
		members, more = members[:MaxListed], true
	}
	now := m.now()
	for _, key := range members {
		e, ok, err := m.entry(ctx, key, o, now, aead, handleKey)
		if err != nil {
			return nil, false, err
		}
		if ok {
			entries = append(entries, e)
		}
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		switch {
		case a.Current != b.Current:
			if a.Current {
				return -1
			}
			return 1
		case !a.LastSeen.Equal(b.LastSeen):
			return b.LastSeen.Compare(a.LastSeen)
		case !a.Created.Equal(b.Created):
			return b.Created.Compare(a.Created)
		}
		return cmp.Compare(a.Handle, b.Handle)
	})
	return entries, more, nil
}

// entry is the Entry of the session filed under key, a member of the set
// of the user of o, whose info aead opens; false when it is no longer live.
func (m *Manager) entry(ctx context.Context, key string, o *Opened, now time.Time, aead cipher.AEAD, handleKey []byte) (Entry, bool, error) {
	rec, err := m.raw.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return Entry{}, false, nil
	}
	if err != nil {
		m.storeFailed(ctx, "get", err)
		return Entry{}, false, err
	}
	if bytes.Equal(rec, ended) {
		return Entry{}, false, nil
	}
	e := Entry{Handle: handleOf(handleKey, key), Device: device.Unknown, Current: key == o.Key}
	if info, _, ok := split(rec); ok {
		if login, label, err := openInfo(aead, key, info); err == nil {
			e.Created, e.Device = login, label
		}
	}
	if e.Created.IsZero() && e.Current {
		e.Created = o.Session.Login
	}
	e.LastSeen = e.Created
	if m.idle > 0 {
		seen, err := m.lastSeen(ctx, m.raw, key, Session{Login: e.Created})
		if err != nil {
			m.storeFailed(ctx, "get", err)
			return Entry{}, false, err
		}
		if !seen.IsZero() && m.idleExpired(seen, now) {
			return Entry{}, false, nil
		}
		e.LastSeen = seen
	}
	e.Created, e.LastSeen = e.Created.Truncate(time.Minute), e.LastSeen.Truncate(time.Minute)
	return e, true, nil
}

// keys returns the handle key and the info key, loading the index key.
func (x *index) keys(ctx context.Context) (handleKey, infoKey []byte, err error) {
	if _, err := x.loadKey(ctx); err != nil {
		return nil, nil, err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.handleKey, x.infoKey, nil
}

// handleOf is the handle of the session filed under key.
func handleOf(handleKey []byte, key string) string {
	mac := hmac.New(sha256.New, handleKey)
	mac.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:handleBytes])
}

// withHandle returns the one of keys, store keys of sessions filed in one
// user's set, whose handle is h.
func withHandle(handleKey []byte, keys []string, h string) (string, bool) {
	for _, key := range keys {
		if sameID(handleOf(handleKey, key), h) {
			return key, true
		}
	}
	return "", false
}

// validHandle reports whether h is shaped like a handle: Revoke takes
// anything else for no session without a store call.
func validHandle(h string) bool {
	if len(h) != handleLen {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !idByte[h[i]] {
			return false
		}
	}
	return true
}

// userAEAD seals and opens the listing info of sub's sessions, under
// HMAC-SHA256(info key, sub).
func userAEAD(infoKey []byte, sub string) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, infoKey)
	mac.Write([]byte(sub))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealInfo seals the listing info of the session filed under key: its login
// to the minute and its device label (device.Unknown for none).
func sealInfo(aead cipher.AEAD, key string, login time.Time, label string) ([]byte, error) {
	if label == "" || len(label) > maxDevice {
		label = device.Unknown
	}
	plain := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(label)), uint32(login.Unix()/60))
	plain = append(plain, label...)
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, plain, []byte(key)), nil
}

// openInfo opens what sealInfo sealed for the same key.
func openInfo(aead cipher.AEAD, key string, info []byte) (login time.Time, label string, err error) {
	n := aead.NonceSize()
	if len(info) < n+aead.Overhead() {
		return time.Time{}, "", errRecordInvalid
	}
	plain, err := aead.Open(nil, info[:n], info[n:], []byte(key))
	if err != nil || len(plain) < 4 {
		return time.Time{}, "", errRecordInvalid
	}
	return time.Unix(int64(binary.BigEndian.Uint32(plain))*60, 0), string(plain[4:]), nil
}
