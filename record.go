package caddysgid

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// session is a logged-in user, as kept in the session store.
type session struct {
	Sub     string            `json:"sub"`
	Data    map[string]string `json:"data"`
	Expires time.Time         `json:"exp"`
	// Login is when the session began: its last use until a later one is
	// recorded under its seen key (see seenKey). Records made before the
	// idle timeout existed have none.
	Login time.Time `json:"login,omitzero"`
}

// errRecordInvalid is returned for a stored record that does not open with
// the key of the session id it was looked up by.
var errRecordInvalid = errors.New("session record does not open")

// Encryption at rest. A session id (the cookie value, 256 random bits)
// yields two unrelated values through two one-way functions: the store key
// the record is filed under, and the AES-256-GCM key it is sealed with.
// Whoever reads the store sees neither the id nor the data, and cannot get
// from a store key back to a cookie that would be accepted, nor to the key
// that opens the record.

// sessionLookupPrefix separates the store key's hash from any other use
// of SHA-256 on a session id.
const sessionLookupPrefix = "sgid-session-lookup\x00"

// sessionKey is the store key of session id.
func sessionKey(id string) string {
	// Hashed from a buffer on the stack: this runs for every request
	// with a session cookie.
	var buf [64]byte
	sum := sha256.Sum256(append(append(buf[:0], sessionLookupPrefix...), id...))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func recordAEAD(id string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(id), nil, "sgid session record", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSession encrypts s for the store, bound to its store key.
func sealSession(id string, s session) ([]byte, error) {
	aead, err := recordAEAD(id)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, err
	}
	return aead.Seal(out, out, plain, []byte(sessionKey(id))), nil
}

// openSession decrypts a record sealed by sealSession for the same id.
func openSession(id string, sealed []byte) (session, error) {
	aead, err := recordAEAD(id)
	if err != nil {
		return session{}, err
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return session{}, errRecordInvalid
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(sessionKey(id)))
	if err != nil {
		return session{}, errRecordInvalid
	}
	var s session
	if err := json.Unmarshal(plain, &s); err != nil {
		return session{}, errRecordInvalid
	}
	return s, nil
}
