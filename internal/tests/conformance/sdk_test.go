package conformance

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// scopesWide is every scope mockpass answers, plus one it does not know.
// myinfo.vehicles is left out (see scopesVehicles), and
// myinfo.registered_address is dropped for personas whose address would
// crash mockpass.
var scopesWide = []string{
	"openid", "myinfo.name", "myinfo.nric_number", "myinfo.email", "myinfo.sex", "myinfo.race",
	"myinfo.mobile_number", "myinfo.registered_address", "myinfo.date_of_birth",
	"myinfo.passport_number", "myinfo.passport_expiry_date", "myinfo.nationality",
	"myinfo.residentialstatus", "myinfo.residential", "myinfo.housingtype", "myinfo.hdbtype",
	"myinfo.birth_country", "myinfo.name_of_employer", "myinfo.workpass_status",
	"myinfo.workpass_expiry_date", "myinfo.marital_status",
	"myinfo.mobile_number_with_country_code", "pocdex.public_officer_details",
	"myinfo.sponsored_child_records",
}

// TestUserinfoMatchesSDK logs in as every persona of mockpass's login page
// (and with the smaller scope sets for the matrix personas); for each login,
// our client and the official SDK both exchange the same code and fetch
// userinfo, and every field must come out identical, raw (Userinfo vs
// userinfo()) and parsed (ParseData vs parseData()).
func TestUserinfoMatchesSDK(t *testing.T) {
	p := requirePrereqs(t)
	personas := loadPersonas(t, p)
	mp := startMockpass(t, p, defaultNRIC)
	const clientID = "conformance-sdk-userinfo"
	c := newClient(t, p, mp.origin, clientID)
	key := p.clientKey(t)

	type loginCase struct {
		name   string
		nric   string
		scopes []string
		s      started
		tok    *sgid.Tokens
		info   *sgid.UserInfo
		err    error
	}
	var cases []*loginCase
	nrics := make([]string, 0, len(personas))
	for nric := range personas {
		nrics = append(nrics, nric)
	}
	sort.Strings(nrics)
	for _, nric := range nrics {
		scopes := scopesWide
		if a := personas[nric].RegAdd; a == nil || a.Type != "SG" {
			scopes = without(scopesWide, "myinfo.registered_address")
		}
		cases = append(cases, &loginCase{name: nric + "/wide", nric: nric, scopes: scopes})
	}
	for _, who := range matrixPersonas {
		for _, set := range scopeSets {
			cases = append(cases, &loginCase{name: who.nric + "/" + set.name, nric: who.nric, scopes: set.scopes})
		}
	}

	// Our side: a fresh login, then at once the exchange and userinfo.
	reqs := make([]sdkRequest, len(cases))
	for i, lc := range cases {
		lc.s = startLogin(t, c, lc.scopes, lc.nric)
		lc.tok = lc.s.exchange(t, c)
		lc.info, lc.err = c.Userinfo(context.Background(), lc.tok.Sub, lc.tok.AccessToken)
		mp.checkAlive(t)
		reqs[i] = sdkRequest{
			Hostname: mp.origin, ClientID: clientID, ClientSecret: "mockpass-ignores-the-secret",
			PrivateKey: key, RedirectURI: testRedirectURI,
			Code: lc.s.cb.Code, CodeVerifier: lc.s.verifier, Nonce: lc.s.nonce, Userinfo: true,
		}
	}
	// The SDK's side: the same codes (mockpass never invalidates them, and
	// its access token is the code), seconds later, in one Node.js process.
	results := runSDK(t, p, reqs)
	mp.checkAlive(t)

	for i, lc := range cases {
		res := results[i]
		t.Run(lc.name, func(t *testing.T) {
			if !res.OK {
				t.Fatalf("SDK failed in %s: %s", res.Step, res.Error)
			}
			if res.Sub != lc.tok.Sub {
				t.Errorf("sub: ours %q, SDK %q", lc.tok.Sub, res.Sub)
			}
			if res.AccessToken != lc.tok.AccessToken {
				t.Errorf("access token: ours %q, SDK %q", lc.tok.AccessToken, res.AccessToken)
			}
			if lc.err != nil {
				t.Fatalf("our Userinfo failed where the SDK's succeeded: %v", lc.err)
			}
			if lc.info.Sub != res.Sub {
				t.Errorf("userinfo sub: ours %q, SDK %q", lc.info.Sub, res.Sub)
			}
			for _, d := range diffMaps(res.Data, lc.info.Data) {
				t.Errorf("userinfo data (ours vs SDK) %s", d)
			}
			if len(res.Data) < len(lc.scopes)-1 {
				t.Errorf("the SDK returned %d fields for %d scopes; the comparison proves little", len(res.Data), len(lc.scopes))
			}
			// Parsed values: compare as JSON values.
			ours := jsonRoundTrip(t, sgid.ParseData(lc.info.Data))
			theirs := jsonRoundTrip(t, res.Parsed)
			for k := range union(ours, theirs) {
				if !reflect.DeepEqual(ours[k], theirs[k]) {
					t.Errorf("parsed %s: ours %#v, SDK %#v", k, ours[k], theirs[k])
				}
			}
		})
	}
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func jsonRoundTrip(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func union(a, b map[string]any) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
