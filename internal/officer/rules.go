package officer

import (
	"errors"
	"fmt"
	"strings"
)

// Rules is a compiled allow_officer list. The zero Rules allows nothing.
type Rules struct {
	patterns []pattern
}

type patternKind int

const (
	kindDomain     patternKind = iota // the email's domain equals value
	kindSubdomains                    // the email's domain ends in "." + value
	kindAgency                        // the agency name folds to value
	kindType                          // the employment type folds to value
)

type pattern struct {
	kind  patternKind
	value string // lower-case domain, or name with white space collapsed
}

func (p pattern) String() string {
	switch p.kind {
	case kindSubdomains:
		return "*." + p.value
	case kindAgency:
		return "agency:" + p.value
	case kindType:
		return "type:" + p.value
	}
	return p.value
}

// Compile parses allow_officer patterns (see the package documentation).
func Compile(patterns []string) (Rules, error) {
	if len(patterns) == 0 {
		return Rules{}, errors.New("allow_officer: no patterns")
	}
	var r Rules
	seen := map[pattern]bool{}
	for _, raw := range patterns {
		p, err := compileOne(raw)
		if err != nil {
			return Rules{}, fmt.Errorf("allow_officer %q: %w", raw, err)
		}
		if !seen[p] {
			seen[p] = true
			r.patterns = append(r.patterns, p)
		}
	}
	return r, nil
}

func compileOne(raw string) (pattern, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return pattern{}, errors.New("empty pattern")
	}
	if prefix, value, ok := strings.Cut(s, ":"); ok {
		var kind patternKind
		switch asciiLower(strings.TrimSpace(prefix)) {
		case "agency":
			kind = kindAgency
		case "type":
			kind = kindType
		default:
			return pattern{}, fmt.Errorf("unknown kind %q: write agency:NAME, type:TYPE or a work email domain such as *.gov.sg", prefix)
		}
		value, err := unquote(value)
		if err != nil {
			return pattern{}, err
		}
		value = collapseSpace(value)
		if value == "" {
			return pattern{}, fmt.Errorf("%s: needs a value after the colon", prefix)
		}
		return pattern{kind: kind, value: value}, nil
	}
	if strings.Contains(s, `"`) {
		return pattern{}, errors.New(`a lone quote: in a Caddyfile, quote the whole pattern, as in "agency:Open Government Products"`)
	}
	return compileDomain(s)
}

// unquote strips one pair of double quotes around v, as JSON configs may
// write agency:"Open Government Products"; any other quote is an error.
func unquote(v string) (string, error) {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if strings.Contains(v, `"`) {
		return "", errors.New(`a lone quote: in a Caddyfile, quote the whole pattern, as in "agency:Open Government Products"`)
	}
	return v, nil
}

// collapseSpace trims s and turns every run of white space into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func compileDomain(s string) (pattern, error) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return pattern{}, errors.New("a domain must be ASCII: write an internationalized domain in its xn-- form")
		}
	}
	d := asciiLower(s)
	switch {
	case strings.Contains(d, "@"):
		return pattern{}, errors.New("a domain, not an email address: write the part after @ (such as tech.gov.sg or *.gov.sg)")
	case d == "*" || d == "*.":
		return pattern{}, errors.New(`"*" alone is not a domain; write *.gov.sg for every subdomain of gov.sg`)
	case strings.HasSuffix(d, "."):
		return pattern{}, errors.New("drop the trailing dot")
	}
	kind := kindDomain
	if rest, ok := strings.CutPrefix(d, "*."); ok {
		kind, d = kindSubdomains, rest
	}
	if strings.Contains(d, "*") {
		return pattern{}, errors.New("* stands for whole labels and must come first, as in *.gov.sg")
	}
	if kind == kindDomain && !strings.Contains(d, ".") {
		return pattern{}, fmt.Errorf("%q has no dot, so it is not a work email domain; did you mean agency:%s or type:%s?", s, s, s)
	}
	if !validHost(d) {
		return pattern{}, errors.New("not a valid domain: labels of 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen")
	}
	return pattern{kind: kind, value: d}, nil
}

// validHost reports whether d is a lower-case ASCII host name: labels of
// 1..63 of [a-z0-9-], not starting or ending with '-', 253 bytes at most.
func validHost(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// emailDomain returns the domain of a work email that has exactly one '@',
// a non-empty local part and a valid ASCII host name after it (already
// lower case, as Parse leaves it); ok is false for anything else.
func emailDomain(email string) (string, bool) {
	// A second '@' lands in domain, which is then no host name.
	local, domain, ok := strings.Cut(email, "@")
	if !ok || local == "" || !validHost(domain) {
		return "", false
	}
	return domain, true
}

// Allows reports whether the profile matches any pattern.
func (r Rules) Allows(p Profile) bool {
	domain, hasDomain := emailDomain(p.WorkEmail)
	for _, pat := range r.patterns {
		switch pat.kind {
		case kindDomain:
			if hasDomain && domain == pat.value {
				return true
			}
		case kindSubdomains:
			// The domain is a valid host name, so a label precedes the dot.
			if hasDomain && strings.HasSuffix(domain, "."+pat.value) {
				return true
			}
		case kindAgency:
			if strings.EqualFold(collapseSpace(p.AgencyName), pat.value) {
				return true
			}
		case kindType:
			if strings.EqualFold(collapseSpace(p.EmploymentType), pat.value) {
				return true
			}
		}
	}
	return false
}

// Filter returns the profiles the rules allow, in order.
func (r Rules) Filter(profiles []Profile) []Profile {
	var out []Profile
	for _, p := range profiles {
		if r.Allows(p) {
			out = append(out, p)
		}
	}
	return out
}

// Patterns returns the canonical form of each pattern, without duplicates.
func (r Rules) Patterns() []string {
	out := make([]string, len(r.patterns))
	for i, p := range r.patterns {
		out[i] = p.String()
	}
	return out
}
