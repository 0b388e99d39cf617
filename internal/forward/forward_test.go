package forward

import (
	"maps"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/pii"
)

const secret = "0123456789abcdef0123456789abcdef"

func TestValue(t *testing.T) {
	user := map[string]string{"sub": "u-1", NRIC: "S1234567D", "myinfo.name": "TAN AH KOW"}
	get := func(f string) (string, bool) { v, ok := user[f]; return v, ok }
	p, _ := pii.NewPseudonymizer([]byte(secret), "app")
	for spec, want := range map[string]string{
		"sub":                 "u-1",
		"myinfo.name":         "TAN AH KOW",
		NRIC:                  "*****567D",
		NRIC + ":unmasked":    "S1234567D",
		"pseudonym:app":       p.Of("u-1"),
		"myinfo.email":        "",
		"pseudonym:other-app": "",
	} {
		f, err := Compile(spec, secret)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		got := f.Value(get)
		if spec == "pseudonym:other-app" {
			if got == "" || got == p.Of("u-1") {
				t.Errorf("%s = %q, want a pseudonym of its own", spec, got)
			}
			continue
		}
		if got != want {
			t.Errorf("%s = %q, want %q", spec, got, want)
		}
	}
	if f, _ := Compile(NRIC+":unmasked", ""); f.Name != NRIC {
		t.Errorf("claim name %q, want %q", f.Name, NRIC)
	}
}

func TestCompileRefuses(t *testing.T) {
	for spec, want := range map[string]string{
		"":                     "empty",
		"pseudonym:app":        "sealing_key", // with no secret, below
		"pseudonym:":           "label",
		"pseudonym:UPPER":      "label",
		"myinfo.name:unmasked": "only",
		"myinfo.nric_number:x": "':'",
		"app:key":              "':'",
	} {
		if _, err := Compile(spec, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%q) = %v, want an error with %q", spec, err, want)
		}
	}
}

func TestKeep(t *testing.T) {
	data := map[string]string{"myinfo.name": "A", "myinfo.email": "a@b"}
	if got := Keep(maps.Clone(data), nil); !maps.Equal(got, data) {
		t.Errorf("nil keep dropped fields: %v", got)
	}
	if got := Keep(maps.Clone(data), []string{"myinfo.name"}); len(got) != 1 || got["myinfo.name"] != "A" {
		t.Errorf("Keep = %v, want only myinfo.name", got)
	}
	if got := Keep(maps.Clone(data), []string{}); len(got) != 0 {
		t.Errorf("empty keep kept %v", got)
	}
	if err := CheckKept([]string{"myinfo.name"}, "x", NRIC+":unmasked"); err == nil {
		t.Error("CheckKept passed a field keep_fields drops")
	}
	for _, spec := range []string{"myinfo.name", "sub", "pseudonym:app", "iceCream"} {
		if err := CheckKept([]string{"myinfo.name"}, "x", spec); err != nil {
			t.Errorf("CheckKept(%q): %v", spec, err)
		}
	}
}
