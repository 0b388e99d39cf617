package sgid

import (
	"encoding/json"
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

// TestAuthorizationURLJSON: AuthorizationURLJSON appends, after what the
// buffer held, byte for byte what encoding/json writes for the URL
// AuthorizationURL returns, for hosts, client ids and values holding
// what JSON escapes; a nonce it draws is the one in the URL.
func TestAuthorizationURLJSON(t *testing.T) {
	t.Parallel()
	keyPEM := testKeyPEM(t, 0)
	_, challenge := GeneratePKCEPair()
	for _, tc := range []struct {
		name, host, clientID string
		p                    AuthParams
	}{
		{"as auth-url calls it", "https://id.example", "client", AuthParams{State: "state", Nonce: "nonce", RedirectURI: "https://app.example/api/redirect"}},
		{"html characters everywhere", "https://id.example", `c<l>i&e"n\t`, AuthParams{State: `<s>&"`, Nonce: `n<>&`, RedirectURI: "https://app.example/api/redirect?a=<b>&c=\"d\""}},
		{"non-ASCII host and client id", "https://bücher.example", "kl\u2028ient\u00e9", AuthParams{State: "st\u2029", Nonce: "n", RedirectURI: "https://app.example/é"}},
		{"own scopes, no state", "http://127.0.0.1:5156", "client", AuthParams{Scopes: []string{"openid", "myinfo.name"}, Nonce: "nonce"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{ClientID: tc.clientID, ClientSecret: "s", PrivateKey: keyPEM, Host: tc.host, RedirectURI: "https://app.example/api/redirect"})
			if err != nil {
				t.Fatal(err)
			}
			p := tc.p
			p.CodeChallenge = challenge
			u, _, err := c.AuthorizationURL(p)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(u)
			got, nonce, err := c.AuthorizationURLJSON([]byte(`{"url":`), p)
			if err != nil || string(got) != `{"url":`+string(want) || nonce != p.Nonce {
				t.Fatalf("got %s, %q, %v\nwant {\"url\":%s", got, nonce, err, want)
			}
		})
	}
	t.Run("a nonce drawn", func(t *testing.T) {
		c, err := New(Config{ClientID: "client", ClientSecret: "s", PrivateKey: keyPEM, RedirectURI: "https://app.example/api/redirect"})
		if err != nil {
			t.Fatal(err)
		}
		got, nonce, err := c.AuthorizationURLJSON(nil, AuthParams{State: "s", CodeChallenge: challenge})
		var u string
		if err != nil || json.Unmarshal(got, &u) != nil {
			t.Fatalf("%s, %v", got, err)
		}
		parsed, err := url.Parse(u)
		if err != nil || nonce == "" || parsed.Query().Get("nonce") != nonce {
			t.Fatalf("URL %s carries another nonce than %q", u, nonce)
		}
	})
}
