package cookie

import (
	"fmt"
	"net/http"
	"testing"
)

// TestValueEveryByte checks Value against net/http for a value, and a
// name, holding each byte in turn, so that the tables of the bytes a value
// and a name may hold match net/http's rules byte for byte.
func TestValueEveryByte(t *testing.T) {
	t.Parallel()
	for b := range 256 {
		c := string([]byte{byte(b)})
		for _, tc := range []struct{ header, name string }{
			{"sgid_session=a" + c + "b", "sgid_session"},
			{"sgid" + c + "session=v", "sgid" + c + "session"},
		} {
			h := http.Header{"Cookie": {tc.header}}
			want, wantErr := (&http.Request{Header: h}).Cookie(tc.name)
			got, ok := Value(h, tc.name)
			if ok != (wantErr == nil) || (ok && got != want.Value) {
				t.Errorf("%q: Value = %q, %v; net/http found %v", tc.header, got, ok, fmt.Sprint(want, wantErr))
			}
		}
	}
}
