package assertion

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// An upstream that follows the Go example of docs/assertion.md (a
// jwk.Cache on the site's JWKS, jwt.ParseString with the issuer and
// audience) accepts the signer's assertions and refuses one for another
// audience.
func TestUpstreamAsDocumented(t *testing.T) {
	s, err := New(Config{Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, maxAge, err := s.JWKS(r.Context())
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
		w.Write(body)
	}))
	defer srv.Close()
	site := srv.URL
	jwksURL := site + "/.well-known/sgid/jwks.json"

	c := jwk.NewCache(t.Context())
	if err := c.Register(jwksURL, jwk.WithMinRefreshInterval(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refresh(t.Context(), jwksURL); err != nil {
		t.Fatal(err)
	}
	keys := jwk.NewCachedSet(c, jwksURL)

	tests := []struct {
		name     string
		audience string
		ok       bool
	}{
		{"for this upstream", site, true},
		{"for another audience", "https://other.example", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := s.Assertion(t.Context(), "sess", tc.audience, Claims{
				Issuer: site, Subject: "u-1", AuthTime: time.Now(),
				Fields: []Field{{"myinfo.name", "TAN AH KOW"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := jwt.ParseString(tok,
				jwt.WithKeySet(keys),
				jwt.WithValidate(true),
				jwt.WithIssuer(site),
				jwt.WithAudience(site),
				jwt.WithRequiredClaim("sub"),
				jwt.WithAcceptableSkew(5*time.Second))
			if (err == nil) != tc.ok {
				t.Fatalf("verification: %v, want success %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if name, _ := parsed.Get("myinfo.name"); parsed.Subject() != "u-1" || name != "TAN AH KOW" {
				t.Fatalf("claims sub %q, myinfo.name %v", parsed.Subject(), name)
			}
		})
	}
}
