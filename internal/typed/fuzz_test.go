package typed

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzData feeds arbitrary values to Data under a JSON, a string and an
// unknown scope (seeds in testdata/fuzz/FuzzData): "NA" is null, a string
// scope gives back its value, a decoded value came from valid JSON of an
// array or object and holds no "NA", and the result always encodes.
func FuzzData(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		got := Data(map[string]string{
			"myinfo.vehicles": raw,
			"myinfo.name":     raw,
			"x.unknown":       raw,
		})
		if len(got) != 3 {
			t.Fatalf("Data returned %d fields for 3", len(got))
		}
		if raw == "NA" {
			for k, v := range got {
				if v != nil {
					t.Fatalf("%s: NA gave %#v", k, v)
				}
			}
			return
		}
		if got["myinfo.name"] != raw {
			t.Fatalf("the string scope gave %#v for %q", got["myinfo.name"], raw)
		}
		if !reflect.DeepEqual(got["myinfo.vehicles"], got["x.unknown"]) {
			t.Fatalf("a JSON and an unknown scope differ: %#v, %#v", got["myinfo.vehicles"], got["x.unknown"])
		}
		switch v := got["myinfo.vehicles"].(type) {
		case string:
			if v != raw {
				t.Fatalf("%q came back as %q", raw, v)
			}
			if looksJSON(raw) && json.Valid([]byte(raw)) && !tooDeep(raw) {
				var x any
				if json.Unmarshal([]byte(raw), &x) == nil {
					t.Fatalf("valid JSON %q was not decoded", raw)
				}
			}
		case []any, map[string]any:
			if !looksJSON(raw) || !json.Valid([]byte(raw)) {
				t.Fatalf("%q was decoded to %#v", raw, v)
			}
			if hasNA(v) {
				t.Fatalf("%q decoded with an NA left: %#v", raw, v)
			}
		default:
			t.Fatalf("%q came back as %T", raw, v)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("the result does not encode: %v", err)
		}
	})
}

// tooDeep reports nesting beyond encoding/json's limit, roughly: more than
// 10,000 opening brackets.
func tooDeep(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '[' || s[i] == '{' {
			n++
		}
	}
	return n > 10000
}

func hasNA(v any) bool {
	switch t := v.(type) {
	case string:
		return t == "NA"
	case []any:
		for _, e := range t {
			if hasNA(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if hasNA(e) {
				return true
			}
		}
	}
	return false
}
