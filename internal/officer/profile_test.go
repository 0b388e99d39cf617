package officer

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	ogp := Profile{
		AgencyName:      "Open Government Products",
		DepartmentName:  "Identity",
		EmploymentTitle: "Software Engineer",
		EmploymentType:  "Permanent",
		WorkEmail:       "jane_tan@tech.gov.sg",
	}
	for _, tc := range []struct {
		name string
		raw  string
		want []Profile
	}{
		{"empty", "", nil},
		{"white space", " \n\t", nil},
		{"NA", "NA", nil},
		{"NA with white space", " NA\n", nil},
		{"empty array", "[]", nil},
		{"empty array with white space", " [ ] ", nil},
		{"one profile", `[{"agency_name":"Open Government Products","department_name":"Identity","employment_title":"Software Engineer","employment_type":"Permanent","work_email":"jane_tan@tech.gov.sg"}]`,
			[]Profile{ogp}},
		{"fields in another order, unknown fields ignored", `[{"work_email":"jane_tan@tech.gov.sg","extra":{"a":[1]},"employment_type":"Permanent","employment_title":"Software Engineer","department_name":"Identity","agency_name":"Open Government Products","n":3}]`,
			[]Profile{ogp}},
		{"work email trimmed and lower-cased", `[{"work_email":"  Jane_Tan@TECH.Gov.SG\n"}]`,
			[]Profile{{WorkEmail: "jane_tan@tech.gov.sg"}}},
		{"other fields kept as given", `[{"agency_name":" Open  Government products ","employment_title":"SENIOR manager\t"}]`,
			[]Profile{{AgencyName: " Open  Government products ", EmploymentTitle: "SENIOR manager\t"}}},
		{"lower-casing is ASCII only", `[{"work_email":"ÉLÈVE@\u212Aeep.GOV.sg"}]`,
			// The Kelvin sign stays: strings.ToLower would make it an ASCII k.
			[]Profile{{WorkEmail: "ÉlÈve@\u212Aeep.gov.sg"}}},
		{"NA fields become empty", `[{"agency_name":"NA","department_name":"NA","employment_title":"NA","employment_type":"NA","work_email":" NA "}]`,
			[]Profile{{}}},
		{"na in lower case is kept", `[{"department_name":"na","agency_name":"N/A"}]`,
			[]Profile{{DepartmentName: "na", AgencyName: "N/A"}}},
		{"absent and null fields are empty", `[{"agency_name":null,"work_email":"a@b.gov.sg"}]`,
			[]Profile{{WorkEmail: "a@b.gov.sg"}}},
		{"escapes decoded", `[{"agency_name":"A \u0026 B \"C\""}]`,
			[]Profile{{AgencyName: `A & B "C"`}}},
		{"three jobs in order", `[{"work_email":"a@x.gov.sg"},{"work_email":"b@y.gov.sg"},{"work_email":"c@z.example"}]`,
			[]Profile{{WorkEmail: "a@x.gov.sg"}, {WorkEmail: "b@y.gov.sg"}, {WorkEmail: "c@z.example"}}},
		{"duplicates kept once, after normalizing", `[{"work_email":"a@x.gov.sg"},{"work_email":"b@y.gov.sg"},{"work_email":"A@X.gov.sg "}]`,
			[]Profile{{WorkEmail: "a@x.gov.sg"}, {WorkEmail: "b@y.gov.sg"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	secret := "jane_tan@tech.gov.sg"
	for _, tc := range []struct {
		name string
		raw  string
		want error
		msg  string
	}{
		{"an object", `{"work_email":"` + secret + `"}`, ErrMalformed, "not a JSON array"},
		{"a string", `"` + secret + `"`, ErrMalformed, "not a JSON array"},
		{"null", `null`, ErrMalformed, "not a JSON array"},
		{"text", `TAN AH KOW`, ErrMalformed, "not a JSON array"},
		{"truncated", `[{"work_email":"` + secret + `"`, ErrMalformed, "invalid JSON"},
		{"trailing data", `[{"work_email":"` + secret + `"}] x`, ErrMalformed, "invalid JSON at byte"},
		{"two arrays", `[][]`, ErrMalformed, "invalid JSON"},
		{"a number in the array", `[1]`, ErrMalformed, "profile 1: not a JSON object"},
		{"null in the array", `[{},null]`, ErrMalformed, "profile 2: not a JSON object"},
		{"a string in the array", `["` + secret + `"]`, ErrMalformed, "profile 1: not a JSON object"},
		{"an array in the array", `[[]]`, ErrMalformed, "profile 1: not a JSON object"},
		{"a number field", `[{"work_email":1}]`, ErrMalformed, "work_email is not a string"},
		{"a boolean field", `[{"work_email":"` + secret + `","agency_name":true}]`, ErrMalformed, "agency_name is not a string"},
		{"an object field", `[{"employment_type":{"a":"` + secret + `"}}]`, ErrMalformed, "employment_type is not a string"},
		{"not UTF-8", "[{\"agency_name\":\"\xff\"}]", ErrMalformed, "not UTF-8"},
		{"too long", "[" + strings.Repeat(" ", MaxInput) + "]", ErrTooLarge, "at most 65536"},
		{"too many", "[" + strings.Repeat(`{"work_email":"a@b.gov.sg"},`, MaxProfiles) + `{}]`, ErrTooLarge, "65 profiles, at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse = %v, %v; want %v", got, err, tc.want)
			}
			if got != nil {
				t.Errorf("Parse returned profiles with its error: %v", got)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "tech.gov") {
				t.Errorf("error %q quotes the value", err)
			}
		})
	}
}

// The limits are limits, not an approximation: MaxProfiles distinct
// profiles and MaxInput bytes still parse.
func TestParseAtTheLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range MaxProfiles {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"work_email":"u%d@x.gov.sg"}`, i)
	}
	b.WriteString("]")
	ps, err := Parse(b.String())
	if err != nil || len(ps) != MaxProfiles {
		t.Fatalf("%d profiles: %d, %v", MaxProfiles, len(ps), err)
	}
	padded := b.String() + strings.Repeat(" ", MaxInput-b.Len())
	if ps, err := Parse(padded); err != nil || len(ps) != MaxProfiles {
		t.Fatalf("%d bytes: %d, %v", len(padded), len(ps), err)
	}
	if _, err := Parse(padded + " "); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("%d bytes: %v, want ErrTooLarge", len(padded)+1, err)
	}
}

func TestFields(t *testing.T) {
	p := Profile{AgencyName: "A", DepartmentName: "D", EmploymentTitle: "T", EmploymentType: "E", WorkEmail: "w@x.gov.sg"}
	want := map[string]string{
		"officer.agency_name":      "A",
		"officer.department_name":  "D",
		"officer.employment_title": "T",
		"officer.employment_type":  "E",
		"officer.work_email":       "w@x.gov.sg",
	}
	if got := p.Fields(); !reflect.DeepEqual(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
	empty := Profile{}.Fields()
	if len(empty) != len(FieldKeys) {
		t.Fatalf("an empty profile has %d fields, want all %d", len(empty), len(FieldKeys))
	}
	for _, k := range FieldKeys {
		if v, ok := empty[k]; !ok || v != "" {
			t.Errorf("empty profile: %s = %q, %v", k, v, ok)
		}
		if _, ok := want[k]; !ok {
			t.Errorf("FieldKeys has %s, which Fields does not give", k)
		}
	}
}
