package officer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary values to Parse (seeds in
// testdata/fuzz/FuzzParse): it never panics, fails only with its two
// errors, and what it returns keeps every promise of the package doc.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		ps, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Parse(%q): an error of neither kind: %v", raw, err)
			}
			if ps != nil {
				t.Fatalf("Parse(%q) returned profiles with its error", raw)
			}
			return
		}
		if len(raw) > MaxInput || len(ps) > MaxProfiles {
			t.Fatalf("Parse accepted %d bytes, %d profiles", len(raw), len(ps))
		}
		if ps != nil && len(ps) == 0 {
			t.Fatal("Parse returned an empty, non-nil list")
		}
		if len(ps) > 0 && !json.Valid([]byte(strings.TrimSpace(raw))) {
			t.Fatalf("Parse(%q) found profiles in invalid JSON", raw)
		}
		ids := map[string]bool{}
		for _, p := range ps {
			for _, v := range []string{p.AgencyName, p.DepartmentName, p.EmploymentTitle, p.EmploymentType, p.WorkEmail} {
				if v == "NA" {
					t.Fatalf("a field is still NA: %+v", p)
				}
			}
			if p.WorkEmail != strings.TrimSpace(p.WorkEmail) || strings.ContainsAny(p.WorkEmail, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
				t.Fatalf("work email %q is not trimmed and lower-cased", p.WorkEmail)
			}
			id := p.ID(keyA)
			if ids[id] {
				t.Fatalf("two profiles share the id %q", id)
			}
			ids[id] = true
			if got, ok := Find(ps, id, keyA); !ok || got != p {
				t.Fatalf("Find(ID(p)) = %+v, %v; want %+v", got, ok, p)
			}
		}
	})
}
