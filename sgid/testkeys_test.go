package sgid

import (
	"crypto/rsa"
	"os"
	"testing"
)

// testKeyFiles are fixed client keys, so that tests need not spend seconds
// generating RSA keys: a current key, a next key and (the fuzz client key)
// one the client under test is never given.
var testKeyFiles = []string{"testdata/client_key_a.pem", "testdata/client_key_b.pem", "testdata/fuzz_client_key.pem"}

const (
	keyA, keyB, keyStranger = 0, 1, 2
)

func testKeyPEM(tb testing.TB, i int) string {
	tb.Helper()
	b, err := os.ReadFile(testKeyFiles[i])
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func testKey(tb testing.TB, i int) *rsa.PrivateKey {
	tb.Helper()
	return readKey(tb, testKeyFiles[i])
}
