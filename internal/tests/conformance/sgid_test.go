package conformance

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// testRedirectURI is the redirect URI of the sgid package tests. Nothing
// listens there: the tests read the code from mockpass's redirect.
const testRedirectURI = "http://localhost:5001/api/redirect"

// Scope sets the tests log in with.
var (
	scopesOpenID = []string{"openid"}
	scopesName   = []string{"openid", "myinfo.name"}
	scopesCommon = []string{"openid", "myinfo.name", "myinfo.email", "myinfo.mobile_number",
		"myinfo.registered_address", "myinfo.date_of_birth"}
	// scopesJSON has the JSON-valued fields: pocdex.public_officer_details
	// (a JSON array) and myinfo.sponsored_child_records, which mockpass does
	// not know ("NA").
	scopesJSON = []string{"openid", "myinfo.name", "pocdex.public_officer_details",
		"myinfo.sponsored_child_records"}
	// scopesVehicles is on its own: mockpass sends NUL bytes or an empty
	// string for it (see the package doc); the empty string is a value the
	// client must decrypt to "" (jwx alone reports it as an error).
	scopesVehicles = []string{"openid", "myinfo.vehicles"}
)

var scopeSets = []struct {
	name   string
	scopes []string
}{
	{"openid", scopesOpenID},
	{"name", scopesName},
	{"common", scopesCommon},
	{"json", scopesJSON},
	{"vehicles", scopesVehicles},
}

// Personas the matrix tests log in as. The first is mockpass's default
// (MOCKPASS_NRIC), reached without its login page; the others are picked on
// the login page.
var matrixPersonas = []struct {
	nric string
	why  string
}{
	{defaultNRIC, "full data, one vehicle, public officer details"},
	{"S9912370B", "no email or mobile number: NA"},
	{"S6005053H", `name with punctuation ("MY,INFO%BB")`},
	{"S9812353I", "two vehicles"},
}

// newClient builds an sgid.Client for mockpass at origin, with mockpass's
// client key.
func newClient(t testing.TB, p prereqs, origin, clientID string) *sgid.Client {
	t.Helper()
	c, err := sgid.New(sgid.Config{
		ClientID:     clientID,
		ClientSecret: "mockpass-ignores-the-secret",
		PrivateKey:   p.clientKey(t),
		Host:         origin,
		RedirectURI:  testRedirectURI,
	})
	if err != nil {
		t.Fatalf("sgid.New: %v", err)
	}
	return c
}

// started is a login up to sgID's callback: what the relying party keeps,
// and what came back.
type started struct {
	verifier string
	nonce    string
	state    string
	cb       callback
}

