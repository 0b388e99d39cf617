package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/typed"
	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// The documented differences between typed.Data and the SDK's parseData
// (see package typed), as compareTyped reports them.
const (
	sameAsSDK    = ""
	diffNA       = "NA is null"               // difference 1, at the top or nested
	diffString   = "string scope not decoded" // difference 2
	diffGoRefuse = "Go's decoder refuses"     // difference 3
)

// compareTyped checks our typed value of one field against the SDK's
// parsed one and returns the documented difference that separates them
// (sameAsSDK when there is none), or an error when no documented
// difference explains what it sees.
func compareTyped(scope, raw string, ours, sdk any) (string, error) {
	if raw == "NA" {
		if ours != nil || sdk != "NA" {
			return "", fmt.Errorf("NA: ours %#v, SDK %#v; want null and \"NA\"", ours, sdk)
		}
		return diffNA, nil
	}
	if typed.KindOf(scope) == typed.String {
		if ours != raw {
			return "", fmt.Errorf("string scope: ours %#v, want the raw value %q", ours, raw)
		}
		if sdk == raw {
			return sameAsSDK, nil
		}
		if _, isString := sdk.(string); isString {
			return "", fmt.Errorf("string scope: the SDK gives %#v for %q", sdk, raw)
		}
		return diffString, nil
	}
	if s, kept := ours.(string); kept {
		if s != raw {
			return "", fmt.Errorf("ours %q, want the raw value %q", s, raw)
		}
		if sdk == raw {
			return sameAsSDK, nil
		}
		var v any
		if json.Unmarshal([]byte(raw), &v) == nil {
			return "", fmt.Errorf("we kept %q, which Go decodes, and the SDK gives %#v", raw, sdk)
		}
		return diffGoRefuse, nil
	}
	nested := false
	if err := equalModuloNA(ours, sdk, "", &nested); err != nil {
		return "", err
	}
	if nested {
		return diffNA, nil
	}
	return sameAsSDK, nil
}

