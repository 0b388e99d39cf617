package store_test

import (
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// Every backend, and the cache in front of one, passes the same contract.

func openWith(b store.Backend) storetest.Open {
	return func(t *testing.T, scope string) store.Store {
		t.Helper()
		s, err := b.Open(scope)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
}

func provisioned[T caddy.Provisioner](t *testing.T, m T) T {
	t.Helper()
	c, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	if err := m.Provision(c); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return m
}

func TestMemoryContract(t *testing.T) {
	storetest.Run(t, openWith(provisioned(t, &store.Memory{})))
}

// TestCachedContract runs the contract through a cache in front of the
// memory store. Its ttl is short so that a deletion through another handle
// (SharedScope) is seen well within the suite's deadline.
func TestCachedContract(t *testing.T) {
	m := provisioned(t, &store.Memory{})
	storetest.Run(t, func(t *testing.T, scope string) store.Store {
		s, err := m.Open(scope)
		if err != nil {
			t.Fatal(err)
		}
		return store.Cached(s, 500*time.Millisecond, 100)
	})
}
