// Package assertion signs short-lived identity assertions for the
// upstreams behind the sgid handler and publishes the keys that verify
// them as a JWKS.
//
// An assertion is a compact JWS (a JWT) signed with ES256 whose every
// claim is signed: the issuer (the site's origin), the audience, the
// subject, the login time, the validity and the fields the operator named.
// An upstream that verifies it against the site's JWKS knows who is
// calling even when a request reached it without passing through Caddy,
// which plain identity headers cannot tell it.
//
// Signing keys rotate with the handler's key_rotation: time is cut into
// epochs of one rotation each, and each epoch has its own ECDSA P-256 key.
// The first instance that needs an epoch's key generates it and puts it in
// the shared session store; every instance sharing the store then signs
// with the same key and publishes the same set. The set holds the next
// epoch's key before it is used, so a verifier that cached the set never
// meets an unknown key ID at a rotation, and the keys of past epochs as
// long as an assertion they signed can still be valid.
//
// With a secret (the handler's sealing_key), a private key is kept in the
// store sealed with AES-256-GCM under a key derived from the secret, so
// whoever can read the store but does not know the secret cannot sign
// assertions. Without one, the private key is kept in the store as PKCS#8
// DER in the clear: then anyone who can read the store can sign
// assertions, and the store must be guarded like the secret it holds.
package assertion

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// KeyStore is the part of a session store the signer needs: a value that
// the first instance to ask creates and every other instance then reads.
// The sgid session stores (package store) satisfy it.
type KeyStore interface {
	PutIfAbsent(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error)
}

// Limits and defaults of a Config.
const (
	// DefaultRotation is how often the signing key changes when the
	// Config names no rotation.
	DefaultRotation = 24 * time.Hour
	// MinRotation is the shortest rotation accepted.
	MinRotation = time.Minute
	// DefaultLifetime is how long an assertion is valid when the Config
	// names no lifetime.
	DefaultLifetime = time.Minute
	// MaxLifetime is the longest lifetime accepted: an assertion is a
	// bearer credential for its audience, so it must not outlive the
	// request it was made for by much.
	MaxLifetime = 5 * time.Minute
	// MinSecretLen is the shortest secret accepted, in bytes.
	MinSecretLen = 32
	// maxJWKSAge bounds the Cache-Control max-age of the JWKS.
	maxJWKSAge = 5 * time.Minute
)

// ErrKeyUnreadable is returned when the store holds an epoch's key that
// this signer cannot read: sealed with another secret, sealed while this
// signer has no secret, or stored in the clear while it has one. The
// instances sharing a store must all have the same sealing_key (or none).
var ErrKeyUnreadable = errors.New("assertion: the stored signing key cannot be read with this configuration's secret; every instance sharing the store needs the same sealing_key")

// sealInfo is the HKDF info that derives the key sealing the signing keys
// from the secret. It differs from every other use of the secret, so the
// derived key is of no use elsewhere.
const sealInfo = "sgid identity assertion signing-key seal"

// sealedVersion is the first byte of a sealed key, naming the format (AES-
// 256-GCM, 12-byte nonce, store key as additional data), so that a later
// format can be told apart.
const sealedVersion = 1

