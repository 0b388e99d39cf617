package sgid

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testclock"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestCheckDiscovery: a success is remembered for maxAge; once it is
// older, the document is fetched again and a provider that is gone is an
// error; New fetches nothing.
func TestCheckDiscovery(t *testing.T) {
	srv, c := newPair(t, sgidtest.Options{})
	clock := testclock.New(time.Unix(1_800_000_000, 0))
	c.now = clock.Now
	ctx := context.Background()
	fetches := func() int64 { return srv.Stats().Discovery }

	for _, step := range []struct {
		name    string
		skip    bool // do not call CheckDiscovery
		advance time.Duration
		down    bool
		ok      bool
		fetches int64 // total so far, while the provider is up
	}{
		{name: "New fetched nothing", skip: true, fetches: 0},
		{name: "first check fetches", ok: true, fetches: 1},
		{name: "fresh success is reused", advance: 30 * time.Second, ok: true, fetches: 1},
		{name: "stale success fetches again", advance: 31 * time.Second, ok: true, fetches: 2},
		{name: "provider down, success still fresh", advance: 59 * time.Second, down: true, ok: true},
		{name: "provider down, success stale", advance: 2 * time.Second, down: true, ok: false},
		{name: "a failure is not remembered as success", down: true, ok: false},
	} {
		t.Run(step.name, func(t *testing.T) {
			clock.Advance(step.advance)
			if step.down {
				srv.Close()
			}
			if !step.skip {
				err := c.CheckDiscovery(ctx, time.Minute)
				if step.ok && err != nil {
					t.Fatalf("CheckDiscovery: %v", err)
				}
				if !step.ok && (!errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "discovery request")) {
					t.Fatalf("CheckDiscovery: err = %v, want an ErrProvider for the discovery request", err)
				}
			}
			if !step.down {
				if got := fetches(); got != step.fetches {
					t.Fatalf("%d discovery fetches, want %d", got, step.fetches)
				}
			}
		})
	}
}

// TestCheckDiscoveryIssuer: a document naming another issuer than the one
// ID tokens are checked against is not ready (the logins would fail), and
// the failure is not remembered.
func TestCheckDiscoveryIssuer(t *testing.T) {
	srv := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(srv.Close)
	cfg := pairConfig(srv)
	// The provider's issuer is http://127.0.0.1:PORT/v2; the same server
	// reached as localhost is another issuer.
	cfg.Host = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		err := c.CheckDiscovery(context.Background(), time.Hour)
		if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "names issuer") {
			t.Fatalf("err = %v, want an issuer mismatch", err)
		}
	}
	if got := srv.Stats().Discovery; got != 2 {
		t.Errorf("%d fetches, want 2", got)
	}
}

// TestCheckDiscoveryConcurrent: callers at the same time share one fetch.
func TestCheckDiscoveryConcurrent(t *testing.T) {
	srv, c := newPair(t, sgidtest.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- c.CheckDiscovery(context.Background(), time.Hour) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := srv.Stats().Discovery; got != 1 {
		t.Errorf("%d fetches for 16 concurrent checks, want 1", got)
	}
}

// TestCheckDiscoveryAbandonedFetch: when the caller whose fetch another
// caller waits for gives up, the waiter fetches for itself instead of
// failing with someone else's cancellation; a caller whose own ctx ends
// gets an error at once.
func TestCheckDiscoveryAbandonedFetch(t *testing.T) {
	srv, c := newPair(t, sgidtest.Options{})
	started := make(chan struct{})
	var once sync.Once
	next := srv.Client().Transport
	c.httpClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		first := false
		once.Do(func() { first = true })
		if first {
			// The first fetch hangs until its caller gives up.
			close(started)
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		return next.RoundTrip(r)
	})}

	ctx1, cancel1 := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- c.CheckDiscovery(ctx1, time.Hour) }()
	<-started

	second := make(chan error, 1)
	go func() { second <- c.CheckDiscovery(context.Background(), time.Hour) }()
	// Wait until the second check waits for the first one's fetch; a
	// second check that returns before then did not wait.
	secondDone := false
	for !secondDone {
		c.discovery.mu.Lock()
		waiting := c.discovery.waiters
		c.discovery.mu.Unlock()
		if waiting == 1 {
			break
		}
		select {
		case err := <-second:
			t.Errorf("the second check returned (%v) without waiting for the fetch under way", err)
			secondDone = true
		case <-time.After(time.Millisecond):
		}
	}
	cancel1()
	if err := <-first; !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("the abandoned check: %v", err)
	}
	if !secondDone {
		if err := <-second; err != nil {
			t.Errorf("the waiting check failed with the other caller's cancellation: %v", err)
		}
	}
	if got := srv.Stats().Discovery; got != 1 {
		t.Errorf("%d fetches reached the provider, want 1", got)
	}

	// A caller whose own ctx has ended fails without waiting for sgID.
	c.discovery.okAt = time.Time{}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.CheckDiscovery(done, time.Hour); !errors.Is(err, ErrProvider) {
		t.Errorf("ended ctx: %v", err)
	}
}
