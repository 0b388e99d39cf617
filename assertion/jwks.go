package assertion

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

var b64 = base64.RawURLEncoding

// JWKS returns the JSON Web Key Set that verifies the assertions, and how
// long a client may cache it (the max-age of its Cache-Control).
//
// The set holds the public keys of the current epoch, of the next one
// (published a full rotation before it signs anything, so that a verifier
// holding a cached set knows the key when the signer switches to it) and
// of as many past epochs as an assertion they signed can still be valid
// for: one with the defaults. A verifier that caches the set for at most
// max-age therefore never meets an assertion whose key ID it lacks. The
// max-age is a quarter of the rotation, at most 5 minutes: any value up to
// one rotation would do, and the margin covers verifiers that keep a set
// a little longer than told.
//
// The set is encoded once per epoch; the returned bytes are shared and
// must not be modified.
func (s *Signer) JWKS(ctx context.Context) ([]byte, time.Duration, error) {
	e := s.epoch(s.now())
	s.mu.Lock()
	cached := s.jwks
	s.mu.Unlock()
	if cached != nil && cached.epoch == e {
		return cached.body, s.maxAge(), nil
	}
	first := uint64(0)
	if e > s.past {
		first = e - s.past
	}
	set := jwk.NewSet()
	for i := first; i <= e+1; i++ {
		k, err := s.key(ctx, i)
		if err != nil {
			return nil, 0, err
		}
		if err := set.AddKey(k.pub); err != nil {
			return nil, 0, fmt.Errorf("assertion: building the JWKS: %w", err)
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		return nil, 0, fmt.Errorf("assertion: encoding the JWKS: %w", err)
	}
	s.mu.Lock()
	if s.jwks == nil || s.jwks.epoch < e {
		s.jwks = &encodedSet{epoch: e, body: body}
	}
	s.mu.Unlock()
	return body, s.maxAge(), nil
}

// maxAge is how long a client may cache the JWKS; see JWKS.
func (s *Signer) maxAge() time.Duration {
	return min(s.rotation/4, maxJWKSAge)
}
