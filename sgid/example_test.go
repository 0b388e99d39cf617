package sgid_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// A whole login against a fake provider: what a backend does between the
// "log in" button and showing the user's name.
func Example() {
	provider := sgidtest.NewServer(sgidtest.Options{})
	defer provider.Close()

	client, err := sgid.New(sgid.Config{
		ClientID:     provider.ClientID(),
		ClientSecret: provider.ClientSecret(),
		PrivateKey:   provider.ClientPrivateKeyPEM(),
		RedirectURI:  "https://app.example/api/redirect",
		Host:         provider.URL, // leave empty for the real sgID
	})
	if err != nil {
		panic(err)
	}

	// 1. Start the login; keep state, verifier and nonce server-side.
	verifier, challenge := sgid.GeneratePKCEPair()
	state := sgid.GenerateNonce()
	authURL, nonce, err := client.AuthorizationURL(sgid.AuthParams{State: state, CodeChallenge: challenge})
	if err != nil {
		panic(err)
	}

	// The browser goes to authURL and comes back to the redirect URI with
	// ?code=...&state=...; here the fake provider approves at once.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	callback, _ := url.Parse(resp.Header.Get("Location"))
	if callback.Query().Get("state") != state {
		panic("state mismatch")
	}

	// 2. Exchange the code; the ID token is verified.
	ctx := context.Background()
	tokens, err := client.Exchange(ctx, sgid.ExchangeParams{
		Code:         callback.Query().Get("code"),
		CodeVerifier: verifier,
		Nonce:        nonce,
	})
	if err != nil {
		panic(err)
	}

	// 3. Fetch and decrypt the user's data.
	info, err := client.Userinfo(ctx, tokens.Sub, tokens.AccessToken)
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Sub == provider.Personas()[0].Sub, info.Data["myinfo.name"] == provider.Personas()[0].Data["myinfo.name"])
	// Output: true true
}

// ParseData decodes the fields that sgID sends as JSON text.
func ExampleParseData() {
	data := sgid.ParseData(map[string]string{
		"myinfo.name":     "LIM BEE HOON",
		"myinfo.vehicles": `[{"vehicle_number":"SBA1234Z"}]`,
	})
	fmt.Println(data["myinfo.name"])
	fmt.Println(data["myinfo.vehicles"].([]any)[0].(map[string]any)["vehicle_number"])
	// Output:
	// LIM BEE HOON
	// SBA1234Z
}
