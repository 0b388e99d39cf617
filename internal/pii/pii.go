// Package pii shapes personal data for places that should not see all of
// it: pseudonyms of the sgID subject for upstreams that need a stable user
// key but not sgID's own, and masked NRIC numbers for display.
//
// # API
//
//	func ValidLabel(label string) error
//	func NewPseudonymizer(secret []byte, label string) (Pseudonymizer, error)
//	func (p Pseudonymizer) Of(sub string) string
//	func (p Pseudonymizer) Label() string
//	func MaskNRIC(s string) string
//
// # Pseudonyms
//
// identity_header pseudonym:<label> X-User gives each upstream a key of
// its own for a user. NewPseudonymizer derives a 32-byte key with
// HKDF-SHA256 (crypto/hkdf) from secret (the handler's sealing_key, at
// least MinSecretLen bytes) and the label, which goes into HKDF's info;
// Of is HMAC-SHA256 of sub under that key, encoded in unpadded base64url:
// 43 characters of [A-Za-z0-9_-], all 256 bits kept, since a header has
// room and a shorter one buys nothing. So a pseudonym is
//
//   - stable: the same secret, label and sub give the same pseudonym after
//     a restart and on every instance;
//   - different per label: two upstreams given two labels cannot join
//     their users on the pseudonym;
//   - one-way: without the secret, nobody can go from a pseudonym to sub,
//     nor from sub to its pseudonym.
//
// Changing the secret changes every pseudonym, as would a new label: an
// upstream that stores pseudonyms must be told when sealing_key rotates.
// Of("") is "": an absent sub has no pseudonym rather than one shared by
// everyone without a sub.
//
// A label is 1 to 32 characters of a-z, 0-9, '_' and '-'; ValidLabel says
// what is wrong with one.
//
// # NRIC masking
//
// MaskNRIC("S1234123A") is "*****123A": a value shaped like an NRIC or FIN
// (a letter S, T, F, G or M, seven ASCII digits and a letter, in either
// case) keeps its last four characters, the commonly shown part, and
// loses the first five. Any other non-empty value is replaced by "*****",
// whatever its length, so that the mask says nothing of what it hides
// (not even its length); "" stays "". The check letter is not verified:
// the shape is what decides how much to show.
package pii

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// MinSecretLen is the shortest secret NewPseudonymizer accepts, in bytes.
const MinSecretLen = 16

// MaxLabelLen is the longest label, in characters.
const MaxLabelLen = 32

// pseudonymInfo prefixes the label in HKDF's info, binding the key to this
// use of the secret.
const pseudonymInfo = "caddy-sgid pseudonym v1\x00"

// Pseudonymizer gives the pseudonyms of one label.
type Pseudonymizer struct {
	key   []byte
	label string
}

// ValidLabel reports whether label is 1 to MaxLabelLen characters of
// [a-z0-9_-].
func ValidLabel(label string) error {
	if label == "" || len(label) > MaxLabelLen {
		return fmt.Errorf("pseudonym label of %d characters: want 1 to %d", len(label), MaxLabelLen)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("pseudonym label %q: only a-z, 0-9, _ and - are allowed", label)
		}
	}
	return nil
}

// NewPseudonymizer derives the key of label from secret.
func NewPseudonymizer(secret []byte, label string) (Pseudonymizer, error) {
	if err := ValidLabel(label); err != nil {
		return Pseudonymizer{}, err
	}
	if len(secret) < MinSecretLen {
		return Pseudonymizer{}, fmt.Errorf("pseudonym secret of %d bytes: want at least %d", len(secret), MinSecretLen)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, pseudonymInfo+label, sha256.Size)
	if err != nil {
		return Pseudonymizer{}, err
	}
	return Pseudonymizer{key: key, label: label}, nil
}

// Label returns the pseudonymizer's label.
func (p Pseudonymizer) Label() string { return p.label }

// Of returns the pseudonym of sub, or "" for an empty sub or a zero
// Pseudonymizer.
func (p Pseudonymizer) Of(sub string) string {
	if sub == "" || p.key == nil {
		return ""
	}
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(sub))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// fullMask replaces any value that is not shaped like an NRIC.
const fullMask = "*****"

// MaskNRIC masks an NRIC or FIN for display (see the package doc).
func MaskNRIC(s string) string {
	if s == "" {
		return ""
	}
	if !nricShaped(s) {
		return fullMask
	}
	return "*****" + s[5:]
}

// nricShaped reports whether s is [STFGM] + seven digits + a letter, in
// ASCII, ignoring case.
func nricShaped(s string) bool {
	if len(s) != 9 {
		return false
	}
	switch s[0] | 0x20 {
	case 's', 't', 'f', 'g', 'm':
	default:
		return false
	}
	for i := 1; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	c := s[8] | 0x20
	return 'a' <= c && c <= 'z'
}