// equalModuloNA compares two decoded JSON values that must be equal except
// where the SDK has the string "NA" and we have null; it sets *na when it
// met one.
func equalModuloNA(ours, sdk any, path string, na *bool) error {
	switch s := sdk.(type) {
	case string:
		if s == "NA" {
			if ours != nil {
				return fmt.Errorf("%s: ours %#v where the SDK has \"NA\"", path, ours)
			}
			*na = true
			return nil
		}
	case []any:
		o, ok := ours.([]any)
		if !ok || len(o) != len(s) {
			return fmt.Errorf("%s: ours %#v, SDK %#v", path, ours, sdk)
		}
		for i := range s {
			if err := equalModuloNA(o[i], s[i], fmt.Sprintf("%s[%d]", path, i), na); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		o, ok := ours.(map[string]any)
		if !ok || !slices.Equal(slices.Sorted(maps.Keys(o)), slices.Sorted(maps.Keys(s))) {
			return fmt.Errorf("%s: ours %#v, SDK %#v", path, ours, sdk)
		}
		for k := range s {
			if err := equalModuloNA(o[k], s[k], path+"."+k, na); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(ours, sdk) {
		return fmt.Errorf("%s: ours %#v, SDK %#v", path, ours, sdk)
	}
	return nil
}

// compareAll compares every field and returns the differences met, by
// field.
func compareAll(t *testing.T, data map[string]string, sdkParsed map[string]any) map[string]string {
	t.Helper()
	ours := jsonRoundTrip(t, typed.Data(data))
	theirs := jsonRoundTrip(t, sdkParsed)
	if !slices.Equal(slices.Sorted(maps.Keys(ours)), slices.Sorted(maps.Keys(theirs))) {
		t.Errorf("fields: ours %v, SDK %v", slices.Sorted(maps.Keys(ours)), slices.Sorted(maps.Keys(theirs)))
	}
	diffs := map[string]string{}
	for scope, raw := range data {
		d, err := compareTyped(scope, raw, ours[scope], theirs[scope])
		if err != nil {
			t.Errorf("%s: %v", scope, err)
			continue
		}
		diffs[scope] = d
	}
	return diffs
}

// mockAuthorize runs the browser's part of a login at the built-in mock:
// it follows c's authorization URL and returns the code, the verifier and
// the nonce. The mock approves at once as its selected persona.
func mockAuthorize(t *testing.T, srv *sgidtest.Server, c *sgid.Client, scopes []string) (code, verifier, nonce string) {
	t.Helper()
	verifier, challenge := sgid.GeneratePKCEPair()
	u, nonce, err := c.AuthorizationURL(sgid.AuthParams{State: sgid.GenerateNonce(), Scopes: scopes, CodeChallenge: challenge})
	if err != nil {
		t.Fatal(err)
	}
	client := *srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), verifier, nonce
}

// TestTypedDataMatchesSDK logs the official SDK in to the built-in mock
// (package sgidtest wraps it) as every one of its personas, with every
// scope the persona has: the SDK's userinfo() must decrypt exactly the
// persona's data, and typed.Data of that data must equal the SDK's
// parseData() of it, but for the documented NA-is-null difference.
func TestTypedDataMatchesSDK(t *testing.T) {
	p := requirePrereqs(t)
	srv := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(srv.Close)
	c, err := sgid.New(sgid.Config{
		ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), PrivateKey: srv.ClientPrivateKeyPEM(),
		RedirectURI: testRedirectURI, Host: srv.URL, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	personas := srv.Personas()
	reqs := make([]sdkRequest, len(personas))
	for i, persona := range personas {
		if err := srv.SelectPersona(persona.Sub); err != nil {
			t.Fatal(err)
		}
		scopes := append([]string{"openid"}, slices.Sorted(maps.Keys(persona.Data))...)
		code, verifier, nonce := mockAuthorize(t, srv, c, scopes)
		reqs[i] = sdkRequest{
			Hostname: srv.URL, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
			PrivateKey: srv.ClientPrivateKeyPEM(), RedirectURI: testRedirectURI,
			Code: code, CodeVerifier: verifier, Nonce: nonce, Userinfo: true,
		}
	}
	results := runSDK(t, p, reqs)

	seen := map[string]bool{}
	for i, persona := range personas {
		res := results[i]
		t.Run(persona.Sub, func(t *testing.T) {
			if !res.OK {
				t.Fatalf("SDK failed in %s: %s", res.Step, res.Error)
			}
			if res.Sub != persona.Sub {
				t.Errorf("SDK sub %q, want %q", res.Sub, persona.Sub)
			}
			if len(persona.Data) == 0 {
				return
			}
			for _, d := range diffMaps(persona.Data, res.Data) {
				t.Errorf("SDK userinfo data (persona vs SDK) %s", d)
			}
			for scope, d := range compareAll(t, persona.Data, res.Parsed) {
				if d != sameAsSDK && d != diffNA {
					t.Errorf("%s: difference %q, which no persona should need", scope, d)
				}
				seen[d] = true
			}
		})
	}
	// The comparison proves something only if the personas reach both
	// outcomes: fields equal to parseData's, and NA turned into null.
	if !seen[sameAsSDK] || !seen[diffNA] {
		t.Errorf("the personas met only %v", slices.Sorted(maps.Keys(seen)))
	}
}

// TestTypedEdgesMatchSDK runs made-up values through the SDK's parseData
// and typed.Data: each must show exactly the difference the package
// documents for it, or none.
func TestTypedEdgesMatchSDK(t *testing.T) {
	p := requirePrereqs(t)
	cases := []struct {
		scope, raw, diff string
	}{
		{"myinfo.name", "TAN AH KOW", sameAsSDK},
		{"myinfo.sex", "NA", diffNA},
		{"myinfo.date_of_birth", "1990", sameAsSDK},
		{"myinfo.date_of_birth", "1990-05", sameAsSDK},
		{"myinfo.registered_address", "BLK 1\n#01-01\nSINGAPORE 000001", sameAsSDK},
		{"myinfo.name", `["TAN"]`, diffString},
		{"myinfo.registered_address", `{"street":"NA"}`, diffString},
		{"myinfo.vehicles", `[{"vehicle_number":"SZZ1234X","make":"NA"}]`, diffNA},
		{"myinfo.vehicles", ` [1]`, sameAsSDK},
		{"myinfo.vehicles", "[1]\n", sameAsSDK},
		{"myinfo.vehicles", "[ 1.0 , 2.50 , -3e2 ]", sameAsSDK},
		{"myinfo.vehicles", `[not json]`, sameAsSDK},
		{"myinfo.vehicles", "\x00\x00", sameAsSDK},
		{"myinfo.vehicles", "", sameAsSDK},
		{"myinfo.children_birth_records", `[{"name":"NA","life_status":"ALIVE","birth_cert_no":"T2000008A"}]`, diffNA},
		{"myinfo.sponsored_children_records", `[]`, sameAsSDK},
		{"pocdex.public_officer_details", `[{"work_email":"A@B.gov.sg","department_name":"NA"}]`, diffNA},
		{"x.unknown", `{"a":[1,"NA",null,true],"NA":"x"}`, diffNA},
		{"x.unknown", `{"a":1,"a":2}`, sameAsSDK},
		{"x.unknown", `[1}`, sameAsSDK},
		{"x.unknown", `["陈伟明","\u00e9\n"]`, sameAsSDK},
		{"x.unknown", `1`, sameAsSDK},
		{"x.unknown", `"x"`, sameAsSDK},
		{"x.unknown", `[1e400]`, diffGoRefuse},
	}
	reqs := make([]sdkRequest, len(cases))
	for i, tc := range cases {
		reqs[i] = sdkRequest{
			Hostname: "http://127.0.0.1:9", ClientID: "parse-only", ClientSecret: "parse-only",
			PrivateKey: "parse-only", RedirectURI: testRedirectURI,
			ParseData: map[string]string{tc.scope: tc.raw},
		}
	}
	results := runSDK(t, p, reqs)
	for i, tc := range cases {
		res := results[i]
		t.Run(fmt.Sprintf("%s=%q", tc.scope, tc.raw), func(t *testing.T) {
			if !res.OK {
				t.Fatalf("SDK failed in %s: %s", res.Step, res.Error)
			}
			diffs := compareAll(t, map[string]string{tc.scope: tc.raw}, res.Parsed)
			if got, ok := diffs[tc.scope]; ok && got != tc.diff {
				t.Errorf("difference %q, want %q (SDK %#v, ours %#v)", got, tc.diff, res.Parsed[tc.scope], typed.Value(tc.scope, tc.raw))
			}
		})
	}
}

// TestOfficerProfilesFromMockpass logs in to mockpass as its public
// officer (the default persona) with pocdex.public_officer_details: the
// profiles officer.Parse reads from our client's userinfo hold the same
// jobs as the SDK's parseData() of its own userinfo, and as mockpass's
// persona file, with the work email lower-cased.
func TestOfficerProfilesFromMockpass(t *testing.T) {
	p := requirePrereqs(t)
	personas := loadPersonas(t, p)
	var oracle []map[string]string
	if err := json.Unmarshal(personas[defaultNRIC].PublicOfficerDetails, &oracle); err != nil || len(oracle) == 0 {
		t.Fatalf("mockpass's persona %s has no officer details: %v", defaultNRIC, err)
	}
	mp := startMockpass(t, p, defaultNRIC)
	const clientID = "conformance-officer"
	c := newClient(t, p, mp.origin, clientID)
	scopes := []string{"openid", "myinfo.name", "pocdex.public_officer_details"}

	s := startLogin(t, c, scopes, "")
	tok := s.exchange(t, c)
	info, err := c.Userinfo(context.Background(), tok.Sub, tok.AccessToken)
	mp.checkAlive(t)
	if err != nil {
		t.Fatalf("Userinfo: %v", err)
	}
	// The SDK redeems the same code: mockpass never invalidates one.
	res := runSDK(t, p, []sdkRequest{{
		Hostname: mp.origin, ClientID: clientID, ClientSecret: "mockpass-ignores-the-secret",
		PrivateKey: p.clientKey(t), RedirectURI: testRedirectURI,
		Code: s.cb.Code, CodeVerifier: s.verifier, Nonce: s.nonce, Userinfo: true,
	}})[0]
	mp.checkAlive(t)
	if !res.OK {
		t.Fatalf("SDK failed in %s: %s", res.Step, res.Error)
	}

	profiles, err := officer.Parse(info.Data["pocdex.public_officer_details"])
	if err != nil {
		t.Fatalf("officer.Parse: %v", err)
	}
	sdkJobs, ok := jsonRoundTrip(t, res.Parsed)["pocdex.public_officer_details"].([]any)
	if !ok {
		t.Fatalf("the SDK's parsed officer details are %#v, not an array", res.Parsed["pocdex.public_officer_details"])
	}
	if len(profiles) != len(sdkJobs) || len(profiles) != len(oracle) {
		t.Fatalf("%d profiles, the SDK %d, mockpass's file %d", len(profiles), len(sdkJobs), len(oracle))
	}
	for i, prof := range profiles {
		job, _ := sdkJobs[i].(map[string]any)
		for _, src := range []struct {
			name string
			get  func(string) any
		}{
			{"SDK", func(k string) any { return job[k] }},
			{"mockpass's file", func(k string) any { return oracle[i][k] }},
		} {
			want := wantProfile(src.get)
			if prof != want {
				t.Errorf("profile %d: ours %+v, %s %+v", i, prof, src.name, want)
			}
		}
		if got := prof.Fields()["officer.agency_name"]; got != oracle[i]["agency_name"] || got == "" {
			t.Errorf("Fields: agency %q, want %q", got, oracle[i]["agency_name"])
		}
	}
	// mockpass's officer works at was.gov.sg, a Fixed Term employee of
	// Work Allocation Singapore: every kind of rule finds the job.
	for _, pattern := range []string{"*.gov.sg", "was.gov.sg", "agency:work allocation singapore", `type:"Fixed Term"`} {
		r, err := officer.Compile([]string{pattern})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Allows(profiles[0]) {
			t.Errorf("%s does not allow mockpass's officer", pattern)
		}
	}
	for scope, d := range compareAll(t, info.Data, res.Parsed) {
		if d != sameAsSDK && d != diffNA {
			t.Errorf("%s: difference %q", scope, d)
		}
	}
}

// wantProfile builds the profile a job object should give: its five fields,
// "NA" as empty, the work email trimmed and lower-cased.
func wantProfile(get func(string) any) officer.Profile {
	s := func(k string) string {
		v, _ := get(k).(string)
		if v == "NA" {
			return ""
		}
		return v
	}
	return officer.Profile{
		AgencyName:      s("agency_name"),
		DepartmentName:  s("department_name"),
		EmploymentTitle: s("employment_title"),
		EmploymentType:  s("employment_type"),
		WorkEmail:       strings.ToLower(strings.TrimSpace(s("work_email"))),
	}
}
