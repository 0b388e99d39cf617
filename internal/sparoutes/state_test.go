package sparoutes

import (
	"encoding/json"
	"testing"
)

// appendState writes exactly what encoding/json writes for a State, for
// every field set or null and for strings it writes as they are or
// escapes.
func TestAppendStateAsEncodingJSON(t *testing.T) {
	t.Parallel()
	n := func(v int64) *int64 { return &v }
	s := func(v string) *string { return &v }
	for _, st := range []State{
		{LoginURL: "/api/auth-url", LogoutURL: "/api/logout"},
		{Active: true, Sub: s("u=ABCDEF-_123"), AuthTime: n(1_700_000_000), ExpiresAt: n(1_700_043_200), LoginURL: "/api/auth-url", LogoutURL: "/api/logout"},
		{Active: true, Sub: s(""), AuthTime: n(0), ExpiresAt: n(-1), IdleExpiresAt: n(1_700_001_860), LoginURL: "", LogoutURL: ""},
		{Active: true, Sub: s(`a"b\c<d>e&f`), LoginURL: "/login?next=/a&b=<c>", LogoutURL: "/out"},
		{Active: true, Sub: s("é\u2028\x01\x7f\xff"), LoginURL: "/\t", LogoutURL: "/ü"},
	} {
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendState([]byte("kept"), st); string(got) != "kept"+string(want) {
			t.Errorf("appendState(%+v) = %s, want %s", st, got[4:], want)
		}
	}
}
