package scale

import (
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// The ids are valid session ids, the same for the same seed and index,
// and distinct across indices and seeds.
func TestID(t *testing.T) {
	seen := map[string]bool{}
	for _, seed := range []string{"a", "b"} {
		for i := range 10_000 {
			id := ID(seed, i)
			if !session.ValidID(id) {
				t.Fatalf("ID(%q, %d) = %q is not a valid session id", seed, i, id)
			}
			if seen[id] {
				t.Fatalf("ID(%q, %d) = %q repeats", seed, i, id)
			}
			seen[id] = true
			if ID(seed, i) != id {
				t.Fatalf("ID(%q, %d) changes between calls", seed, i)
			}
		}
	}
}

func TestSub(t *testing.T) {
	a, b := Sub("s", 1), Sub("s", 2)
	// The mock's subs: u= and a UUID, 38 characters.
	if len(a) != 38 || a[:2] != "u=" || a[10] != '-' || a[15] != '-' || a[20] != '-' || a[25] != '-' {
		t.Errorf("Sub = %q, want u=<uuid>", a)
	}
	if a == b || a != Sub("s", 1) || a == Sub("t", 1) {
		t.Errorf("Sub is not a function of seed and user alone: %q %q", a, b)
	}
}

// Ages fall within the span and fill it evenly: each tenth of the span
// holds about a tenth of them.
func TestAge(t *testing.T) {
	const n, span = 100_000, 10 * time.Hour
	var bins [10]int
	for i := range n {
		a := Age(i, span)
		if a < 0 || a >= span {
			t.Fatalf("Age(%d) = %s, outside [0, %s)", i, a, span)
		}
		bins[int(a*10/span)]++
	}
	for b, c := range bins {
		if c < n/10*95/100 || c > n/10*105/100 {
			t.Errorf("tenth %d of the span holds %d of %d ages", b, c, n)
		}
	}
	if Age(5, 0) != 0 {
		t.Error("an empty span gives an age")
	}
}
