package session

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

// Session is a logged-in user, as kept in the session store.
type Session struct {
	Sub     string            `json:"sub"`
	Data    map[string]string `json:"data"`
	Expires time.Time         `json:"exp"`
	// Login is when the session began: the login time (auth_time), and its
	// last use until a later one is recorded under its seen key. Records
	// made before the idle timeout existed have none.
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

// lookupPrefix separates the store key's hash from any other use of
// SHA-256 on a session id.
const lookupPrefix = "sgid-session-lookup\x00"

// Key is the store key of session id.
func Key(id string) string {
	// Hashed from a buffer on the stack: this runs for every request
	// with a session cookie.
	var buf [64]byte
	sum := sha256.Sum256(append(append(buf[:0], lookupPrefix...), id...))
	// Encoded on the stack too, so the key string is the one allocation.
	var enc [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return string(enc[:])
}

// NewID returns 32 random bytes in base64url: a session id or a state.
func NewID() string {
	var id string
	FillIDs(&id)
	return id
}

// ValidID reports whether s looks like an id NewID made. Anything else in
// a cookie is ignored without a store lookup.
func ValidID(s string) bool {
	if len(s) != 43 {
		return false
	}
	// One table look-up per byte: this runs for every request that
	// carries a cookie.
	for i := 0; i < len(s); i++ {
		if !idByte[s[i]] {
			return false
		}
	}
	return true
}

// idByte marks the bytes of the base64url alphabet, which NewID's ids are
// written in.
var idByte = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

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

// seal encrypts s for the store, bound to its store key.
func seal(id string, s Session) ([]byte, error) {
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
	return aead.Seal(out, out, plain, []byte(Key(id))), nil
}

// A record made by create carries, ahead of the sealed session, the
// session's listing info (see list.go), sealed apart under a key of its
// user, since listing a user's other sessions cannot open their records:
//
//	withInfo, len(info), info, the sealed session
//
// A record made before sessions were listed is the sealed session alone.
// Its first byte is the random nonce's, which may be withInfo too: open
// then falls back to reading the whole record as the session.
const withInfo = 0x01

// frame is the record of a sealed session body with its info (at most
// 255 bytes) ahead of it.
func frame(info, body []byte) []byte {
	rec := make([]byte, 0, 2+len(info)+len(body))
	rec = append(rec, withInfo, byte(len(info)))
	return append(append(rec, info...), body...)
}

// split returns the info and the sealed session of a record that frame
// made, and false for anything else: a record made before listing info
// existed (or one that merely starts like one), the ended mark.
func split(rec []byte) (info, body []byte, ok bool) {
	if len(rec) < 2 || rec[0] != withInfo || len(rec) < 2+int(rec[1]) {
		return nil, nil, false
	}
	n := 2 + int(rec[1])
	return rec[2:n], rec[n:], true
}

// open decrypts a record made for the same id: the session that seal
// sealed, alone or framed with its info.
func open(id string, rec []byte) (Session, error) {
	aead, err := recordAEAD(id)
	if err != nil {
		return Session{}, err
	}
	key := []byte(Key(id))
	if _, body, ok := split(rec); ok {
		if s, err := openBody(aead, key, body); err == nil {
			return s, nil
		}
	}
	return openBody(aead, key, rec)
}

// openBody decrypts a session sealed by seal under aead, for store key key.
func openBody(aead cipher.AEAD, key, sealed []byte) (Session, error) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return Session{}, errRecordInvalid
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], key)
	if err != nil {
		return Session{}, errRecordInvalid
	}
	var s Session
	if err := json.Unmarshal(plain, &s); err != nil {
		return Session{}, errRecordInvalid
	}
	return s, nil
}
