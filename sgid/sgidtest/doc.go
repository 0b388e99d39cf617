// Package sgidtest runs a fake sgID v2 provider for tests, in the spirit of
// net/http/httptest.
//
// The fake speaks the same protocol as the real provider (authorization code
// flow with PKCE S256, client_secret_post, RS256 ID tokens and userinfo
// values encrypted as nested JWEs), so a relying party can be tested end to
// end without a network connection or a real Singpass account. It is also
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
//	p, err := sgidtest.NewProvider("http://localhost:8080/sgid/v2", sgidtest.Options{LoginPage: true})
//	mux.Handle("/sgid/", http.StripPrefix("/sgid", p))
//
// Nothing here is secure enough for production use: the login page lets
// anyone pick any persona. It exists for development and tests only.
package sgidtest
