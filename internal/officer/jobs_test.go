package officer

import (
	"encoding/json"
	"maps"
	"testing"
)

// sessionOf is the data a login of an officer with ps starts with, beside
// sgID's name.
func sessionOf(t *testing.T, ps []Profile, keep []string) map[string]string {
	t.Helper()
	raw, _ := json.Marshal(ps)
	keys, err := Start(map[string]string{Scope: string(raw)}, nil, keep)
	if err != nil {
		t.Fatal(err)
	}
	keys["myinfo.name"] = "GOH MEI LING"
	return keys
}

// A choice is pending exactly while the session has jobs and none is
// chosen, whatever the officer.* fields hold (keep_fields may drop them
// all, and a job's email may be empty).
func TestPending(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]string
		want bool
	}{
		{"no officer data", map[string]string{"myinfo.name": "A"}, false},
		{"jobs, none chosen", map[string]string{ProfilesKey: "[{},{}]"}, true},
		{"jobs, one chosen", map[string]string{ProfilesKey: "[{},{}]", ChosenKey: "1"}, false},
		{"jobs, none chosen, a stray email", map[string]string{ProfilesKey: "[{},{}]", KeyWorkEmail: "a@b.gov.sg"}, true},
		{"a chosen job with an empty email", map[string]string{ProfilesKey: "[{},{}]", ChosenKey: "0", KeyWorkEmail: ""}, false},
		{"an empty list", map[string]string{ProfilesKey: ""}, false},
	} {
		if got := Pending(tc.data); got != tc.want {
			t.Errorf("%s: Pending = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Choosing a job by its id sets the choice and that job's fields; choosing
// another later replaces them; an id of another session or a forged one
// chooses nothing and leaves the data as it was.
func TestChoose(t *testing.T) {
	ps := threeJobs()
	data := sessionOf(t, ps, nil)
	before := maps.Clone(data)
	if !Pending(data) {
		t.Fatalf("three jobs: not pending: %v", data)
	}
	key, err := SessionKey("a-session-id-of-enough-length-0123456789ab")
	if err != nil {
		t.Fatal(err)
	}
	entries := List(ps, key)

	next, chosen, ok := Choose(data, entries[1].ID, key, nil)
	if !ok || chosen != entries[1] {
		t.Fatalf("Choose the second: %v, %+v", ok, chosen)
	}
	if Pending(next) || next[KeyWorkEmail] != ps[1].WorkEmail || next[KeyDepartmentName] != ps[1].DepartmentName || next["myinfo.name"] != "GOH MEI LING" {
		t.Errorf("after choosing the second: %v", next)
	}
	if j, _ := Read(next); j.Chosen != 1 || len(j.Profiles) != 3 {
		t.Errorf("Read after choosing: %+v", j)
	}
	if !maps.Equal(data, before) {
		t.Error("Choose changed the data it was given")
	}

	// The third job has no department: the second's must not linger.
	again, _, ok := Choose(next, entries[2].ID, key, nil)
	if !ok || again[KeyWorkEmail] != ps[2].WorkEmail || again[KeyDepartmentName] != "" || again[ChosenKey] != "2" {
		t.Errorf("switching to the third: %v, %v", ok, again)
	}

	otherKey, _ := SessionKey("another-session-id-of-enough-length-012345")
	for name, id := range map[string]string{
		"another session's id": List(ps, otherKey)[0].ID,
		"a forged id":          "AAAAAAAAAAAAAAAAAAAAAA",
		"too short":            entries[0].ID[:21],
		"empty":                "",
	} {
		if got, _, ok := Choose(next, id, key, nil); ok || got != nil {
			t.Errorf("%s chose %v", name, got)
		}
	}
	if _, _, ok := Choose(map[string]string{"myinfo.name": "A"}, entries[0].ID, key, nil); ok {
		t.Error("a session without jobs chose one")
	}
}

// keep_fields decides which of the chosen job's fields the session keeps.
func TestChooseKeepsAsKeepSays(t *testing.T) {
	ps := threeJobs()
	keep := []string{"myinfo.name", KeyWorkEmail}
	data := sessionOf(t, ps, keep)
	key, _ := SessionKey("a-session-id-of-enough-length-0123456789ab")
	next, _, ok := Choose(data, List(ps, key)[0].ID, key, keep)
	if !ok || next[KeyWorkEmail] != ps[0].WorkEmail || Pending(next) {
		t.Fatalf("chose: %v %v", ok, next)
	}
	if _, has := next[KeyAgencyName]; has {
		t.Errorf("officer.agency_name is not kept, yet: %v", next)
	}
}

// Read refuses what this package did not write: a choice out of range or
// not a number, a list that is not one.
func TestReadRefusesOtherValues(t *testing.T) {
	for name, data := range map[string]map[string]string{
		"no list":         {ChosenKey: "0"},
		"not JSON":        {ProfilesKey: "NA"},
		"empty list":      {ProfilesKey: "[]"},
		"choice too far":  {ProfilesKey: `[{"work_email":"a@b.gov.sg"}]`, ChosenKey: "1"},
		"negative choice": {ProfilesKey: `[{"work_email":"a@b.gov.sg"}]`, ChosenKey: "-1"},
		"not a number":    {ProfilesKey: `[{"work_email":"a@b.gov.sg"}]`, ChosenKey: "first"},
	} {
		if j, ok := Read(data); ok {
			t.Errorf("%s: read %+v", name, j)
		}
	}
}

func TestOwnAndDerived(t *testing.T) {
	for _, k := range []string{ProfilesKey, ChosenKey} {
		if !Own(k) || !Derived(k) {
			t.Errorf("%s is the handler's own", k)
		}
	}
	for _, k := range FieldKeys {
		if Own(k) || !Derived(k) {
			t.Errorf("%s is derived, not the handler's own", k)
		}
	}
	for _, k := range []string{Scope, "myinfo.name", "officer.other"} {
		if Own(k) || Derived(k) {
			t.Errorf("%s is sgID's or unknown", k)
		}
	}
}

// The session key needs an id as long as a session's.
func TestSessionKey(t *testing.T) {
	if _, err := SessionKey("short"); err == nil {
		t.Error("a short id made a key")
	}
	a, _ := SessionKey("a-session-id-of-enough-length-0123456789ab")
	b, _ := SessionKey("another-session-id-of-enough-length-012345")
	if len(a) < MinKeyLen || string(a) == string(b) {
		t.Error("two sessions share a key, or it is short")
	}
}
