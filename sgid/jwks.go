package sgid

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// jwksMinRefetch is the shortest time between two JWKS fetches. A token with
// an unknown kid or a bad signature triggers one refetch (the provider may
// have rotated its key), but no more often than this, so that forged tokens
// cannot make us hammer sgID.
const jwksMinRefetch = 30 * time.Second

// jwksCache holds the provider's signing keys.
type jwksCache struct {
	url string

	mu        sync.Mutex
	set       jwk.Set
	fetchedAt time.Time
}

// keys returns the cached set, fetching it the first time.
func (c *Client) keys(ctx context.Context) (jwk.Set, error) {
	c.jwks.mu.Lock()
	defer c.jwks.mu.Unlock()
	if c.jwks.set != nil {
		return c.jwks.set, nil
	}
	return c.fetchKeysLocked(ctx)
}

// refreshKeys refetches the set unless it was fetched less than
// jwksMinRefetch ago (by this call or a concurrent one). It reports whether
// the returned set is newer than stale.
func (c *Client) refreshKeys(ctx context.Context, stale jwk.Set) (jwk.Set, bool, error) {
	c.jwks.mu.Lock()
	defer c.jwks.mu.Unlock()
	if c.jwks.set != stale {
		// Another request refreshed while we waited for the lock.
		return c.jwks.set, true, nil
	}
	if c.now().Sub(c.jwks.fetchedAt) < jwksMinRefetch {
		return stale, false, nil
	}
	set, err := c.fetchKeysLocked(ctx)
	return set, err == nil, err
}

func (c *Client) fetchKeysLocked(ctx context.Context) (jwk.Set, error) {
	// Count a failed fetch too, so that an unreachable JWKS is not retried
	// on every login.
	c.jwks.fetchedAt = c.now()
	var raw json.RawMessage
	if err := c.getJSON(ctx, c.jwks.url, "jwks", &raw); err != nil {
		return nil, err
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: jwks answer is not a JWK set: %w", ErrProvider, err)
	}
	c.jwks.set = set
	return set, nil
}
