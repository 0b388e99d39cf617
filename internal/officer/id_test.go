package officer

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
)

var (
	keyA = []byte("0123456789abcdef0123456789abcdef")
	keyB = []byte("fedcba9876543210fedcba9876543210")
)

var idShape = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func threeJobs() []Profile {
	return []Profile{
		{AgencyName: "Example Agency", DepartmentName: "Digital", EmploymentTitle: "PM", EmploymentType: "Permanent", WorkEmail: "goh@example-agency.gov.sg"},
		{AgencyName: "Example Agency", DepartmentName: "Policy", EmploymentTitle: "DD", EmploymentType: "Fixed Term", WorkEmail: "goh@policy.example-agency.gov.sg"},
		{AgencyName: "Sample Board", EmploymentTitle: "Advisor", EmploymentType: "Contract", WorkEmail: "goh@sample-board.example"},
	}
}

func TestIDShapeAndStability(t *testing.T) {
	ps := threeJobs()
	seen := map[string]bool{}
	for _, p := range ps {
		id := p.ID(keyA)
		if !idShape.MatchString(id) {
			t.Errorf("id %q is not 22 characters of base64url", id)
		}
		if id != p.ID(bytes.Clone(keyA)) {
			t.Error("the same profile and key gave two ids")
		}
		if seen[id] {
			t.Errorf("two profiles share the id %q", id)
		}
		seen[id] = true
		if p.ID(keyB) == id {
			t.Error("two keys gave the same id")
		}
	}
	// The id does not depend on where sgID lists the job.
	if ps[2].ID(keyA) != List([]Profile{ps[2], ps[0]}, keyA)[0].ID {
		t.Error("the id changed with the profile's position")
	}
}

// Every field is part of the id, and the encoding is unambiguous: moving
// characters from one field to the next gives another id.
func TestIDCoversEveryFieldUnambiguously(t *testing.T) {
	base := Profile{AgencyName: "ab", DepartmentName: "c", EmploymentTitle: "d", EmploymentType: "e", WorkEmail: "f@g.gov.sg"}
	variants := map[string]Profile{}
	for name, change := range map[string]func(*Profile){
		"agency":     func(p *Profile) { p.AgencyName += "x" },
		"department": func(p *Profile) { p.DepartmentName += "x" },
		"title":      func(p *Profile) { p.EmploymentTitle += "x" },
		"type":       func(p *Profile) { p.EmploymentType += "x" },
		"email":      func(p *Profile) { p.WorkEmail += "x" },
		"shifted":    func(p *Profile) { p.AgencyName, p.DepartmentName = "a", "bc" },
		"swapped":    func(p *Profile) { p.EmploymentTitle, p.EmploymentType = p.EmploymentType, p.EmploymentTitle },
	} {
		v := base
		change(&v)
		variants[name] = v
	}
	id := base.ID(keyA)
	for name, v := range variants {
		if v.ID(keyA) == id {
			t.Errorf("%s: same id as the original", name)
		}
	}
}

func TestFind(t *testing.T) {
	ps := threeJobs()
	for _, p := range ps {
		got, ok := Find(ps, p.ID(keyA), keyA)
		if !ok || got != p {
			t.Errorf("Find(own id) = %v, %v", got, ok)
		}
		// Another session's id for the very same profile.
		if got, ok := Find(ps, p.ID(keyB), keyA); ok {
			t.Errorf("an id under another key found %v", got)
		}
	}
	id := ps[0].ID(keyA)
	for name, forged := range map[string]string{
		"empty":              "",
		"all A":              "AAAAAAAAAAAAAAAAAAAAAA",
		"one character off":  flipLast(id),
		"one character more": id + "A",
		"one character less": id[:len(id)-1],
		"padded":             id + "==",
		"upper case":         upper(id),
	} {
		if forged == id {
			continue
		}
		if got, ok := Find(ps, forged, keyA); ok {
			t.Errorf("%s: forged id %q found %v", name, forged, got)
		}
	}
	if _, ok := Find(nil, id, keyA); ok {
		t.Error("found a profile in an empty list")
	}
}

// A missing or short key must never make ids match: every profile would
// otherwise share the id of an empty key.
func TestShortKey(t *testing.T) {
	ps := threeJobs()
	for _, key := range [][]byte{nil, {}, keyA[:MinKeyLen-1]} {
		if id := ps[0].ID(key); id != "" {
			t.Errorf("ID with a %d-byte key = %q, want empty", len(key), id)
		}
		if _, ok := Find(ps, "", key); ok {
			t.Errorf("Find(\"\") with a %d-byte key found a profile", len(key))
		}
		if _, ok := Find(ps, ps[0].ID(keyA), key); ok {
			t.Errorf("Find with a %d-byte key found a profile", len(key))
		}
	}
	if ps[0].ID(keyA[:MinKeyLen]) == "" {
		t.Errorf("a key of MinKeyLen bytes was refused")
	}
}

func TestIDKey(t *testing.T) {
	secret := []byte("a sealing key of at least 32 bytes!!")
	k1, err := IDKey(secret, "session-1")
	if err != nil || len(k1) != 32 {
		t.Fatalf("IDKey = %d bytes, %v", len(k1), err)
	}
	again, _ := IDKey(bytes.Clone(secret), "session-1")
	other, _ := IDKey(secret, "session-2")
	otherSecret, _ := IDKey([]byte("another sealing key of 32 bytes!!!!"), "session-1")
	if !bytes.Equal(k1, again) {
		t.Error("IDKey is not deterministic")
	}
	if bytes.Equal(k1, other) || bytes.Equal(k1, otherSecret) {
		t.Error("two sessions or two secrets gave the same key")
	}
	if bytes.Contains(k1, secret[:8]) {
		t.Error("the key holds the secret")
	}
	p := threeJobs()[0]
	if _, ok := Find([]Profile{p}, p.ID(k1), other); ok {
		t.Error("an id of session 1 was found in session 2")
	}
	if _, err := IDKey(secret[:MinKeyLen-1], "s"); err == nil {
		t.Error("IDKey accepted a short secret")
	}
}

func TestListJSON(t *testing.T) {
	p := threeJobs()[2]
	b, err := json.Marshal(List([]Profile{p}, keyA))
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":"` + p.ID(keyA) + `","agency_name":"Sample Board","department_name":"","employment_title":"Advisor","employment_type":"Contract","work_email":"goh@sample-board.example"}]`
	if string(b) != want {
		t.Errorf("List encodes as\n%s\nwant\n%s", b, want)
	}
}

func flipLast(id string) string {
	b := []byte(id)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

func upper(s string) string {
	return string(bytes.ToUpper([]byte(s)))
}
