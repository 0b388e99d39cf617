package officer

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"fmt"
)

const (
	// MinKeyLen is the shortest secret IDKey accepts and the shortest key
	// ID and Find use, in bytes.
	MinKeyLen = 16
	// IDBytes is how much of the HMAC an id keeps.
	IDBytes = 16
	// idLen is the length of an id: IDBytes in unpadded base64url.
	idLen = (IDBytes*8 + 5) / 6
)

// idKeyInfo binds a key from IDKey to its use; idTag binds an id's input
// to this encoding, so that a later encoding can never give equal ids.
const (
	idKeyInfo = "caddy-sgid officer profile id v1\x00"
	idTag     = "caddy-sgid/officer-profile/v1"
)

// IDKey derives the key of a session's profile ids from secret (at least
// MinKeyLen bytes) and the session's identifier.
func IDKey(secret []byte, session string) ([]byte, error) {
	if len(secret) < MinKeyLen {
		return nil, fmt.Errorf("officer: id secret of %d bytes, want at least %d", len(secret), MinKeyLen)
	}
	return hkdf.Key(sha256.New, secret, nil, idKeyInfo+session, sha256.Size)
}

// Entry is a profile with its id, as a picker lists it; it encodes to JSON
// as {"id":…, "agency_name":…, …}.
type Entry struct {
	ID string `json:"id"`
	Profile
}

// ID returns the profile's opaque id under key, or "" when the key is
// shorter than MinKeyLen.
func (p Profile) ID(key []byte) string {
	if len(key) < MinKeyLen {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write(p.canonical())
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:IDBytes])
}

// canonical encodes the profile unambiguously: the tag, then each field
// preceded by its length.
func (p Profile) canonical() []byte {
	fields := [...]string{p.AgencyName, p.DepartmentName, p.EmploymentTitle, p.EmploymentType, p.WorkEmail}
	n := len(idTag)
	for _, f := range fields {
		n += binary.MaxVarintLen64 + len(f)
	}
	b := make([]byte, 0, n)
	b = append(b, idTag...)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// List returns every profile with its id under key, in order.
func List(profiles []Profile, key []byte) []Entry {
	out := make([]Entry, len(profiles))
	for i, p := range profiles {
		out[i] = Entry{ID: p.ID(key), Profile: p}
	}
	return out
}

// Find returns the profile whose id under key is id. Every profile's id is
// computed and compared in constant time. An id of the wrong length finds
// nothing; so does any id under a key shorter than MinKeyLen, whose ids
// are all "".
func Find(profiles []Profile, id string, key []byte) (Profile, bool) {
	if len(id) != idLen {
		return Profile{}, false
	}
	var found Profile
	match := 0
	for _, p := range profiles {
		if subtle.ConstantTimeCompare([]byte(p.ID(key)), []byte(id)) == 1 {
			found, match = p, 1
		}
	}
	return found, match == 1
}
