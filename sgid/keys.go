package sgid

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwe"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// clientKey is one of the client's RSA private keys, which sgID may have
// encrypted userinfo's `key` to.
type clientKey struct {
	priv *rsa.PrivateKey
	// thumbprint is the RFC 7638 SHA-256 JWK thumbprint of the public
	// half, base64url without padding: the kid a JWE to this key may carry.
	thumbprint string
}

// newClientKey computes priv's thumbprint.
func newClientKey(priv *rsa.PrivateKey) (clientKey, error) {
	pub, err := jwk.FromRaw(&priv.PublicKey)
	if err != nil {
		return clientKey{}, err
	}
	sum, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return clientKey{}, err
	}
	return clientKey{priv: priv, thumbprint: base64.RawURLEncoding.EncodeToString(sum)}, nil
}

// parseClientKeys parses the configured keys, PrivateKey first and then
// PrivateKeys in order, dropping repeats: a key listed twice (the current
// key copied into the list during a rollover) is still one key.
func parseClientKeys(cfg Config) ([]clientKey, error) {
	var texts []string
	if cfg.PrivateKey != "" || len(cfg.PrivateKeys) == 0 {
		// An empty PrivateKey is fine when PrivateKeys names keys; alone it
		// gets ParsePrivateKey's "empty" error, for the PrivateKey field.
		texts = append(texts, cfg.PrivateKey)
	}
	texts = append(texts, cfg.PrivateKeys...)
	fromList := len(texts) - len(cfg.PrivateKeys)
	keys := make([]clientKey, 0, len(texts))
	for i, text := range texts {
		priv, err := ParsePrivateKey(text)
		if err == nil {
			var k clientKey
			if k, err = newClientKey(priv); err == nil {
				if !containsKey(keys, k) {
					keys = append(keys, k)
				}
				continue
			}
			err = fmt.Errorf("%w: private key: %w", ErrConfig, err)
		}
		if i < fromList {
			return nil, &ConfigError{Field: "PrivateKey", Err: err}
		}
		n := i - fromList
		return nil, &ConfigError{Field: "PrivateKeys", Index: n, Err: fmt.Errorf("%w (PrivateKeys[%d])", err, n)}
	}
	return keys, nil
}

func containsKey(keys []clientKey, k clientKey) bool {
	for _, have := range keys {
		if have.priv.Equal(k.priv) {
			return true
		}
	}
	return false
}

// keysFor lists the keys to try on a JWE whose header names kid. A kid
// that is one of our thumbprints picks that key alone. Any other kid (none,
// or a name given to the key when it was registered) tries every key: an
// RSA-OAEP key unwrap with the wrong key fails, and the content's
// authentication tag makes sure a key that seems to work is the right one.
func (c *Client) keysFor(kid string) []*rsa.PrivateKey {
	if kid != "" {
		for _, k := range c.privKeys {
			if k.thumbprint == kid {
				return []*rsa.PrivateKey{k.priv}
			}
		}
	}
	out := make([]*rsa.PrivateKey, len(c.privKeys))
	for i, k := range c.privKeys {
		out[i] = k.priv
	}
	return out
}

// decryptKeyJWE opens userinfo's `key` with whichever of the client's keys
// it was encrypted to.
func (c *Client) decryptKeyJWE(compact string) ([]byte, error) {
	return keyLayer.decryptWith(compact, func(kid string) []any {
		keys := c.keysFor(kid)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out
	})
}

// KeyCheck is the result of checking one of the client's private keys.
type KeyCheck struct {
	// Thumbprint is the RFC 7638 SHA-256 JWK thumbprint of the key's public
	// half, base64url without padding. It identifies the key without
	// revealing it: compare it with the thumbprint of the public key
	// registered with sgID.
	Thumbprint string
	// Bits is the size of the RSA modulus.
	Bits int
	// Decrypts reports whether test messages encrypted to the key's public
	// half (RSA-OAEP-256 with A256GCM, as sgID sends), one with the
	// thumbprint as kid and one without a kid, both decrypted through the
	// code that decrypts userinfo.
	Decrypts bool
	// Err says why not when Decrypts is false.
	Err error
}

// keyCheckMessage is the plaintext of KeyChecks' test messages.
var keyCheckMessage = []byte(`{"kty":"oct","k":"c2dpZCBrZXkgY2hlY2s"}`)

// KeyChecks checks every configured private key, in the order PrivateKey,
// PrivateKeys, without repeats. It makes no network call.
func (c *Client) KeyChecks() []KeyCheck {
	out := make([]KeyCheck, len(c.privKeys))
	for i, k := range c.privKeys {
		out[i] = KeyCheck{Thumbprint: k.thumbprint, Bits: k.priv.N.BitLen()}
		out[i].Err = c.checkKey(k)
		out[i].Decrypts = out[i].Err == nil
	}
	return out
}

func (c *Client) checkKey(k clientKey) error {
	for _, kid := range []string{k.thumbprint, ""} {
		hdr := jwe.NewHeaders()
		if kid != "" {
			if err := hdr.Set(jwe.KeyIDKey, kid); err != nil {
				return err
			}
		}
		msg, err := jwe.Encrypt(keyCheckMessage,
			jwe.WithKey(jwa.RSA_OAEP_256, &k.priv.PublicKey),
			jwe.WithContentEncryption(jwa.A256GCM),
			jwe.WithProtectedHeaders(hdr))
		if err != nil {
			return fmt.Errorf("encrypting a test message: %w", err)
		}
		plain, err := c.decryptKeyJWE(string(msg))
		if err != nil {
			return fmt.Errorf("a test message with kid %q does not decrypt: %w", kid, err)
		}
		if !bytes.Equal(plain, keyCheckMessage) {
			return errors.New("a test message decrypted to something else")
		}
	}
	return nil
}
