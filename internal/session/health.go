package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// Readiness checks for an operator's health probe. They touch only a
// probe record and the keys, never a session.

// probeKey is the store key of the readiness probe's record. It cannot
// collide with a session's key (a 43-character hash), a last use or the
// keys' records.
const probeKey = "readinessprobe"

// probeTTL keeps the probe's record short-lived: it is rewritten by every
// probe and means nothing once read.
const probeTTL = 30 * time.Second

// probeValue is what the probe writes. It is the same for every probe, so
// that probes running at once, here or on another instance sharing the
// store, cannot make each other read a value they did not expect.
var probeValue = []byte("ok")

// Check is what Manager.Check checks.
type Check int

const (
	// CheckStore writes a probe record to the store and reads it back.
	CheckStore Check = iota
	// CheckKeys loads the index key and the current sealing key.
	CheckKeys
)

// Check runs one health check: the store (CheckStore) or the keys
// (CheckKeys).
func (m *Manager) Check(ctx context.Context, what Check) error {
	if what == CheckKeys {
		return m.checkKeys(ctx)
	}
	return m.probe(ctx)
}

// probe writes the probe record to the store and reads it back, through
// the store without its cache, so that it answers for the store itself:
// a cached copy could hide a store that no longer answers.
func (m *Manager) probe(ctx context.Context) error {
	if err := m.raw.Put(ctx, probeKey, probeValue, probeTTL); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	got, err := m.raw.Get(ctx, probeKey)
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("reading: the record just written is missing")
	}
	if err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	if !bytes.Equal(got, probeValue) {
		return errors.New("reading: the record just written came back changed")
	}
	return nil
}

// checkKeys reports whether the Manager's keys load: the session index key
// (from the secret, or from the store, where it is made when missing and
// refused as ErrIndexKeyLost when sets remain without it) and the current
// login sealing key, with which a test login is sealed and opened again.
// Keys loaded before are not loaded again.
func (m *Manager) checkKeys(ctx context.Context) error {
	if _, err := m.index.loadKey(ctx); err != nil {
		return err
	}
	const name, state = "readiness", "readiness-check"
	sealed, err := m.sealLogin(ctx, name, Login{State: state, Expires: m.now().Add(time.Minute).Unix()})
	if err != nil {
		return err
	}
	if _, err := m.openLogin(ctx, name, sealed, state); err != nil {
		return fmt.Errorf("a login sealed now does not open: %w", err)
	}
	return nil
}
