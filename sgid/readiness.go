package sgid

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// discoveryCheck remembers when CheckDiscovery last succeeded. The zero
// value is ready to use, so New need not (and does not) fetch anything.
type discoveryCheck struct {
	mu   sync.Mutex
	okAt time.Time // zero until the first success
	// inflight is the fetch under way, if any: callers that find one wait
	// for its result instead of sending a request of their own, so that
	// many health probes at once cost sgID one request.
	inflight *discoveryCall
	// waiters counts the callers waiting for inflight; tests use it to
	// know that a caller is waiting before they end the fetch.
	waiters int
}

type discoveryCall struct {
	done chan struct{} // closed when err and abandoned are set
	err  error
	// abandoned: the fetch failed because its caller's ctx ended.
	abandoned bool
}

// CheckDiscovery reports whether sgID's discovery document can be fetched
// and names the issuer this client expects, for a readiness check. It
// returns nil at once when a fetch succeeded within maxAge; otherwise it
// fetches the document now, within ctx, and remembers when that succeeds.
// Calls at the same time share one fetch. It is safe for concurrent use.
func (c *Client) CheckDiscovery(ctx context.Context, maxAge time.Duration) error {
	d := &c.discovery
	for {
		d.mu.Lock()
		if !d.okAt.IsZero() && c.now().Sub(d.okAt) <= maxAge {
			d.mu.Unlock()
			return nil
		}
		call := d.inflight
		if call == nil {
			break // with d.mu held
		}
		d.waiters++
		d.mu.Unlock()
		var ctxErr error
		select {
		case <-call.done:
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
		d.mu.Lock()
		d.waiters--
		d.mu.Unlock()
		if ctxErr != nil {
			return fmt.Errorf("%w: discovery request: %w", ErrProvider, ctxErr)
		}
		if !call.abandoned {
			return call.err
		}
		// That fetch ended because its caller gave up, which says nothing
		// about sgID: try again, within this caller's own ctx.
	}
	call := &discoveryCall{done: make(chan struct{})}
	d.inflight = call
	d.mu.Unlock()

	doc, err := c.fetchDiscovery(ctx, c.issuer)
	if err == nil && doc.Issuer != c.issuer {
		err = fmt.Errorf("%w: the discovery document names issuer %q, but ID tokens are checked against %q; check the host", ErrProvider, doc.Issuer, c.issuer)
	}

	d.mu.Lock()
	if err == nil {
		d.okAt = c.now()
	}
	d.inflight = nil
	d.mu.Unlock()
	call.err, call.abandoned = err, err != nil && ctx.Err() != nil
	close(call.done)
	return err
}
