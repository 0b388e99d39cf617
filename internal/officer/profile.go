package officer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Profile is one of an officer's jobs, as sgID lists it.
type Profile struct {
	AgencyName      string `json:"agency_name"`
	DepartmentName  string `json:"department_name"`
	EmploymentTitle string `json:"employment_title"`
	EmploymentType  string `json:"employment_type"`
	// WorkEmail is trimmed and lower-cased in ASCII.
	WorkEmail string `json:"work_email"`
}

// Limits of Parse.
const (
	// MaxInput is the longest value Parse reads, in bytes.
	MaxInput = 64 << 10
	// MaxProfiles is the most profiles one officer may have.
	MaxProfiles = 64
)

var (
	// ErrMalformed is wrapped by the errors of a value that is not a JSON
	// array of profiles.
	ErrMalformed = errors.New("malformed public officer details")
	// ErrTooLarge is wrapped by the errors of a value beyond MaxInput bytes
	// or MaxProfiles profiles.
	ErrTooLarge = errors.New("public officer details too large")
)

// The keys of Fields.
const (
	KeyAgencyName      = "officer.agency_name"
	KeyDepartmentName  = "officer.department_name"
	KeyEmploymentTitle = "officer.employment_title"
	KeyEmploymentType  = "officer.employment_type"
	KeyWorkEmail       = "officer.work_email"
)

// FieldKeys lists the keys of Fields in a fixed order.
var FieldKeys = []string{KeyAgencyName, KeyDepartmentName, KeyEmploymentTitle, KeyEmploymentType, KeyWorkEmail}

// notApplicable is sgID's value for a field that does not apply.
const notApplicable = "NA"

// Parse decodes the value of pocdex.public_officer_details (see the
// package documentation).
func Parse(raw string) ([]Profile, error) {
	if len(raw) > MaxInput {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(raw), MaxInput)
	}
	t := strings.TrimSpace(raw)
	if t == "" || t == notApplicable {
		return nil, nil
	}
	if !utf8.ValidString(t) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrMalformed)
	}
	if t[0] != '[' {
		return nil, fmt.Errorf("%w: not a JSON array", ErrMalformed)
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(t), &items); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, jsonProblem(err))
	}
	if len(items) > MaxProfiles {
		return nil, fmt.Errorf("%w: %d profiles, at most %d", ErrTooLarge, len(items), MaxProfiles)
	}
	out := make([]Profile, 0, len(items))
	seen := make(map[Profile]bool, len(items))
	for i, item := range items {
		p, err := parseProfile(item)
		if err != nil {
			return nil, fmt.Errorf("%w: profile %d: %s", ErrMalformed, i+1, err)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// jsonProblem describes a decoding error without quoting the value: a
// syntax error by its offset, a type error by the JSON type found.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("a JSON %s where an array was expected", typ.Value)
	}
	return "invalid JSON"
}

func parseProfile(item json.RawMessage) (Profile, error) {
	if t := strings.TrimSpace(string(item)); t == "" || t[0] != '{' {
		return Profile{}, errors.New("not a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(item, &fields); err != nil {
		return Profile{}, errors.New(jsonProblem(err))
	}
	var p Profile
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"agency_name", &p.AgencyName},
		{"department_name", &p.DepartmentName},
		{"employment_title", &p.EmploymentTitle},
		{"employment_type", &p.EmploymentType},
		{"work_email", &p.WorkEmail},
	} {
		v, ok := fields[f.name]
		if !ok || string(v) == "null" {
			continue
		}
		if v[0] != '"' {
			return Profile{}, fmt.Errorf("%s is not a string", f.name)
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return Profile{}, fmt.Errorf("%s: %s", f.name, jsonProblem(err))
		}
		if *f.dst == notApplicable {
			*f.dst = ""
		}
	}
	if p.WorkEmail = strings.TrimSpace(p.WorkEmail); p.WorkEmail == notApplicable {
		p.WorkEmail = ""
	}
	p.WorkEmail = asciiLower(p.WorkEmail)
	return p, nil
}

// asciiLower lower-cases the ASCII letters of s and keeps every other
// byte as it is.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Fields returns the profile's fields under FieldKeys.
func (p Profile) Fields() map[string]string {
	return map[string]string{
		KeyAgencyName:      p.AgencyName,
		KeyDepartmentName:  p.DepartmentName,
		KeyEmploymentTitle: p.EmploymentTitle,
		KeyEmploymentType:  p.EmploymentType,
		KeyWorkEmail:       p.WorkEmail,
	}
}
