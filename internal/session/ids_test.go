package session

import (
	"encoding/base64"
	"testing"
)

// TestFillIDs: every id FillIDs makes is one NewID could have made (43
// characters of base64url for 32 bytes), and no two are alike, within a
// call or across calls.
func TestFillIDs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for n := 1; n <= maxFill; n++ {
		for range 50 {
			ids := make([]string, n)
			ptrs := make([]*string, n)
			for i := range ids {
				ptrs[i] = &ids[i]
			}
			FillIDs(ptrs...)
			for _, id := range ids {
				if !ValidID(id) {
					t.Fatalf("FillIDs made %q, not a valid id", id)
				}
				if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 32 {
					t.Fatalf("%q decodes to %d bytes, %v", id, len(b), err)
				}
				if seen[id] {
					t.Fatalf("FillIDs made %q twice", id)
				}
				seen[id] = true
			}
		}
	}
}
