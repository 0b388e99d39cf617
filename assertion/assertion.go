package assertion

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Claims are what an assertion says about the user, besides its audience
// and validity.
type Claims struct {
	// Issuer is the site's origin, scheme://host[:port]: the iss claim.
	Issuer string
	// Subject is the sgID subject: the sub claim.
	Subject string
	// AuthTime is when the user logged in: the auth_time claim, in unix
	// seconds.
	AuthTime time.Time
	// Fields are further claims, each a string. Names must be distinct
	// and none may be a registered claim (see Reserved). A field the user
	// has no value for is left out by the caller, not sent empty.
	Fields []Field
}

// Field is one further claim of an assertion.
type Field struct {
	Name  string
	Value string
}

// reserved are the claim names the signer sets itself, and the registered
// ones it does not set but that a verifier would read with their
// registered meaning.
var reserved = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true,
	"iat": true, "jti": true, "auth_time": true,
}

// Reserved reports whether a field may not use name, since it is a claim
// with a meaning of its own that the signer sets or a verifier checks.
func Reserved(name string) bool {
	return reserved[name]
}

// Assertion returns a signed assertion of c for audience, valid from now
// for the configured lifetime.
//
// session identifies the user's session (any string unique to it, kept in
// this process's memory only). Signing costs far more than the rest of a
// request, so the assertion signed for a (session, audience) pair is
// handed out again for requests within the same second of its iat, as long
// as c is unchanged. Its exp stays iat + lifetime, so a reused assertion
// expires as it would have, and it is never older than its iat says by a
// second or more.
func (s *Signer) Assertion(ctx context.Context, session, audience string, c Claims) (string, error) {
	now := s.now()
	sec := now.Unix()
	k := cacheKey{session: session, audience: audience}
	if tok, ok := s.cache.get(k, sec, &c); ok {
		return tok, nil
	}
	tok, err := s.sign(ctx, now, audience, &c)
	if err != nil {
		return "", err
	}
	s.cache.put(k, sec, &c, tok)
	return tok, nil
}

// sign makes a new assertion, signed with the key of now's epoch.
func (s *Signer) sign(ctx context.Context, now time.Time, audience string, c *Claims) (string, error) {
	switch {
	case c.Issuer == "":
		return "", errors.New("assertion: no issuer")
	case c.Subject == "":
		return "", errors.New("assertion: no subject")
	case audience == "":
		return "", errors.New("assertion: no audience")
	}
	for i, f := range c.Fields {
		if f.Name == "" || Reserved(f.Name) {
			return "", fmt.Errorf("assertion: field name %q may not be used", f.Name)
		}
		for _, g := range c.Fields[:i] {
			if g.Name == f.Name {
				return "", fmt.Errorf("assertion: field %q is given twice", f.Name)
			}
		}
	}
	key, err := s.key(ctx, s.epoch(now))
	if err != nil {
		return "", err
	}
	iat := now.Unix()
	payload := make([]byte, 0, 256)
	payload = append(payload, `{"iss":`...)
	payload = appendJSONString(payload, c.Issuer)
	payload = append(payload, `,"aud":`...)
	payload = appendJSONString(payload, audience)
	payload = append(payload, `,"sub":`...)
	payload = appendJSONString(payload, c.Subject)
	payload = append(payload, `,"auth_time":`...)
	payload = strconv.AppendInt(payload, c.AuthTime.Unix(), 10)
	payload = append(payload, `,"iat":`...)
	payload = strconv.AppendInt(payload, iat, 10)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, iat+s.lifetime, 10)
	for _, f := range c.Fields {
		payload = append(payload, ',')
		payload = appendJSONString(payload, f.Name)
		payload = append(payload, ':')
		payload = appendJSONString(payload, f.Value)
	}
	payload = append(payload, '}')

	// jws.Sign sets alg in the headers it is given, so each signature has
	// headers of its own.
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, key.kid); err != nil {
		return "", err
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256, key.priv, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("assertion: signing: %w", err)
	}
	return string(out), nil
}

// appendJSONString appends s as a JSON string. Bytes that are not UTF-8
// become U+FFFD, as encoding/json does, so the payload is always valid
// JSON.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// Bounds of the assertion cache.
const (
	cacheShards = 16
	// cacheEntries bounds the number of assertions kept for reuse. Only
	// the ones signed in the current second are of use, so this is the
	// number of sessions that can share their assertions within one
	// second; beyond it, some requests sign anew.
	cacheEntries = 10000
)

// assertionCache keeps the assertions signed in the current second, for
// reuse. It is sharded by session so that concurrent requests of
// different users rarely wait for one another.
type assertionCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[cacheKey]*cached
	// swept is the second of the last sweep: entries of earlier seconds
	// are deleted at the first put of each second.
	swept int64
}

type cacheKey struct {
	session, audience string
}

// cached is an assertion and the claims it was signed for.
type cached struct {
	token    string
	iat      int64
	issuer   string
	subject  string
	authTime int64
	fields   []Field
}

func (c *assertionCache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[cacheKey]*cached)
	}
}

func (c *assertionCache) shard(session string) *cacheShard {
	return &c.shards[maphash.String(c.seed, session)%cacheShards]
}

// get returns the assertion signed for k in second sec, when its claims
// are cl's.
func (c *assertionCache) get(k cacheKey, sec int64, cl *Claims) (string, bool) {
	sh := c.shard(k.session)
	sh.mu.RLock()
	e := sh.m[k]
	sh.mu.RUnlock()
	if e == nil || e.iat != sec || !e.matches(cl) {
		return "", false
	}
	return e.token, true
}

func (e *cached) matches(c *Claims) bool {
	if e.issuer != c.Issuer || e.subject != c.Subject || e.authTime != c.AuthTime.Unix() || len(e.fields) != len(c.Fields) {
		return false
	}
	for i, f := range c.Fields {
		if e.fields[i] != f {
			return false
		}
	}
	return true
}

// put keeps tok, signed for k in second sec with claims cl.
func (c *assertionCache) put(k cacheKey, sec int64, cl *Claims, tok string) {
	e := &cached{
		token:    tok,
		iat:      sec,
		issuer:   cl.Issuer,
		subject:  cl.Subject,
		authTime: cl.AuthTime.Unix(),
		// A copy, since the caller may reuse its slice.
		fields: append([]Field(nil), cl.Fields...),
	}
	sh := c.shard(k.session)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.swept != sec {
		for key, old := range sh.m {
			if old.iat != sec {
				delete(sh.m, key)
			}
		}
		sh.swept = sec
	}
	if _, ok := sh.m[k]; !ok && len(sh.m) >= cacheEntries/cacheShards {
		// Full of this second's assertions: make room by dropping one,
		// whichever the map yields first.
		for key := range sh.m {
			delete(sh.m, key)
			break
		}
	}
	sh.m[k] = e
}

// len is the number of assertions kept, for tests.
func (c *assertionCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
