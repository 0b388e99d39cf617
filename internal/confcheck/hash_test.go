package confcheck

import (
	"regexp"
	"testing"
)

func TestHashJSON(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, tc := range []struct {
		name string
		a, b []any
		same bool
	}{
		{"same values", []any{"client", "secret", true}, []any{"client", "secret", true}, true},
		{"another secret", []any{"client", "secret", true}, []any{"client", "secret2", true}, false},
		// Each value is kept apart: moving a character from one to the
		// next is another key.
		{"values run together", []any{"ab", "c"}, []any{"a", "bc"}, false},
		{"types told apart", []any{"1"}, []any{1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ha, hb := HashJSON(tc.a...), HashJSON(tc.b...)
			if (ha == hb) != tc.same {
				t.Errorf("HashJSON(%v) = %s, HashJSON(%v) = %s; same %v, want %v", tc.a, ha, tc.b, hb, ha == hb, tc.same)
			}
			for _, h := range []string{ha, hb} {
				if !hexRE.MatchString(h) {
					t.Errorf("%q is not a hex SHA-256", h)
				}
			}
		})
	}
}
