// Package scale holds what the scale benchmark (bench, pair 7) and its
// Caddy module (bench/caddy) share: the calls of the module's admin
// routes (api.go), and the ids and users of the sessions it fills a store
// with. The module creates session i of a fill, and the load generator, in
// another process, sends the cookie of session i, both from the fill's
// seed and i alone, so that no list of a million ids crosses between them.
//
// These ids are not secret: they serve only sessions the benchmark made
// on 127.0.0.1.
package scale

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// ID is the session id of session i of the fill named seed: 43 characters
// of base64url, the form of a real session id.
func ID(seed string, i int) string {
	sum := derive("id", seed, i)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Sub is the sub of user u of the fill named seed, in the form sgID's mock
// gives (u= and a UUID), so that records have a real record's size.
func Sub(seed string, u int) string {
	sum := derive("sub", seed, u)
	h := hex.EncodeToString(sum[:16])
	return "u=" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Age is how long before the fill session i logged in, spread evenly over
// [0, span) so that the fill's sessions expire at all times of a lifetime,
// as sessions of logins made through a day do, rather than all at once.
func Age(i int, span time.Duration) time.Duration {
	if span <= 0 {
		return 0
	}
	// The golden ratio's fractional part spreads consecutive i evenly.
	const phi = 0x9E3779B97F4A7C15
	frac := float64(uint64(i)*phi>>11) / (1 << 53)
	return time.Duration(frac * float64(span))
}

func derive(kind, seed string, i int) [32]byte {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	h := sha256.New()
	h.Write([]byte("sgid-bench-scale\x00" + kind + "\x00" + seed + "\x00"))
	h.Write(n[:])
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}
