package caddysgid

import (
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// The fuzz targets of the parsers that take bytes from a browser or an
// operator. Their seed corpora are under testdata/fuzz/<FuzzName>/. The
// session package fuzzes the opening of login cookies and session ids.

// FuzzUnmarshalCaddyfile feeds arbitrary Caddyfile text to the sgid
// directive's parser. It must never panic; what it accepts encodes to JSON,
// and parsing the same text again gives the same config.
func FuzzUnmarshalCaddyfile(f *testing.F) {
	f.Add("sgid")
	f.Add("sgid {\n}")
	f.Add("sgid {\n\tstore redis {\n\t\taddress redis.internal:6379\n\t}\n\tidentity_header\n}")
	f.Fuzz(func(t *testing.T, input string) {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			return
		}
		first, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("accepted %q into a config that does not encode: %v", input, err)
		}
		var again Handler
		if err := again.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			t.Fatalf("accepted %q once, then refused it: %v", input, err)
		}
		if second, _ := json.Marshal(again); string(second) != string(first) {
			t.Fatalf("%q parsed to %s, then to %s", input, first, second)
		}
	})
}