// Config configures a Signer.
type Config struct {
	// Store keeps the signing keys, shared by every instance that signs
	// for the same site. Required.
	Store KeyStore
	// Secret, when set (at least MinSecretLen bytes), seals the private
	// keys kept in Store. Optional.
	Secret []byte
	// Rotation is how often the signing key changes. Default
	// DefaultRotation; at least MinRotation.
	Rotation time.Duration
	// Lifetime is how long an assertion is valid after it is issued, in
	// whole seconds. Default DefaultLifetime; at least 1s, at most
	// MaxLifetime.
	Lifetime time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Signer signs identity assertions and publishes the keys that verify
// them. It is safe for concurrent use.
type Signer struct {
	store    KeyStore
	rotation time.Duration
	lifetime int64 // seconds
	// past is how many epochs before the current one are published: as
	// many as an assertion signed in them can still be valid for.
	past uint64
	seal cipher.AEAD // nil without a secret
	now  func() time.Time

	mu   sync.Mutex
	keys map[uint64]*epochKey
	jwks *encodedSet

	cache assertionCache
}

// epochKey is one epoch's signing key, parsed once.
type epochKey struct {
	priv *ecdsa.PrivateKey
	pub  jwk.Key // with kid, alg and use set
	kid  string
}

// encodedSet is the JWKS as served during one epoch.
type encodedSet struct {
	epoch uint64
	body  []byte
}

// New returns a Signer for cfg, which it checks. It makes no call to the
// store: keys are loaded when first needed.
func New(cfg Config) (*Signer, error) {
	if cfg.Store == nil {
		return nil, errors.New("assertion: no key store")
	}
	if cfg.Rotation == 0 {
		cfg.Rotation = DefaultRotation
	}
	if cfg.Rotation < MinRotation {
		return nil, fmt.Errorf("assertion: rotation %s is shorter than %s", cfg.Rotation, MinRotation)
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Lifetime < time.Second || cfg.Lifetime > MaxLifetime {
		return nil, fmt.Errorf("assertion: lifetime %s is not between 1s and %s", cfg.Lifetime, MaxLifetime)
	}
	if cfg.Lifetime%time.Second != 0 {
		return nil, fmt.Errorf("assertion: lifetime %s is not a whole number of seconds, as the exp claim is", cfg.Lifetime)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Signer{
		store:    cfg.Store,
		rotation: cfg.Rotation,
		lifetime: int64(cfg.Lifetime / time.Second),
		now:      cfg.Now,
		keys:     make(map[uint64]*epochKey),
	}
	// An assertion is reused for up to a second and then valid for its
	// lifetime, so a key must be published that long after its epoch.
	s.past = uint64((cfg.Lifetime + time.Second + cfg.Rotation - 1) / cfg.Rotation)
	if cfg.Secret != nil {
		if len(cfg.Secret) < MinSecretLen {
			return nil, fmt.Errorf("assertion: secret of %d bytes is too short; use at least %d", len(cfg.Secret), MinSecretLen)
		}
		k, err := hkdf.Key(sha256.New, cfg.Secret, nil, sealInfo, 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		if s.seal, err = cipher.NewGCM(block); err != nil {
			return nil, err
		}
	}
	s.cache.init()
	return s, nil
}

// epoch is the number of the rotation period t falls in.
func (s *Signer) epoch(t time.Time) uint64 {
	return uint64(t.UnixNano() / int64(s.rotation))
}

// storeKey names epoch e's key in the store: unpadded base64url
// characters only, as every store key must be.
func storeKey(e uint64) string {
	return "asserkey-" + strconv.FormatUint(e, 10)
}

// key returns epoch e's key, from memory or else from the store, which
// creates it when no instance has yet.
func (s *Signer) key(ctx context.Context, e uint64) (*epochKey, error) {
	s.mu.Lock()
	k, ok := s.keys[e]
	s.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := s.load(ctx, e)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.keys[e]; ok {
		// Another goroutine loaded it meanwhile; both read the same
		// stored key, so either will do.
		return other, nil
	}
	// Keep only the epochs the JWKS publishes now.
	cur := s.epoch(s.now())
	for old := range s.keys {
		if old+s.past < cur || old > cur+1 {
			delete(s.keys, old)
		}
	}
	s.keys[e] = k
	return k, nil
}

// load reads epoch e's key from the store, offering a fresh one that the
// store keeps when it has none.
func (s *Signer) load(ctx context.Context, e uint64) (*epochKey, error) {
	fresh, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(fresh)
	if err != nil {
		return nil, err
	}
	name := storeKey(e)
	value := der
	if s.seal != nil {
		value = s.sealKey(der, name)
	}
	// The key may be created as early as the start of epoch e-1 (as the
	// next key of the JWKS) and is published until past-1 epochs after
	// its own end; an hour more covers instances whose clocks differ.
	ttl := time.Duration(s.past+2)*s.rotation + time.Hour
	stored, err := s.store.PutIfAbsent(ctx, name, value, ttl)
	if err != nil {
		return nil, fmt.Errorf("assertion: loading the signing key: %w", err)
	}
	if s.seal != nil {
		if stored, err = s.openKey(stored, name); err != nil {
			return nil, err
		}
	}
	parsed, err := x509.ParsePKCS8PrivateKey(stored)
	if err != nil {
		return nil, ErrKeyUnreadable
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, ErrKeyUnreadable
	}
	return newEpochKey(priv)
}

// sealKey seals a private key's DER for the store, bound to its store
// key so that a sealed key cannot be moved to another epoch.
func (s *Signer) sealKey(der []byte, name string) []byte {
	out := make([]byte, 1+s.seal.NonceSize(), 1+s.seal.NonceSize()+len(der)+s.seal.Overhead())
	out[0] = sealedVersion
	rand.Read(out[1:]) // crypto/rand.Read never fails.
	return s.seal.Seal(out, out[1:], der, []byte(name))
}

// openKey opens what sealKey made.
func (s *Signer) openKey(sealed []byte, name string) ([]byte, error) {
	n := s.seal.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealedVersion {
		return nil, ErrKeyUnreadable
	}
	der, err := s.seal.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(name))
	if err != nil {
		return nil, ErrKeyUnreadable
	}
	return der, nil
}

// newEpochKey prepares a private key for signing and publishing: its
// public JWK with the RFC 7638 thumbprint as key ID.
func newEpochKey(priv *ecdsa.PrivateKey) (*epochKey, error) {
	pub, err := jwk.FromRaw(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := b64.EncodeToString(tp)
	for _, kv := range []struct {
		k string
		v any
	}{
		{jwk.KeyIDKey, kid},
		{jwk.AlgorithmKey, jwa.ES256},
		{jwk.KeyUsageKey, jwk.ForSignature},
	} {
		if err := pub.Set(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	return &epochKey{priv: priv, pub: pub, kid: kid}, nil
}
