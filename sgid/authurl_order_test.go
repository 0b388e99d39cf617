package sgid

import (
	"net/url"
	"strings"
	"testing"
)

// The authorization URL is exactly what url.Values.Encode makes of its
// parameters: every value escaped, keys sorted, state only when given.
func TestAuthorizationURLEncoding(t *testing.T) {
	keyPEM := testKeyPEM(t, 0)
	c, err := New(Config{ClientID: "client id&x", ClientSecret: "s", PrivateKey: keyPEM, Host: "https://id.example",
		Scopes: []string{"openid", "myinfo.name"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, state string }{{"with state", "st+a=te/&"}, {"without state", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			_, challenge := GeneratePKCEPair()
			got, nonce, err := c.AuthorizationURL(AuthParams{State: tc.state, CodeChallenge: challenge, RedirectURI: "https://app.example/api/redirect?x=1&y=2"})
			if err != nil {
				t.Fatal(err)
			}
			q := url.Values{
				"client_id": {"client id&x"}, "scope": {"openid myinfo.name"}, "response_type": {"code"},
				"redirect_uri": {"https://app.example/api/redirect?x=1&y=2"}, "nonce": {nonce},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"},
			}
			if tc.state != "" {
				q.Set("state", tc.state)
			}
			if want := "https://id.example/v2/oauth/authorize?" + q.Encode(); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if strings.Contains(got, "state=") != (tc.state != "") {
				t.Errorf("state present = %v", !strings.Contains(got, "state="))
			}
		})
	}
}
