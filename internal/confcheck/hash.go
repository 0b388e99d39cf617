package confcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// HashJSON is a key for values that may include secrets, such as a pool
// key or a store scope: a hash of their JSON, so that the secrets do not
// sit in the key.
func HashJSON(v ...any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
