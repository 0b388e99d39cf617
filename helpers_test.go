package caddysgid

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

func testKey(t testing.TB) (*rsa.PrivateKey, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

// setStoreClock sets the clock of every pooled session store, which is the
// one of the running Caddy: it decides which logins and sessions have
// expired. Each test env has a store of its own (the store key includes
// the fake provider's URL), so the clock goes with the env.
func setStoreClock(now func() time.Time) {
	stores.Range(func(_, v any) bool {
		v.(*pooledStore).now = now
		return true
	})
}
