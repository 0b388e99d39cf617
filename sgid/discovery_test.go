package sgid

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// observation is one call of Config.Observe.
type observation struct {
	endpoint, outcome string
	tagged            bool // the call's context reached the observer
}

type ctxTag struct{}

// observedClient is a client of srv whose observer records every call.
func observedClient(t *testing.T, srv *sgidtest.Server) (*Client, func() []observation) {
	t.Helper()
	var mu sync.Mutex
	var seen []observation
	cfg := pairConfig(srv)
	cfg.Observe = func(ctx context.Context, endpoint, outcome string, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration %v", d)
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, observation{endpoint, outcome, ctx.Value(ctxTag{}) == "login"})
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []observation {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
}

// TestObserveSeesEveryBackChannelCall: a login reports token, jwks and
// userinfo with the caller's context; each failure kind has its outcome.
func TestObserveSeesEveryBackChannelCall(t *testing.T) {
	srv := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(srv.Close)
	c, observed := observedClient(t, srv)
	ctx := context.WithValue(context.Background(), ctxTag{}, "login")

	run := func() error {
		code, verifier, nonce := authorize(t, c, nil)
		tok, err := c.Exchange(ctx, ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce})
		if err != nil {
			return err
		}
		_, err = c.Userinfo(ctx, tok.Sub, tok.AccessToken)
		return err
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	want := []observation{{"token", OutcomeOK, true}, {"jwks", OutcomeOK, true}, {"userinfo", OutcomeOK, true}}
	if got := observed(); !slices.Equal(got, want) {
		t.Fatalf("observed %v, want %v", got, want)
	}

	for _, tc := range []struct {
		faults sgidtest.Faults
		want   observation
	}{
		{sgidtest.Faults{TokenStatus: 502}, observation{"token", OutcomeHTTPError, true}},
		{sgidtest.Faults{MalformedTokenJSON: true}, observation{"token", OutcomeBadAnswer, true}},
		{sgidtest.Faults{UserinfoStatus: 500}, observation{"userinfo", OutcomeHTTPError, true}},
	} {
		srv.SetFaults(tc.faults)
		if err := run(); err == nil {
			t.Fatalf("%+v: login succeeded", tc.faults)
		}
		got := observed()
		if len(got) == 0 || got[len(got)-1] != tc.want {
			t.Errorf("%+v: observed %v, want it to end with %v", tc.faults, got, tc.want)
		}
	}
	srv.SetFaults(sgidtest.Faults{})

	// A provider that is gone: no answer at all.
	code, verifier, nonce := authorize(t, c, nil)
	srv.Close()
	if _, err := c.Exchange(ctx, ExchangeParams{Code: code, CodeVerifier: verifier, Nonce: nonce}); err == nil {
		t.Fatal("exchange with a closed provider succeeded")
	}
	if got := observed(); !slices.Equal(got, []observation{{"token", OutcomeNetworkError, true}}) {
		t.Errorf("closed provider: observed %v", got)
	}
}

func TestDiscover(t *testing.T) {
	srv := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(srv.Close)
	ctx := context.Background()

	// A trailing slash and a path on the host are dropped, as in New.
	d, err := Discover(ctx, srv.URL+"/some/path/", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if d.Issuer != srv.Issuer() {
		t.Errorf("issuer %q, want %q", d.Issuer, srv.Issuer())
	}
	for _, s := range []string{"openid", "myinfo.name"} {
		if !slices.Contains(d.ScopesSupported, s) {
			t.Errorf("scopes_supported %v lacks %s", d.ScopesSupported, s)
		}
	}
	if d.JWKSKeys < 1 {
		t.Errorf("JWKS has %d keys", d.JWKSKeys)
	}
	if st := srv.Stats(); st.Discovery != 1 || st.JWKS != 1 {
		t.Errorf("fetched discovery %d and JWKS %d times, want 1 each", st.Discovery, st.JWKS)
	}

	// The JWKS fails alone: the discovery part comes back with the error.
	srv.SetFaults(sgidtest.Faults{JWKSStatus: 503})
	d, err = Discover(ctx, srv.URL, srv.Client())
	var pe *ProviderError
	if d == nil || d.Issuer != srv.Issuer() || !errors.As(err, &pe) || pe.Endpoint != "jwks" || pe.StatusCode != 503 {
		t.Errorf("JWKS 503: got %+v, %v", d, err)
	}

	// Nothing answers: no Discovery.
	srv.Close()
	d, err = Discover(ctx, srv.URL, &http.Client{Timeout: 5 * time.Second})
	if d != nil || !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "discovery request") {
		t.Errorf("closed provider: got %+v, %v", d, err)
	}

	if _, err := Discover(ctx, "ftp://example", nil); !errors.Is(err, ErrConfig) {
		t.Errorf("bad host: %v", err)
	}
}
