package store

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// key returns a valid key made from a short name, for readable tests.
func key(name string) string { return "k_" + name }

func mustGet(t *testing.T, s Store, k string) string {
	t.Helper()
	v, err := s.Get(ctx, k)
	if err != nil {
		t.Fatalf("Get(%s): %v", k, err)
	}
	return string(v)
}

// randomKey returns a fresh random key (store tests cannot import
// storetest, which imports this package).
func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
