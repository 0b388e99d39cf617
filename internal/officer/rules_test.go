package officer

import (
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func email(e string) Profile { return Profile{WorkEmail: e} }

func TestRulesAllow(t *testing.T) {
	type want struct {
		p  Profile
		ok bool
	}
	for _, tc := range []struct {
		name     string
		patterns []string
		cases    []want
	}{
		{"subdomains", []string{"*.gov.sg"}, []want{
			{email("a@tech.gov.sg"), true},
			{email("a@a.b.gov.sg"), true},
			{email("a@gov.sg"), false},
			{email("a@evilgov.sg"), false},
			{email("a@tech.gov.sg.example.com"), false},
			{email("a@tech.gov.sgx"), false},
			{email("a@.gov.sg"), false},
			{email("a@x..gov.sg"), false},
		}},
		{"exact domain", []string{"tech.gov.sg"}, []want{
			{email("a@tech.gov.sg"), true},
			{email("a@x.tech.gov.sg"), false},
			{email("a@gov.sg"), false},
			{email("a@tech.gov.sg."), false},
		}},
		{"the parent domain only when listed too", []string{"*.gov.sg", "gov.sg"}, []want{
			{email("a@gov.sg"), true},
			{email("a@tech.gov.sg"), true},
			{email("a@gov.sg.example"), false},
		}},
		{"domains compared in lower case", []string{"*.GOV.SG", "Tech.Example"}, []want{
			{email("a@hr.gov.sg"), true},
			{email("a@tech.example"), true},
		}},
		{"odd work emails match no domain", []string{"*.gov.sg", "tech.gov.sg"}, []want{
			{email(""), false},
			{email("tech.gov.sg"), false},
			{email("@tech.gov.sg"), false},
			{email("a@evil.example@tech.gov.sg"), false},
			{email("a@tech.gov.sg@evil.example"), false},
			{email("a@tech_x.gov.sg"), false},
			{email("a@-x.gov.sg"), false},
			{email("a@x.gov.sg "), false},
			{email("a@x.gov.sg\u200b"), false},
			// Parse keeps the Kelvin sign; a Unicode lower-casing would
			// have made this keep.gov.sg.
			{email("a@\u212Aeep.gov.sg"), false},
			{email("a@" + strings.Repeat("a", 64) + ".gov.sg"), false},
		}},
		{"agency", []string{"agency:Open Government Products"}, []want{
			{Profile{AgencyName: "Open Government Products"}, true},
			{Profile{AgencyName: "OPEN GOVERNMENT PRODUCTS"}, true},
			{Profile{AgencyName: " open  government\tproducts "}, true},
			{Profile{AgencyName: "Open Government Products Office"}, false},
			{Profile{AgencyName: "Open Government"}, false},
			{Profile{}, false},
			{Profile{DepartmentName: "Open Government Products"}, false},
			{Profile{EmploymentType: "Open Government Products"}, false},
		}},
		{"employment type", []string{"type:Permanent", `type:"Fixed Term"`}, []want{
			{Profile{EmploymentType: "Permanent"}, true},
			{Profile{EmploymentType: "PERMANENT"}, true},
			{Profile{EmploymentType: "fixed term"}, true},
			{Profile{EmploymentType: "Contract"}, false},
			{Profile{EmploymentType: "Permanent (Secondment)"}, false},
			{Profile{AgencyName: "Permanent"}, false},
			{Profile{}, false},
		}},
		{"any pattern suffices", []string{"*.gov.sg", "type:Permanent", "agency:Sample Board"}, []want{
			{Profile{WorkEmail: "a@x.example", EmploymentType: "Permanent"}, true},
			{Profile{WorkEmail: "a@hr.gov.sg", EmploymentType: "Contract"}, true},
			{Profile{WorkEmail: "a@x.example", AgencyName: "Sample Board"}, true},
			{Profile{WorkEmail: "a@x.example", EmploymentType: "Contract", AgencyName: "Other"}, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Compile(tc.patterns)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for _, c := range tc.cases {
				if got := r.Allows(c.p); got != c.ok {
					t.Errorf("Allows(%+v) = %v, want %v", c.p, got, c.ok)
				}
			}
		})
	}
}

// Work emails come through Parse, which lower-cases them: a domain rule
// sees the lower-case form.
func TestRulesOnParsedProfiles(t *testing.T) {
	ps, err := Parse(`[{"work_email":"Jane@TECH.GOV.SG"},{"work_email":"jane@Sample.Example"}]`)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Compile([]string{"*.gov.sg"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Filter(ps); len(got) != 1 || got[0].WorkEmail != "jane@tech.gov.sg" {
		t.Errorf("Filter = %v", got)
	}
}

func TestZeroRulesAllowNothing(t *testing.T) {
	var r Rules
	if r.Allows(email("a@tech.gov.sg")) || r.Allows(Profile{}) {
		t.Error("the zero Rules allowed a profile")
	}
	if got := r.Filter(threeJobs()); len(got) != 0 {
		t.Errorf("the zero Rules kept %v", got)
	}
}

func TestFilterKeepsOrder(t *testing.T) {
	r, err := Compile([]string{"*.gov.sg"})
	if err != nil {
		t.Fatal(err)
	}
	ps := threeJobs()
	if got, want := r.Filter(ps), ps[:2]; !reflect.DeepEqual(got, want) {
		t.Errorf("Filter = %v, want %v", got, want)
	}
	if got := r.Filter(nil); len(got) != 0 {
		t.Errorf("Filter(nil) = %v", got)
	}
}

func TestCompileRefuses(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		msg      string
	}{
		{nil, "no patterns"},
		{[]string{}, "no patterns"},
		{[]string{""}, "empty pattern"},
		{[]string{"*.gov.sg", "  "}, "empty pattern"},
		{[]string{"Permanent"}, "did you mean agency:Permanent or type:Permanent"},
		{[]string{"localhost"}, "no dot"},
		{[]string{"*"}, `"*" alone`},
		{[]string{"*."}, `"*" alone`},
		{[]string{"a.*.gov.sg"}, "must come first"},
		{[]string{"*tech.gov.sg"}, "must come first"},
		{[]string{"*.*.gov.sg"}, "must come first"},
		{[]string{"@tech.gov.sg"}, "not an email address"},
		{[]string{"jane@tech.gov.sg"}, "not an email address"},
		{[]string{"tech.gov.sg."}, "trailing dot"},
		{[]string{"tëch.gov.sg"}, "xn-- form"},
		{[]string{"*.gov\u00a0.sg"}, "xn-- form"},
		{[]string{"*.gov.sg\u212a"}, "xn-- form"},
		{[]string{"-a.gov.sg"}, "not a valid domain"},
		{[]string{"a-.gov.sg"}, "not a valid domain"},
		{[]string{"a..gov.sg"}, "not a valid domain"},
		{[]string{"tech_team.gov.sg"}, "not a valid domain"},
		{[]string{"a b.gov.sg"}, "not a valid domain"},
		{[]string{strings.Repeat("a", 64) + ".gov.sg"}, "not a valid domain"},
		{[]string{"agency:"}, "needs a value"},
		{[]string{`agency:""`}, "needs a value"},
		{[]string{"type:   "}, "needs a value"},
		{[]string{"dept:Identity"}, `unknown kind "dept"`},
		{[]string{"email:a@b.gov.sg"}, `unknown kind "email"`},
		{[]string{"https://tech.gov.sg"}, `unknown kind "https"`},
		// What a Caddyfile makes of agency:"Open Government Products".
		{[]string{`agency:"Open`}, "quote the whole pattern"},
		{[]string{`Products"`}, "quote the whole pattern"},
		{[]string{`type:Fixed "Term"`}, "quote the whole pattern"},
	} {
		_, err := Compile(tc.patterns)
		if err == nil {
			t.Errorf("Compile(%q) succeeded", tc.patterns)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Compile(%q) = %q, want it to say %q", tc.patterns, err, tc.msg)
		}
		if len(tc.patterns) > 0 && !strings.Contains(err.Error(), "allow_officer") {
			t.Errorf("Compile(%q) = %q does not name the directive", tc.patterns, err)
		}
	}
}

func TestPatternsCanonical(t *testing.T) {
	r, err := Compile([]string{"TECH.GOV.SG", " *.Gov.SG ", `agency:"Open  Government Products"`, "Type:Permanent", "tech.gov.sg", "AGENCY:Open Government Products"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tech.gov.sg", "*.gov.sg", "agency:Open Government Products", "type:Permanent"}
	if got := r.Patterns(); !reflect.DeepEqual(got, want) {
		t.Errorf("Patterns = %q, want %q", got, want)
	}
	// The canonical forms compile to the same rules.
	again, err := Compile(r.Patterns())
	if err != nil || !reflect.DeepEqual(again, r) {
		t.Errorf("Compile(Patterns()) = %v, %v", again.Patterns(), err)
	}
}

// The package documents how patterns are written in a Caddyfile; this
// runs those lines through Caddy's own lexer.
func TestCaddyfileTokens(t *testing.T) {
	d := caddyfile.NewTestDispenser(`allow_officer *.gov.sg "agency:Open Government Products" type:Permanent`)
	d.Next()
	r, err := Compile(d.RemainingArgs())
	if err != nil {
		t.Fatalf("the documented line: %v", err)
	}
	if got, want := r.Patterns(), []string{"*.gov.sg", "agency:Open Government Products", "type:Permanent"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Patterns = %q, want %q", got, want)
	}

	d = caddyfile.NewTestDispenser(`allow_officer agency:"Open Government Products"`)
	d.Next()
	args := d.RemainingArgs()
	if _, err := Compile(args); err == nil || !strings.Contains(err.Error(), "quote the whole pattern") {
		t.Errorf("Compile(%q) = %v, want the quoting hint", args, err)
	}
}
