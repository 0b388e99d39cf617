package mock

import (
	"crypto/rsa"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

// Hooks are called while the provider builds its answers, and may change
// what it is about to issue. A wrapper uses them to make the provider
// misbehave on purpose, such as signing with a wrong key, so that a client
// can be shown to reject each kind of bad answer. Each hook runs on the
// request's goroutine and must be safe for concurrent use.
type Hooks struct {
	// IDToken, when set, sees every ID token before it is signed and may
	// change its claims and how it is signed.
	IDToken func(*IDToken)
	// Userinfo, when set, sees every successful userinfo answer before its
	// values are encrypted and may change the sub it names and how it is
	// encrypted.
	Userinfo func(*Userinfo)
}

// IDToken is an ID token about to be signed.
type IDToken struct {
	// Claims are the token's claims: iss, sub, aud, iat and exp (the
	// times as Unix seconds, int64), and nonce when the authorize request
	// carried one. They are serialised exactly as they are, so a hook can
	// also drop a claim or set one to an empty string.
	Claims map[string]any
	// Alg, Key and KeyID are the signature algorithm, the key it uses (an
	// *rsa.PrivateKey for RS256, a []byte for HMAC algorithms) and the
	// kid in the header. They start as RS256 under the provider's current
	// signing key, the one its JWKS publishes.
	Alg   jwa.SignatureAlgorithm
	Key   any
	KeyID string
}

// Userinfo is a userinfo answer about to be encrypted.
type Userinfo struct {
	// Sub is the subject the answer names: the persona's.
	Sub string
	// Recipient is the RSA key that the `key` JWE is encrypted to: the
	// client's public key.
	Recipient *rsa.PublicKey
	// Fields are the values to be sent, in scope order. Empty when only
	// openid was granted, in which case the answer carries no key or data
	// at all.
	Fields []UserinfoField
}

// UserinfoField is one value of a userinfo answer and how it is encrypted.
type UserinfoField struct {
	// Scope names the value.
	Scope string
	// Alg is the key management algorithm of the value's JWE, and Key the
	// symmetric key it uses. They start as the Encoding prescribes, with
	// the key delivered in `key`.
	Alg jwa.KeyEncryptionAlgorithm
	Key []byte
}
