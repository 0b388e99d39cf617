// Package mock is a development sgID v2 provider: the engine behind the
// Caddy module's `mock` option, which gives a working login without
// registered credentials or a network connection.
//
// It speaks the same protocol as the real provider: discovery, a JWKS, the
// authorization code flow with PKCE S256, client_secret_post at the token
// endpoint, RS256 ID tokens and userinfo values encrypted as nested JWEs
// (in sgID's algorithms, or mockpass's with EncodingMockpass). It is strict
// where a relying party must be kept honest: codes are single use, PKCE,
// the client secret and the redirect URI are checked, and a code that is
// replayed revokes what it bought.
//
// A Provider is an http.Handler serving everything under the path prefix
// /v2 relative to where it is mounted:
//
//	p, err := mock.NewProvider("http://localhost:8080/sgid/v2", mock.Options{
//		LoginPage:    true,
//		RedirectURIs: []string{"http://localhost:8080/callback"},
//	})
//	mux.Handle("/sgid/", http.StripPrefix("/sgid", p))
//
// Its back-channel endpoints can also be reached without a listener, through
// the in-process http.RoundTripper that Transport returns.
//
// With Options.LoginPage, the authorize endpoint shows a page on which a
// person picks one of the made-up Personas, or cancels. The page keeps
// nothing on the server: its form carries the login request, an expiry and
// a MAC. Codes, access tokens and used login forms are kept in tables swept
// in expiry order and bounded at 100,000 entries each, oldest first, so a
// long-running provider neither slows down nor grows without end.
//
// A provider that browsers reach must pin its redirect URIs, with
// Options.RedirectURIs or Options.AllowRedirect; by default any absolute
// http(s) URI is accepted. A refused URI gets a 400 page, never a redirect.
//
// Never use it in production: anyone can log in as any persona. Tests that
// need a provider which misbehaves on purpose use package sgidtest, which
// wraps this one.
package mock
