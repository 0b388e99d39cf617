package sgid

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// Discovery is what a provider says about itself, as far as a set-up check
// needs it.
type Discovery struct {
	// Issuer is the discovery document's issuer.
	Issuer string
	// ScopesSupported is the document's scopes_supported.
	ScopesSupported []string
	// JWKSKeys is how many keys the provider's JWKS holds.
	JWKSKeys int
}

// Discover fetches the discovery document and the JWKS of the provider at
// host (an origin as in Config.Host), for checking a set-up by hand; a
// Client never needs it. Both are fetched from the issuer built from host,
// as the Client does, not from the URLs inside the document (mockpass's
// has a doubled slash). hc defaults to a client with a 10-second timeout.
//
// When the discovery document is fetched but the JWKS is not, it returns
// the Discovery so far together with the error.
func Discover(ctx context.Context, host string, hc *http.Client) (*Discovery, error) {
	issuer, err := IssuerForHost(host)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	c := &Client{httpClient: hc}
	doc, err := c.fetchDiscovery(ctx, issuer)
	if err != nil {
		return nil, err
	}
	d := &Discovery{Issuer: doc.Issuer, ScopesSupported: doc.ScopesSupported}
	var raw json.RawMessage
	if err := c.getJSON(ctx, issuer+"/.well-known/jwks.json", "jwks", &raw); err != nil {
		return d, err
	}
	set, err := jwk.Parse(raw)
	if err != nil {
		return d, fmt.Errorf("%w: jwks answer is not a JWK set: %w", ErrProvider, err)
	}
	d.JWKSKeys = set.Len()
	return d, nil
}

// discoveryDoc is the part of a discovery document this package reads.
type discoveryDoc struct {
	Issuer          string   `json:"issuer"`
	ScopesSupported []string `json:"scopes_supported"`
}

// fetchDiscovery GETs the discovery document of issuer.
func (c *Client) fetchDiscovery(ctx context.Context, issuer string) (*discoveryDoc, error) {
	var doc discoveryDoc
	if err := c.getJSON(ctx, issuer+"/.well-known/openid-configuration", "discovery", &doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// getJSON GETs a JSON document from sgID.
func (c *Client) getJSON(ctx context.Context, url, endpoint string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %s request: %w", ErrProvider, endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	return c.doJSON(req, endpoint, dst)
}
