package sgidtest

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"

	"github.com/caddy-sgid/caddy-sgid/sgid/mock"
)

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
	// 200 with its JSON cut off in the middle. The endpoint still does its
	// work: the code is consumed and the access token issued.
	MalformedTokenJSON    bool
	MalformedUserinfoJSON bool

	// Delay makes the token, userinfo and JWKS endpoints wait this long
	// before answering, or until the request is cancelled, to test client
	// timeouts.
	Delay time.Duration
}

// writeFaultStatus answers an injected HTTP error with a small plain-text
// body, which is what a proxy in front of a failing provider tends to send.
func writeFaultStatus(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "sgidtest: injected fault, status %d\n", status)
}

// alterIDToken applies the ID token faults to a token the mock is about to
// sign. The mock sets iat to the time of issue and exp one token lifetime
// later, so both are recovered from the claims.
func (p *Provider) alterIDToken(t *mock.IDToken) {
	f := p.currentFaults()
	c := t.Claims
	now, _ := c["iat"].(int64)
	exp, _ := c["exp"].(int64)
	ttl := exp - now
	const hour = int64(time.Hour / time.Second)
	iat := now
	if f.FutureIat {
		iat = now + hour
	}
	exp = iat + ttl
	if f.ExpiredToken {
		exp = now - hour
		if !f.FutureIat {
			iat = exp - ttl
		}
	}
	c["iat"], c["exp"] = iat, exp
	if f.WrongIssuer {
		c["iss"] = p.Issuer() + "/evil"
	}
	if f.WrongAudience {
		c["aud"] = p.ClientID() + "-other"
	}
	if f.WrongNonce {
		c["nonce"] = "wrong-" + randomToken(16)
	}
	if f.MissingNonce {
		delete(c, "nonce")
	}
	if f.EmptySub {
		c["sub"] = ""
	}
	switch {
	case f.AlgHS256:
		t.Alg, t.Key = jwa.HS256, []byte(p.ClientSecret())
	case f.UnknownKID:
		t.Key, t.KeyID = p.strayKey(), "sgidtest-unknown-"+randomToken(6)
	case f.WrongSignature:
		t.Key = p.strayKey()
	}
}

// alterUserinfo applies the userinfo faults to an answer the mock is about
// to encrypt.
func (p *Provider) alterUserinfo(u *mock.Userinfo) {
	f := p.currentFaults()
	if f.UserinfoSubMismatch {
		u.Sub = "sgidtest:someone-else"
	}
	if f.UndecryptableKey {
		u.Recipient = &p.strayKey().PublicKey
	}
	if len(u.Fields) == 0 {
		return
	}
	first := &u.Fields[0]
	if f.UndecryptableField {
		other := make([]byte, len(first.Key))
		_, _ = rand.Read(other) // crypto/rand.Read never returns an error.
		first.Key = other
	}
	if f.FieldWrongAlg {
		first.Alg = wrongFieldAlg(p.encoding)
	}
}

// wrongFieldAlg is a key wrapping algorithm that works with the encoding's
// symmetric key but lies outside both encodings' allow-lists.
func wrongFieldAlg(e Encoding) jwa.KeyEncryptionAlgorithm {
	if e == EncodingMockpass {
		return jwa.A256KW
	}
	return jwa.A128KW
}
