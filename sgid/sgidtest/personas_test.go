package sgidtest_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// nricCheckLetter computes the check letter of an NRIC or FIN, so the test
// can prove the made-up IDs are invalid and thus nobody's real number.
func nricCheckLetter(id string) byte {
	weights := []int{2, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i, w := range weights {
		sum += int(id[i+1]-'0') * w
	}
	switch id[0] {
	case 'T', 'G':
		sum += 4
	case 'M':
		sum += 3
	}
	switch id[0] {
	case 'S', 'T':
		return "JZIHGFEDCBA"[sum%11]
	case 'F', 'G':
		return "XWUTRQPNMLK"[sum%11]
	}
	return "KLJNPQRTUWX"[sum%11]
}

var nricShape = regexp.MustCompile(`^[STFGM][0-9]{7}[A-Z]$`)

func TestDefaultPersonas(t *testing.T) {
	ps := sgidtest.DefaultPersonas()
	if len(ps) < 4 {
		t.Fatalf("%d personas, want at least 4", len(ps))
	}
	seen := map[string]bool{}
	has := map[string]bool{}
	var nonASCII, na, partialDate, jsonArrayOfObjects bool
	for _, p := range ps {
		if !strings.HasPrefix(p.Sub, "sgidtest:") || seen[p.Sub] {
			t.Errorf("sub %q is not a unique sgidtest: sub", p.Sub)
		}
		seen[p.Sub] = true
		if p.Label == "" {
			t.Errorf("%s has no label", p.Sub)
		}
		for k, v := range p.Data {
			has[k] = true
			if !utf8.ValidString(v) {
				t.Errorf("%s %s is not UTF-8", p.Sub, k)
			}
			if v == "NA" {
				na = true
			}
			if strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") {
				var parsed any
				if err := json.Unmarshal([]byte(v), &parsed); err != nil {
					t.Errorf("%s %s is not valid JSON: %v", p.Sub, k, err)
				}
				if list, ok := parsed.([]any); ok && len(list) > 0 {
					if _, ok := list[0].(map[string]any); ok {
						jsonArrayOfObjects = true
					}
				}
			}
		}
		for _, r := range p.Data["myinfo.name"] {
			if r > 127 {
				nonASCII = true
			}
		}
		if dob := p.Data["myinfo.date_of_birth"]; dob != "" && len(dob) < len("2000-01-01") {
			partialDate = true
		}
		if id := p.Data["myinfo.nric_number"]; id != "" {
			if !nricShape.MatchString(id) {
				t.Errorf("%s: %q does not look like an NRIC", p.Sub, id)
			} else if nricCheckLetter(id) == id[8] {
				t.Errorf("%s: %q has a valid check letter, so it could be a real person's", p.Sub, id)
			}
		}
		if addr := p.Data["myinfo.registered_address"]; addr != "" && addr != "NA" && !strings.Contains(addr, "\n") {
			t.Errorf("%s: address %q is a single line", p.Sub, addr)
		}
	}
	for _, k := range []string{
		"myinfo.name", "myinfo.nric_number", "myinfo.email", "myinfo.mobile_number",
		"myinfo.mobile_number_with_country_code", "myinfo.date_of_birth", "myinfo.registered_address",
		"myinfo.sex", "myinfo.nationality", "myinfo.residentialstatus", "myinfo.vehicles",
		"myinfo.sponsored_child_records", "myinfo.children_birth_records", "pocdex.public_officer_details",
	} {
		if !has[k] {
			t.Errorf("no persona has %s", k)
		}
	}
	if !nonASCII || !na || !partialDate || !jsonArrayOfObjects {
		t.Errorf("coverage: non-ASCII name %v, NA %v, partial date %v, JSON array of objects %v", nonASCII, na, partialDate, jsonArrayOfObjects)
	}

	// Callers get copies: changing one must not change the provider.
	ps[0].Data["myinfo.name"] = "changed"
	if sgidtest.DefaultPersonas()[0].Data["myinfo.name"] == "changed" {
		t.Error("DefaultPersonas shares its maps")
	}
}

func TestProviderCopiesPersonas(t *testing.T) {
	mine := []sgidtest.Persona{{Sub: "sgidtest:me", Data: map[string]string{"myinfo.name": "ME"}}}
	s := newServer(t, sgidtest.Options{Personas: mine})
	mine[0].Data["myinfo.name"] = "changed"
	got := s.Personas()
	got[0].Data["myinfo.name"] = "changed too"
	if s.Personas()[0].Data["myinfo.name"] != "ME" {
		t.Error("the provider's personas can be changed from outside")
	}
}

func TestNewProviderValidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		issuer string
		opts   sgidtest.Options
	}{
		{"relative issuer", "/v2", sgidtest.Options{}},
		{"issuer with query", "http://x.example/v2?a=b", sgidtest.Options{}},
		{"bad redirect", "http://x.example/v2", sgidtest.Options{RedirectURIs: []string{"/cb"}}},
		{"empty sub", "http://x.example/v2", sgidtest.Options{Personas: []sgidtest.Persona{{}}}},
		{"duplicate sub", "http://x.example/v2", sgidtest.Options{Personas: []sgidtest.Persona{
			{Sub: "a"}, {Sub: "a"},
		}}},
		{"bad encoding", "http://x.example/v2", sgidtest.Options{Encoding: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.name
			tc.opts.ClientPublicKey = &clientKey().PublicKey
			if _, err := sgidtest.NewProvider(tc.issuer, tc.opts); err == nil {
				t.Errorf("%s: accepted", name)
			}
		})
	}
	p, err := sgidtest.NewProvider("http://x.example/v2/", sgidtest.Options{ClientPublicKey: &clientKey().PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer() != "http://x.example/v2" {
		t.Errorf("Issuer() = %q, want the trailing slash removed", p.Issuer())
	}
}

func TestTLSServer(t *testing.T) {
	s := sgidtest.NewTLSServer(sgidtest.Options{ClientPublicKey: &clientKey().PublicKey})
	defer s.Close()
	if !strings.HasPrefix(s.URL, "https://") || s.Issuer() != s.URL+"/v2" {
		t.Fatalf("URL %q issuer %q", s.URL, s.Issuer())
	}
	resp, err := s.Client().Get(s.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d", resp.StatusCode)
	}
}
