// Package sgidtest runs a fake sgID v2 provider for tests, in the spirit of
// net/http/httptest.
//
// The provider itself is package mock's, the one behind the Caddy module's
// mock option; this package wraps it with what only tests need: Faults,
// request Stats, a loopback Server and LoginForm. The fake speaks the same
// protocol as the real provider (authorization code flow with PKCE S256,
// client_secret_post, RS256 ID tokens and userinfo values encrypted as
// nested JWEs), so a relying party can be tested end to end without a
// network connection or a real Singpass account. It is also
// stricter than mockpass where that matters for tests: codes are single use,
// PKCE and the client secret are checked, and redirect URIs can be pinned.
// Faults lets a test make the provider misbehave on purpose (bad signatures,
// wrong claims, undecryptable userinfo, HTTP errors, slow answers) to prove
// that the client rejects each problem.
//
// A typical test:
//
//	srv := sgidtest.NewServer(sgidtest.Options{})
//	defer srv.Close()
//
//	// Configure the client under test with srv.Issuer(), srv.ClientID(),
//	// srv.ClientSecret() and srv.ClientPrivateKeyPEM(), then drive a login:
//	// the authorize endpoint approves at once with the selected persona.
//	if err := srv.SelectPersona(sgidtest.DefaultPersonas()[1].Sub); err != nil {
//		t.Fatal(err)
//	}
//
//	// From now on every ID token carries the wrong nonce.
//	srv.SetFaults(sgidtest.Faults{WrongNonce: true})
//
// A Provider can also be mounted in an existing mux; it serves everything
// under the path prefix /v2 relative to its mount point:
//
//	p, err := sgidtest.NewProvider("http://localhost:8080/sgid/v2", sgidtest.Options{
//		LoginPage:    true,
//		RedirectURIs: []string{"http://localhost:8080/callback"},
//	})
//	mux.Handle("/sgid/", http.StripPrefix("/sgid", p))
//
// By default any absolute http(s) redirect URI is accepted, which suits tests
// whose port is only known at run time. A provider that real browsers reach
// must pin them: Options.RedirectURIs lists fixed ones, and
// Options.AllowRedirect decides per request (the Caddy module's mock allows
// each request only its own site's callback). A refused URI gets a 400 page,
// never a redirect.
//
// With Options.LoginPage, the page keeps nothing on the server: its form
// carries the login request, an expiry and a MAC. LoginForm reads that form
// for tests that drive the page without a browser.
//
// Codes, access tokens and used login forms are kept in tables swept in
// expiry order and bounded at 100,000 entries each, oldest first, so a
// long-running provider neither slows down nor grows without end.
//
// Nothing here is secure enough for production use: the login page lets
// anyone pick any persona. It exists for tests only.
package sgidtest
