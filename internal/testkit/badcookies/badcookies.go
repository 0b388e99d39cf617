// Package badcookies makes requests to the sgid handler's routes that carry
// random and malformed cookies: session ids that look right but name no
// session, ids of the wrong length or alphabet, quoted and duplicated
// cookies, login cookies with garbage, replayed or forged sealed values,
// and bytes no browser would send. The flood tests send them to prove that
// the handler answers each one as it should, never with a 5xx, and looks
// up none in its store but the ids that could be its own.
//
// Only tests import it.
package badcookies

import (
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"
	"strings"
)

// Login is a login's state and the name of its login cookie, as a real
// auth-url answer gives them, so that a callback finds "its" cookie and
// has to open the garbage in it.
type Login struct{ State, CookieName string }

// PassedOn is the Status of a request the handler passes to the next
// handler.
const PassedOn = 0

// Request is one request with bad cookies and what the handler must do
// with it.
type Request struct {
	// Path is the path and query.
	Path string
	// Cookie is the Cookie header; empty for none.
	Cookie string
	// Status is the answer the handler must give (200, 302 or 401), or
	// PassedOn.
	Status int
	// SessionLookup reports whether the first session cookie, as Go's
	// cookie parser reads it, looks like an id the handler makes (43
	// base64url characters): the only cookie that may cost a store lookup.
	SessionLookup bool
	// Logout reports whether the request is a logout, which deletes the
	// session a SessionLookup cookie names.
	Logout bool
}

// Paths of the site the requests are made for: the sgid handler's
// defaults, a protected path and one passed on unguarded.
const (
	authURL   = "/api/auth-url"
	callback  = "/api/redirect"
	userinfo  = "/api/userinfo"
	logout    = "/api/logout"
	Protected = "/private/report"
	Open      = "/open"
)

// New makes a random request for a handler whose session cookie is called
// name. logins are real logins (may be empty); epochs are the sealing-key
// epochs the handler accepts now, for forged login cookies that get as far
// as the decryption.
func New(rng *rand.Rand, name string, logins []Login, epochs []uint64) Request {
	var r Request
	var cookies []string
	switch rng.IntN(7) {
	case 0:
		r.Path, r.Status = userinfo, 401
	case 1:
		r.Path, r.Status = Protected, 401
	case 2:
		r.Path, r.Status = authURL, 200
	case 3:
		if len(logins) > 0 {
			l := logins[rng.IntN(len(logins))]
			r.Path, r.Status = callback+"?code=c0de&state="+l.State, 302
			cookies = append(cookies, l.CookieName+"="+loginValue(rng, epochs))
			break
		}
		fallthrough
	case 4:
		r.Path, r.Status = callback+"?code=c0de&state="+id(rng), 302
	case 5:
		r.Path, r.Status, r.Logout = logout, 200, true
	default:
		r.Path, r.Status = Open, PassedOn
	}
	session, lookup := sessionCookies(rng, name)
	r.SessionLookup = lookup
	for range rng.IntN(7) {
		cookies = append(cookies, loginName(rng, name)+"="+loginValue(rng, epochs))
	}
	for range rng.IntN(3) {
		cookies = append(cookies, other(rng))
	}
	rng.Shuffle(len(cookies), func(i, j int) { cookies[i], cookies[j] = cookies[j], cookies[i] })
	// The session cookies go in at one place, in their order, so the one
	// Go's parser picks is the one SessionLookup describes.
	at := rng.IntN(len(cookies) + 1)
	cookies = append(cookies[:at], append(session, cookies[at:]...)...)
	r.Cookie = strings.Join(cookies, "; ")
	return r
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// id is a random 43-character base64url string: what a session id or a
// state looks like.
func id(rng *rand.Rand) string { return randomFrom(rng, alphabet, 43) }

func randomFrom(rng *rand.Rand, chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// junk is n bytes a header may carry but a cookie value may not all hold:
// printable ASCII with separators and quotes, and bytes above 0x7f. No
// control characters, which an HTTP client refuses to send.
func junk(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		if rng.IntN(4) == 0 {
			b[i] = byte(0x80 + rng.IntN(0x80))
		} else {
			b[i] = byte(0x20 + rng.IntN(0x7f-0x20))
		}
	}
	return string(b)
}

// sessionCookies returns the session cookies of a request, maybe none,
// and whether the first that Go's parser accepts looks like an id.
func sessionCookies(rng *rand.Rand, name string) ([]string, bool) {
	switch rng.IntN(8) {
	case 0:
		return nil, false
	case 1:
		return []string{name + "=" + id(rng)}, true
	case 2:
		// Go's parser takes off the quotes, so this is a well-formed id.
		return []string{name + `="` + id(rng) + `"`}, true
	case 3:
		// The wrong length.
		n := rng.IntN(80)
		if n == 43 {
			n = 44
		}
		return []string{name + "=" + randomFrom(rng, alphabet, n)}, false
	case 4:
		// The right length with a character outside base64url.
		v := []byte(id(rng))
		v[rng.IntN(len(v))] = "+/.~!*"[rng.IntN(6)]
		return []string{name + "=" + string(v)}, false
	case 5:
		// Two session cookies: Go's parser picks the first, a malformed one.
		return []string{name + "=" + randomFrom(rng, alphabet, 42), name + "=" + id(rng)}, false
	case 6:
		// Junk, never of an id's length.
		n := rng.IntN(80)
		if n == 43 {
			n = 42
		}
		return []string{name + "=" + junk(rng, n)}, false
	default:
		// The name without a value, or a prefix of it.
		return []string{name, name[:len(name)-1] + "=" + id(rng)}, false
	}
}

// loginName is the name of a login cookie: mostly well-formed (the session
// cookie's name, "_login_" and 12 characters), sometimes a near miss.
func loginName(rng *rand.Rand, name string) string {
	switch rng.IntN(4) {
	case 0:
		return name + "_login_" + randomFrom(rng, alphabet, rng.IntN(20))
	default:
		return name + "_login_" + randomFrom(rng, alphabet, 12)
	}
}

// loginValue is garbage in a login cookie: the "used" mark, base64url of
// random bytes, a forged sealed value whose header names an epoch the
// handler accepts (so only the decryption can refuse it), or junk.
func loginValue(rng *rand.Rand, epochs []uint64) string {
	switch rng.IntN(5) {
	case 0:
		return "used"
	case 1:
		return randomFrom(rng, alphabet, rng.IntN(200))
	case 2, 3:
		b := []byte{1}
		epoch := rng.Uint64()
		if len(epochs) > 0 && rng.IntN(4) != 0 {
			epoch = epochs[rng.IntN(len(epochs))]
		}
		b = binary.AppendUvarint(b, epoch)
		body := make([]byte, rng.IntN(120))
		for i := range body {
			body[i] = byte(rng.UintN(256))
		}
		return base64.RawURLEncoding.EncodeToString(append(b, body...))
	default:
		return junk(rng, rng.IntN(100))
	}
}

// other is a cookie of another application on the same site.
func other(rng *rand.Rand) string {
	return randomFrom(rng, alphabet, 1+rng.IntN(10)) + "=" + randomFrom(rng, alphabet, rng.IntN(30))
}
