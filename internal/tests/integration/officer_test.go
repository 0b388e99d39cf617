package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// gohMeiLing is the mock's officer with three jobs in two agencies.
const gohMeiLing = "sgidtest:goh-mei-ling"

// TestOfficerPicker runs the picker over HTTP against the built-in mock:
// the three-job officer logs in with no job chosen, so the protected API
// answers 409 naming the profiles route; a choice from another site is
// refused, a forged id changes nothing; the chosen job's work email then
// reaches the upstream in an identity header and in the signed identity
// assertion; a switch to another job sends the new email with no new
// login (the same sub and auth_time).
func TestOfficerPicker(t *testing.T) {
	up := newEchoUpstream(t)
	startCaddy(t, fmt.Sprintf(`http://localhost:9080 {
	sgid {
		mock
		scopes openid myinfo.name pocdex.public_officer_details
		protect /api/*
		identity_header officer.work_email X-Officer-Email
		identity_assertion X-Sgid-Assertion {
			fields officer.work_email officer.agency_name
		}
	}
	handle /api/* {
		reverse_proxy %s
	}
	respond "page"
}`, up.srv.Listener.Addr()))
	b := newBrowser(t)
	if loc := b.MockApprove(b.StartLogin(""), gohMeiLing); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	hits := up.hits.Load()
	resp, body := b.Get("/api/orders")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, `"error":"profile_required"`) || !strings.Contains(body, `"profiles_url":"/api/profiles"`) {
		t.Fatalf("before a choice: %d %s", resp.StatusCode, body)
	}
	if up.hits.Load() != hits {
		t.Fatal("a request without a chosen job reached the upstream")
	}
	list := profilesOf(t, b)
	if len(list.Profiles) != 3 || list.Chosen != nil {
		t.Fatalf("profiles %+v", list)
	}
	before := sessionState(t, b)

	// Refused: another site's page, and a forged id.
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	if resp, body := b.Send(http.MethodPost, "/api/profiles/"+list.Profiles[0].ID, cross, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "cross_origin") {
		t.Errorf("cross-site choice: %d %s", resp.StatusCode, body)
	}
	if resp, body := b.Send(http.MethodPost, "/api/profiles/"+strings.Repeat("A", 22), nil, nil); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "unknown_profile") {
		t.Errorf("forged id: %d %s", resp.StatusCode, body)
	}
	if resp, _ := b.Get("/api/orders"); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a refused choice chose: %d", resp.StatusCode)
	}

	for _, i := range []int{1, 0} {
		want := list.Profiles[i].WorkEmail
		if resp, body := b.Send(http.MethodPost, "/api/profiles/"+list.Profiles[i].ID, nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("choose %d: %d %s", i, resp.StatusCode, body)
		}
		got := echoedBy(t, b, "/api/orders")
		if v := got.Header.Get("X-Officer-Email"); v != want {
			t.Errorf("job %d: X-Officer-Email = %q, want %q", i, v, want)
		}
		claims := verifiedClaims(t, b, got.Header.Get("X-Sgid-Assertion"))
		if claims["officer.work_email"] != want || claims["officer.agency_name"] != "EXAMPLE AGENCY" || claims["sub"] != gohMeiLing {
			t.Errorf("job %d: assertion claims %v", i, claims)
		}
		list = profilesOf(t, b) // the session moved: its jobs have new ids
		if list.Chosen == nil || *list.Chosen != list.Profiles[i].ID {
			t.Errorf("job %d: the list says chosen %v", i, list.Chosen)
		}
	}
	if want := list.Profiles[0].WorkEmail; want != "goh_mei_ling@example-agency.gov.sg" {
		t.Errorf("the first job's email %q is not lower-cased", want)
	}
	if after := sessionState(t, b); after != before {
		t.Errorf("the switch changed the login: %+v, then %+v", before, after)
	}
	// userinfo stays what sgID's SDK returns.
	if _, _, body := b.Userinfo(); strings.Contains(body, `"officer.`) || !strings.Contains(body, "pocdex.public_officer_details") {
		t.Errorf("userinfo %s", body)
	}
}

type profileList struct {
	Profiles []struct {
		ID        string `json:"id"`
		WorkEmail string `json:"work_email"`
	} `json:"profiles"`
	Chosen *string `json:"chosen"`
}

func profilesOf(t *testing.T, b *testcaddy.Browser) profileList {
	t.Helper()
	resp, body := b.Get("/api/profiles")
	var l profileList
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil {
		t.Fatalf("profiles: %d %s", resp.StatusCode, body)
	}
	return l
}

// sessionAnswer is what the session route says of the login.
type sessionAnswer struct {
	Active   bool   `json:"active"`
	Sub      string `json:"sub"`
	AuthTime int64  `json:"auth_time"`
}

func sessionState(t *testing.T, b *testcaddy.Browser) sessionAnswer {
	t.Helper()
	resp, body := b.Get("/api/session")
	var a sessionAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &a) != nil || !a.Active || a.Sub == "" || a.AuthTime == 0 {
		t.Fatalf("session: %d %s", resp.StatusCode, body)
	}
	return a
}

func echoedBy(t *testing.T, b *testcaddy.Browser, path string) echoed {
	t.Helper()
	resp, body := b.Get(path)
	var e echoed
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &e) != nil {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	return e
}

// verifiedClaims checks the ES256 signature of the assertion jwt against
// the site's JWKS, as an upstream would, and returns its claims.
func verifiedClaims(t *testing.T, b *testcaddy.Browser, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("assertion %q is not a JWT", jwt)
	}
	var head struct{ Alg, Kid string }
	decodePart(t, parts[0], &head)
	resp, body := b.Get("/.well-known/sgid/jwks.json")
	var set struct {
		Keys []struct{ Kid, Crv, X, Y string }
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &set) != nil {
		t.Fatalf("jwks: %d %s", resp.StatusCode, body)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 || head.Alg != "ES256" {
		t.Fatalf("assertion header %+v, signature of %d bytes", head, len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	verified := false
	for _, k := range set.Keys {
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if k.Kid != head.Kid || k.Crv != "P-256" || errX != nil || errY != nil {
			continue
		}
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		verified = ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
	if !verified {
		t.Fatal("the assertion does not verify against the site's JWKS")
	}
	var claims map[string]any
	decodePart(t, parts[1], &claims)
	return claims
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		t.Fatalf("JWT part %q: %v", part, err)
	}
}
