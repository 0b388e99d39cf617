package officer

import (
	"errors"
	"testing"
)

func TestStart(t *testing.T) {
	one := `[{"work_email":"a@tech.gov.sg","agency_name":"GovTech","employment_type":"Permanent"}]`
	two := `[{"work_email":"a@tech.gov.sg"},{"work_email":"a@moe.gov.sg"}]`
	tech, _ := CompileFor([]string{"tech.gov.sg"}, []string{Scope})
	for _, tc := range []struct {
		name, raw string
		rules     *Rules
		jobs      int    // the jobs kept
		email     string // the chosen profile's; "" for none
		err       error
		reason    string
	}{
		{"one job, no rules", one, nil, 1, "a@tech.gov.sg", nil, ""},
		{"one job allowed", one, tech, 1, "a@tech.gov.sg", nil, ""},
		{"two jobs, one allowed", two, tech, 1, "a@tech.gov.sg", nil, ""},
		{"two jobs, no rules: the choice is pending", two, nil, 2, "", nil, ""},
		{"no officer, no rules", "NA", nil, 0, "", nil, ""},
		{"no officer", "[]", tech, 0, "", ErrNoProfile, "no_officer_profile"},
		{"absent", "", tech, 0, "", ErrNoProfile, "no_officer_profile"},
		{"not allowed", `[{"work_email":"a@moe.gov.sg"}]`, tech, 0, "", ErrNotAllowed, "officer_not_allowed"},
		{"malformed", `[1]`, tech, 0, "", ErrMalformed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := map[string]string{}
			if tc.raw != "" {
				data[Scope] = tc.raw
			}
			keys, err := Start(data, tc.rules, nil)
			if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got := Reason(err); got != tc.reason {
				t.Errorf("Reason = %q, want %q", got, tc.reason)
			}
			if tc.jobs == 0 {
				if keys != nil {
					t.Errorf("keys = %v, want none", keys)
				}
				return
			}
			j, ok := Read(keys)
			if !ok || len(j.Profiles) != tc.jobs {
				t.Fatalf("Read(%v) = %+v, %v, want %d jobs", keys, j, ok, tc.jobs)
			}
			if keys[KeyWorkEmail] != tc.email || Pending(keys) != (tc.email == "") {
				t.Errorf("keys = %v, want work email %q, pending %v", keys, tc.email, tc.email == "")
			}
			if _, has := keys[KeyAgencyName]; has != (tc.email != "") {
				t.Errorf("keys = %v: the officer.* fields go with a chosen job only", keys)
			}
		})
	}
	if r, err := CompileFor(nil, nil); r != nil || err != nil {
		t.Errorf("no patterns: %v %v, want no rules", r, err)
	}
}

// keep_fields governs the chosen job's officer.* fields, never the jobs
// themselves: a picker needs them whatever the operator forwards.
func TestStartKeepsTheJobsWhateverKeepSays(t *testing.T) {
	one := map[string]string{Scope: `[{"work_email":"a@tech.gov.sg","agency_name":"GovTech"}]`}
	keys, err := Start(one, nil, []string{"myinfo.name", KeyWorkEmail})
	if err != nil {
		t.Fatal(err)
	}
	if keys[KeyWorkEmail] != "a@tech.gov.sg" || keys[ProfilesKey] == "" || keys[ChosenKey] != "0" {
		t.Errorf("keys = %v, want the jobs, the choice and the kept email", keys)
	}
	if _, has := keys[KeyAgencyName]; has {
		t.Errorf("keys = %v: officer.agency_name is not in keep", keys)
	}
	keys, _ = Start(one, nil, []string{"myinfo.name"})
	if keys[ProfilesKey] == "" || Pending(keys) {
		t.Errorf("keys = %v: with no officer.* field kept the job is still kept and chosen", keys)
	}
}
