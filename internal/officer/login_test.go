package officer

import (
	"errors"
	"testing"
)

func TestChoose(t *testing.T) {
	one := `[{"work_email":"a@tech.gov.sg","agency_name":"GovTech","employment_type":"Permanent"}]`
	two := `[{"work_email":"a@tech.gov.sg"},{"work_email":"a@moe.gov.sg"}]`
	tech, _ := CompileFor([]string{"tech.gov.sg"}, []string{Scope})
	for _, tc := range []struct {
		name, raw string
		rules     *Rules
		email     string // the chosen profile's; "" for none
		err       error
		reason    string
	}{
		{"one job, no rules", one, nil, "a@tech.gov.sg", nil, ""},
		{"one job allowed", one, tech, "a@tech.gov.sg", nil, ""},
		{"two jobs, one allowed", two, tech, "a@tech.gov.sg", nil, ""},
		{"two jobs, no rules: no choice", two, nil, "", nil, ""},
		{"no officer, no rules", "NA", nil, "", nil, ""},
		{"no officer", "[]", tech, "", ErrNoProfile, "no_officer_profile"},
		{"absent", "", tech, "", ErrNoProfile, "no_officer_profile"},
		{"not allowed", `[{"work_email":"a@moe.gov.sg"}]`, tech, "", ErrNotAllowed, "officer_not_allowed"},
		{"malformed", `[1]`, tech, "", ErrMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := map[string]string{}
			if tc.raw != "" {
				data[Scope] = tc.raw
			}
			fields, err := Choose(data, tc.rules)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if fields[KeyWorkEmail] != tc.email || (tc.email == "") != (fields == nil) {
				t.Errorf("fields = %v, want work email %q", fields, tc.email)
			}
			if got := Reason(err); got != tc.reason {
				t.Errorf("Reason = %q, want %q", got, tc.reason)
			}
		})
	}
	if r, err := CompileFor(nil, nil); r != nil || err != nil {
		t.Errorf("no patterns: %v %v, want no rules", r, err)
	}
}