// startLogin builds the authorization URL with the sgid package, checks it,
// and plays the browser at mockpass for persona nric ("" for mockpass's
// default persona).
func startLogin(t testing.TB, c *sgid.Client, scopes []string, nric string) started {
	t.Helper()
	verifier, challenge := sgid.GeneratePKCEPair()
	state := sgid.GenerateNonce()
	authURL, nonce, err := c.AuthorizationURL(sgid.AuthParams{
		State:         state,
		Scopes:        scopes,
		CodeChallenge: challenge,
	})
	if err != nil {
		t.Fatalf("AuthorizationURL: %v", err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := u.Scheme+"://"+u.Host+u.Path, c.Issuer()+"/oauth/authorize"; got != want {
		t.Errorf("authorization endpoint %q, want %q", got, want)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"client_id":             c.ClientID(),
		"scope":                 strings.Join(scopes, " "),
		"redirect_uri":          testRedirectURI,
		"response_type":         "code",
		"code_challenge":        challenge,
		"code_challenge_method": "S256",
		"state":                 state,
		"nonce":                 nonce,
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorization URL %s=%q, want %q", k, got, want)
		}
	}
	cb := authorize(t, noRedirect, authURL, nric)
	if got := cb.URL.Scheme + "://" + cb.URL.Host + cb.URL.Path; got != testRedirectURI {
		t.Errorf("mockpass redirected to %q, want the redirect URI %q", got, testRedirectURI)
	}
	if cb.State != state {
		t.Errorf("callback state %q, want %q", cb.State, state)
	}
	return started{verifier: verifier, nonce: nonce, state: state, cb: cb}
}

// exchange trades the login's code with the sgid package.
func (s started) exchange(t testing.TB, c *sgid.Client) *sgid.Tokens {
	t.Helper()
	tok, err := c.Exchange(context.Background(), sgid.ExchangeParams{
		Code:         s.cb.Code,
		CodeVerifier: s.verifier,
		Nonce:        s.nonce,
	})
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	return tok
}

// TestSgidAgainstMockpass logs in with the sgid package alone, for every
// scope set and persona of the matrix, and checks the sub and every
// decrypted value against mockpass's persona file.
func TestSgidAgainstMockpass(t *testing.T) {
	p := requirePrereqs(t)
	personas := loadPersonas(t, p)
	mp := startMockpass(t, p, defaultNRIC)
	c := newClient(t, p, mp.origin, "conformance-sgid")

	for i, who := range matrixPersonas {
		pick := who.nric
		if i == 0 {
			pick = "" // mockpass's default persona: no login page
		}
		for _, set := range scopeSets {
			t.Run(who.nric+"/"+set.name, func(t *testing.T) {
				// A fresh login right before userinfo: mockpass exits on a
				// userinfo call with a token it no longer knows.
				s := startLogin(t, c, set.scopes, pick)
				tok := s.exchange(t, c)
				if want := expectedSub(t, personas, who.nric); tok.Sub != want {
					t.Errorf("ID token sub %q, want %q", tok.Sub, want)
				}
				if tok.AccessToken == "" || tok.IDToken == "" {
					t.Errorf("Exchange returned an empty token: %+v", tok)
				}
				want := expectedData(t, personas, who.nric, set.scopes)
				info, err := c.Userinfo(context.Background(), tok.Sub, tok.AccessToken)
				mp.checkAlive(t)
				if err != nil {
					t.Fatalf("Userinfo: %v", err)
				}
				if info.Sub != tok.Sub {
					t.Errorf("userinfo sub %q, want %q", info.Sub, tok.Sub)
				}
				for _, d := range diffMaps(want, info.Data) {
					t.Errorf("userinfo data %s", d)
				}
				if _, ok := info.Data["pocdex.public_officer_details"]; ok {
					parsed := sgid.ParseData(info.Data)["pocdex.public_officer_details"]
					if _, isArray := parsed.([]any); !isArray && info.Data["pocdex.public_officer_details"] != "NA" {
						t.Errorf("ParseData(pocdex.public_officer_details) = %T, want a JSON array", parsed)
					}
				}
			})
		}
	}

	// The ID token is bound to the nonce of its login.
	t.Run("nonce of another login", func(t *testing.T) {
		s := startLogin(t, c, scopesName, "")
		tok := s.exchange(t, c)
		_, err := c.VerifyIDToken(context.Background(), tok.IDToken, sgid.GenerateNonce())
		if e, ok := errorsAs[*sgid.IDTokenError](err); !ok || e.Rule != sgid.RuleNonce {
			t.Errorf("VerifyIDToken with another nonce: %v, want an IDTokenError (nonce)", err)
		}
		if _, err := c.VerifyIDToken(context.Background(), tok.IDToken, s.nonce); err != nil {
			t.Errorf("VerifyIDToken with the login's nonce: %v", err)
		}
	})
	mp.checkAlive(t)
}

// TestPersonaFromMockpassNRIC starts mockpass with other default personas
// (MOCKPASS_NRIC), logs in without the login page, and checks who comes
// back, with our client and the SDK.
func TestPersonaFromMockpassNRIC(t *testing.T) {
	p := requirePrereqs(t)
	personas := loadPersonas(t, p)

	t.Run("S9912370B", func(t *testing.T) {
		t.Parallel()
		const nric = "S9912370B"
		mp := startMockpass(t, p, nric)
		c := newClient(t, p, mp.origin, "conformance-nric")
		s := startLogin(t, c, scopesCommon, "")
		tok := s.exchange(t, c)
		info, err := c.Userinfo(context.Background(), tok.Sub, tok.AccessToken)
		mp.checkAlive(t)
		if err != nil {
			t.Fatalf("Userinfo: %v", err)
		}
		if want := expectedSub(t, personas, nric); info.Sub != want {
			t.Errorf("sub %q, want %q (persona %s)", info.Sub, want, nric)
		}
		for _, d := range diffMaps(expectedData(t, personas, nric, scopesCommon), info.Data) {
			t.Errorf("userinfo data %s", d)
		}
	})

	// Foreign personas (Y...) get an ID token sub "fid=..." but a userinfo
	// sub "u=<uuid>" from mockpass. Both implementations must refuse that
	// userinfo answer. Only openid is asked for: this persona has no Myinfo
	// data, and a Myinfo scope would crash mockpass.
	t.Run("Y4581892I sub mismatch", func(t *testing.T) {
		t.Parallel()
		const nric = "Y4581892I"
		mp := startMockpass(t, p, nric)
		c := newClient(t, p, mp.origin, "conformance-foreign")
		s := startLogin(t, c, scopesOpenID, "")
		tok := s.exchange(t, c)
		if !strings.HasPrefix(tok.Sub, "fid=") {
			t.Errorf("ID token sub %q; the test expects mockpass's fid= sub for foreign personas", tok.Sub)
		}
		_, err := c.Userinfo(context.Background(), tok.Sub, tok.AccessToken)
		mp.checkAlive(t)
		if !errors.Is(err, sgid.ErrSubMismatch) {
			t.Errorf("Userinfo: %v, want ErrSubMismatch", err)
		}
		res := runSDK(t, p, []sdkRequest{{
			Hostname: mp.origin, ClientID: "conformance-foreign", ClientSecret: "x",
			PrivateKey: p.clientKey(t), RedirectURI: testRedirectURI,
			Code: s.cb.Code, CodeVerifier: s.verifier, Nonce: s.nonce, Userinfo: true,
		}})[0]
		mp.checkAlive(t)
		if res.OK || res.Step != "userinfo" || !strings.Contains(res.Error, "did not match") {
			t.Errorf("SDK: %+v, want a sub mismatch error from userinfo()", res)
		}
		if res.Sub != "" && res.Sub != tok.Sub {
			t.Errorf("SDK callback sub %q, ours %q", res.Sub, tok.Sub)
		}
	})
}
