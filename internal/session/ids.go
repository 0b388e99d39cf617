package session

import (
	"crypto/rand"
	"encoding/base64"
)

// idLen is the length of an id NewID makes: 32 bytes in base64url.
const idLen = 43

// maxFill is how many ids one FillIDs call makes.
const maxFill = 4

// FillIDs sets each of ids to a fresh, independent id as NewID makes it
// (256 bits from crypto/rand each), from one read of the random source
// and into one string: a login needs four (its state, nonce, code
// verifier and session id), and auth-url is the one route anyone may call
// at will. It takes at most four.
func FillIDs(ids ...*string) {
	if len(ids) > maxFill {
		panic("session.FillIDs: more than four ids")
	}
	// Drawn and encoded on the stack: the string is the one allocation.
	var raw [32 * maxFill]byte
	rand.Read(raw[:32*len(ids)])
	var enc [idLen * maxFill]byte
	for i := range ids {
		base64.RawURLEncoding.Encode(enc[idLen*i:idLen*(i+1)], raw[32*i:32*(i+1)])
	}
	all := string(enc[:idLen*len(ids)])
	for i, id := range ids {
		*id = all[idLen*i : idLen*(i+1)]
	}
}
