package caddysgid

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// jsonFields are the JSON field names of the config types, by type.
func jsonFields(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("json"); tag != "" && tag != "-" {
			out = append(out, strings.Split(tag, ",")[0])
		}
	}
	return out
}

// docs/json.md names only real JSON fields in its examples and tables, and
// names every field of the handler and its guard: the document cannot
// drift from the config it describes.
func TestJSONDocsNameRealFields(t *testing.T) {
	doc, err := os.ReadFile("docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	// "handler" and "module" name modules; "icecream" is the example's
	// app_params key, a query parameter of the operator's choosing.
	known := []string{"handler", "module", "icecream"}
	for _, v := range []any{Handler{}, Guard{}, FieldRule{}, FreshLogin{}, IdentityAssertion{}, store.Memory{}, store.Storage{}, store.Redis{}, store.RedisTLS{}} {
		known = append(known, jsonFields(v)...)
	}
	// Every key of the JSON examples is a field.
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/json.md has no JSON example")
	}
	keyRE := regexp.MustCompile(`"([a-z_]+)"\s*:`)
	for _, b := range blocks {
		for _, m := range keyRE.FindAllSubmatch(b[1], -1) {
			if !slices.Contains(known, string(m[1])) {
				t.Errorf("docs/json.md shows the key %q, which no config type has", m[1])
			}
		}
	}
	// Every field of the handler and the guard is named somewhere.
	for _, v := range []any{Handler{}, Guard{}} {
		for _, f := range jsonFields(v) {
			if !strings.Contains(string(doc), "`"+f+"`") && !strings.Contains(string(doc), `"`+f+`"`) {
				t.Errorf("docs/json.md never names the field %q", f)
			}
		}
	}
}
