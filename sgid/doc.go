// Package sgid is a client for the sgID v2 protocol (Singapore's government
// OpenID Connect provider, https://docs.id.gov.sg). It has no dependency on
// Caddy and can be used as a plain Go SDK.
//
// A login has three steps:
//
//  1. AuthorizationURL, with a random state, a PKCE challenge
//     (GeneratePKCEPair) and a nonce; send the browser there and keep the
//     state, verifier and nonce on the server.
//  2. Exchange, when sgID redirects back with a code: it posts the code and
//     the verifier and verifies the ID token (RS256 against the provider's
//     JWKS, iss, aud, exp, iat, nonce, sub).
//  3. Userinfo, with the access token: it checks the sub and decrypts the
//     user's data with the client's private key.
//
// Errors wrap the sentinels in errors.go (ErrProvider, ErrIDToken,
// ErrSubMismatch, ErrKeyDecryption, ErrFieldDecryption, ErrInvalidInput,
// ErrConfig). No error message carries the client secret, a code or a token.
//
// A call made with a context that carries a recording OpenTelemetry span
// (such as the request context under Caddy's tracing directive) records
// each request to sgID as a client span under it, made by that span's own
// tracer provider: "sgid.token", "sgid.userinfo", "sgid.jwks" and
// "sgid.discovery", with the attributes http.response.status_code and
// sgid.outcome (an Outcome constant) and status Error when the request
// failed. Spans hold no code, token, sub, URL or personal data.
package sgid
