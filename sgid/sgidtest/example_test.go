package sgidtest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// This example walks the first two steps of a login by hand: the authorize
// redirect and the code exchange. A real test would hand srv.Issuer(),
// srv.ClientID(), srv.ClientSecret() and srv.ClientPrivateKeyPEM() to the
// client under test instead.
func ExampleNewServer() {
	srv := sgidtest.NewServer(sgidtest.Options{})
	defer srv.Close()

	// The client must not follow the redirect: it goes to the relying
	// party, which does not exist in this example. Client returns a shared
	// client, so change a copy.
	c := *srv.Client()
	client := &c
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	verifier := "bbGcObXZC1YGBQZZtZGQH9jsyO1vypqCGqnSU_4TI5S"
	sum := sha256.Sum256([]byte(verifier))
	resp, err := client.Get(srv.Issuer() + "/oauth/authorize?" + url.Values{
		"client_id":             {srv.ClientID()},
		"scope":                 {"openid myinfo.name"},
		"redirect_uri":          {"https://app.example/callback"},
		"response_type":         {"code"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"state":                 {"abc"},
		"nonce":                 {"xyz"},
	}.Encode())
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	fmt.Println(resp.StatusCode, back.Host, back.Query().Get("state"))

	resp, err = client.PostForm(srv.Issuer()+"/oauth/token", url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {srv.ClientID()},
		"client_secret": {srv.ClientSecret()},
		"redirect_uri":  {"https://app.example/callback"},
		"code":          {back.Query().Get("code")},
		"code_verifier": {verifier},
	})
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 302 app.example abc
	// 200
}
