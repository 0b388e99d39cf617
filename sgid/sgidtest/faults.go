package sgidtest

import "time"

// Faults makes the provider misbehave on purpose, so that tests can prove a
// client rejects each kind of bad answer. Every knob is independent; the zero
// value means behave correctly. Set them with Provider.SetFaults.
//
// A token has only one signature, so when several signature faults are set,
// AlgHS256 takes precedence over UnknownKID, which takes precedence over
// WrongSignature. Likewise MissingNonce takes precedence over WrongNonce.
type Faults struct {
	// WrongSignature signs ID tokens with a key the JWKS does not hold
	// while still naming the JWKS key's kid, so only the signature check
	// can catch it.
	WrongSignature bool
	// UnknownKID signs ID tokens with a key the JWKS does not hold under a
	// kid the JWKS never lists, even after a refetch.
	UnknownKID bool
	// AlgHS256 signs ID tokens with HS256, using the client secret as the
	// HMAC key and the JWKS key's kid. A client that lets the token choose
	// its algorithm would accept it; sgID only ever uses RS256.
	AlgHS256 bool

	// WrongIssuer puts the issuer plus "/evil" into iss, which catches
	// clients that compare by prefix.
	WrongIssuer bool
	// WrongAudience puts another client's ID into aud.
	WrongAudience bool
	// WrongNonce puts a nonce into the ID token that differs from the one
	// sent to the authorize endpoint (or any nonce when none was sent).
	WrongNonce bool
	// MissingNonce leaves nonce out of the ID token even when one was sent.
	MissingNonce bool
	// ExpiredToken issues ID tokens that expired an hour ago. The access
	// token stays valid, so that only the ID token check can catch it.
	ExpiredToken bool
	// FutureIat issues ID tokens whose iat lies an hour in the future.
	FutureIat bool
	// EmptySub issues ID tokens whose sub is the empty string.
	EmptySub bool

	// UserinfoSubMismatch makes userinfo answer a sub other than the one in
	// the ID token.
	UserinfoSubMismatch bool
	// UndecryptableKey encrypts userinfo's `key` to an RSA key other than
	// the client's.
	UndecryptableKey bool
	// UndecryptableField encrypts the first field (in scope order) under a
	// symmetric key other than the one delivered in `key`.
	UndecryptableField bool
	// FieldWrongAlg encrypts the first field (in scope order) with a key
	// wrapping algorithm outside both encodings' allow-lists (A128KW for
	// EncodingSgID, A256KW for EncodingMockpass) but under the right key,
	// so only a client that checks the header's alg rejects it.
	FieldWrongAlg bool

	// TokenStatus, UserinfoStatus and JWKSStatus, when non-zero, make the
	// endpoint answer that HTTP status with a small plain-text body.
	TokenStatus    int
	UserinfoStatus int
	JWKSStatus     int

	// MalformedTokenJSON and MalformedUserinfoJSON make the endpoint answer
	// 200 with truncated JSON.
	MalformedTokenJSON    bool
	MalformedUserinfoJSON bool

	// Delay makes the token, userinfo and JWKS endpoints wait this long
	// before answering, or until the request is cancelled, to test client
	// timeouts.
	Delay time.Duration
}
