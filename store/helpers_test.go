package store

import (
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"
)

// clockStart is where the tests' clocks (testclock) start: a fixed date.
var clockStart = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

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
func randomKey(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// putValue stores v under k, failing the test on an error.
func putValue(t *testing.T, s Store, k, v string, ttl time.Duration) {
	t.Helper()
	if err := s.Put(ctx, k, []byte(v), ttl); err != nil {
		t.Fatalf("Put(%s): %v", k, err)
	}
}
