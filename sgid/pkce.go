package sgid

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// Code verifier lengths allowed by RFC 7636 and sgID.
const (
	MinCodeVerifierLength     = 43
	MaxCodeVerifierLength     = 128
	DefaultCodeVerifierLength = 43
)

// GenerateCodeVerifier returns a random PKCE code verifier of the given
// length, drawn from the unreserved characters A-Z a-z 0-9 - _. A length
// outside 43..128 is an ErrInvalidInput.
func GenerateCodeVerifier(length int) (string, error) {
	if length < MinCodeVerifierLength || length > MaxCodeVerifierLength {
		return "", invalidInput("code verifier length %d is outside %d..%d", length, MinCodeVerifierLength, MaxCodeVerifierLength)
	}
	// base64url yields 4 characters per 3 bytes; draw enough bytes and cut.
	buf := make([]byte, (length*3+3)/4)
	rand.Read(buf) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(buf)[:length], nil
}

// CodeChallenge returns the S256 challenge for a code verifier:
// base64url(SHA-256(verifier)) without padding.
func CodeChallenge(verifier string) (string, error) {
	if err := checkCodeVerifier(verifier); err != nil {
		return "", err
	}
	// Hashed and encoded on the stack: the challenge is the one
	// allocation, as auth-url makes one for every login.
	var buf [MaxCodeVerifierLength]byte
	sum := sha256.Sum256(buf[:copy(buf[:], verifier)])
	var enc [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return string(enc[:]), nil
}

// GeneratePKCEPair returns a fresh code verifier of the default length and
// its S256 challenge.
func GeneratePKCEPair() (verifier, challenge string) {
	verifier, _ = GenerateCodeVerifier(DefaultCodeVerifierLength)
	challenge, _ = CodeChallenge(verifier)
	return verifier, challenge
}

// GenerateNonce returns base64url of 32 fresh random bytes. Every call draws
// new bytes: a nonce shared between logins protects nothing.
func GenerateNonce() string {
	return randomString(32)
}

// randomString returns base64url of n random bytes.
func randomString(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func checkCodeVerifier(v string) error {
	if len(v) < MinCodeVerifierLength || len(v) > MaxCodeVerifierLength {
		return invalidInput("code verifier has %d characters; it must have %d..%d", len(v), MinCodeVerifierLength, MaxCodeVerifierLength)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return invalidInput("code verifier holds a character outside A-Z a-z 0-9 - . _ ~")
		}
	}
	return nil
}
