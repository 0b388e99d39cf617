// Package cookie holds the rules of sgid's cookies: their names (the
// session cookie, one login cookie per login in progress, the __Host-
// prefix on HTTPS), reading the session cookie's value from a request
// without parsing every cookie, writing Set-Cookie, cutting sgid's cookies
// out of a request passed on; and what decides their names and Secure, the
// scheme the browser used (IsHTTPS), with the origin it sees (Origin),
// from which the redirect URI is derived.
package cookie

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// LoginInfix joins the session cookie's name and a login's own part in the
// name of that login's cookie: sgid_session_login_<12 characters> by
// default.
const LoginInfix = "_login_"

// LoginSuffixLen is the length of a login cookie's own part: 72 bits of a
// hash of the state, so two logins of one browser never share a cookie.
const LoginSuffixLen = 12

// LoginName is the name of the cookie holding the login of state,
// for the session cookie name: a hash of the state, so the callback finds
// the cookie of the state it got without reading any other, and several
// tabs each keep their own login.
func LoginName(name, state string) string {
	// Hashed and encoded on the stack: the name is the one allocation. A
	// state of ours is 43 bytes; a longer one, which only a callback can
	// bring, goes through a hash.Hash, which would not stay on the stack.
	var sum [sha256.Size]byte
	if len(state) <= maxStackState {
		var buf [len(loginNameContext) + maxStackState]byte
		n := copy(buf[:], loginNameContext)
		n += copy(buf[n:], state)
		sum = sha256.Sum256(buf[:n])
	} else {
		h := sha256.New()
		h.Write([]byte(loginNameContext))
		h.Write([]byte(state))
		h.Sum(sum[:0])
	}
	var suffix [LoginSuffixLen]byte
	base64.RawURLEncoding.Encode(suffix[:], sum[:LoginSuffixLen*3/4])
	return name + LoginInfix + string(suffix[:])
}

// maxStackState is the longest state LoginName hashes on the stack.
const maxStackState = 128

// loginNameContext is hashed before the state in a login cookie's name.
const loginNameContext = "sgid-login-cookie\x00"

// IsLoginName reports whether n names a login cookie that goes with
// the session cookie name, without building a string for every cookie of
// every request.
func IsLoginName(n, name string) bool {
	return len(n) == len(name)+len(LoginInfix)+LoginSuffixLen &&
		strings.HasPrefix(n, name) && strings.HasPrefix(n[len(name):], LoginInfix)
}

// HostPrefix marks a cookie that the browser accepts only when it is
// Secure, has Path=/ and no Domain, and was set by this very host: a
// sibling subdomain (or a plain-HTTP page of this one) cannot set or
// overwrite it, as it can a cookie without the prefix.
const HostPrefix = "__Host-"

// Wire is the name one of our cookies goes by on the wire, for
// setting and reading alike: the documented base name (sgid_session,
// sgid_session_login_<suffix>) on plain HTTP, where browsers refuse the
// prefix, and "__Host-" + base on HTTPS.
func Wire(base string, secure bool) string {
	if secure {
		return HostPrefix + base
	}
	return base
}

// write writes one of sgid's cookies, named base before its wire prefix
// (see Wire), as a Set-Cookie header. maxAge < 0 deletes it; under a
// second, it lasts for the browser's session. Always HttpOnly, Path=/ and
// no Domain, as the __Host- prefix requires, and SameSite=Lax, not Strict:
// sgID's callback is a cross-site top-level navigation, and the login
// cookie must come with it. Secure when secure, which also picks the
// prefix. sgid's names are cookie tokens and its values base64url or
// empty, so the header is written as net/http writes it, without net/http
// checking every byte of a value that cannot hold one it would refuse; any
// other value goes through net/http.
func write(w http.ResponseWriter, base, value string, maxAge time.Duration, secure bool) {
	name := Wire(base, secure)
	if !plainValue(value) {
		c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
		if maxAge < 0 {
			c.MaxAge = -1
		} else {
			c.MaxAge = int(maxAge / time.Second)
		}
		http.SetCookie(w, c)
		return
	}
	var b strings.Builder
	b.Grow(len(name) + 1 + len(value) + maxAttrLen)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(value)
	addLine(w, &b, maxAge, secure)
}

// maxAttrLen is the longest attribute list writeAttrs writes, with
// Max-Age at its longest.
const maxAttrLen = len("; Path=/; Max-Age=9223372036; HttpOnly; Secure; SameSite=Lax")

// addLine ends the Set-Cookie line in b, name=value so far, with the
// attributes of every cookie of ours (see write), and adds it to w's
// headers.
func addLine(w http.ResponseWriter, b *strings.Builder, maxAge time.Duration, secure bool) {
	b.WriteString("; Path=/")
	switch {
	case maxAge < 0:
		b.WriteString("; Max-Age=0")
	case maxAge >= time.Second:
		var n [20]byte
		b.WriteString("; Max-Age=")
		b.Write(strconv.AppendInt(n[:0], int64(maxAge/time.Second), 10))
	}
	b.WriteString("; HttpOnly")
	if secure {
		b.WriteString("; Secure")
	}
	b.WriteString("; SameSite=Lax")
	// The name is canonical already: appended as it is, without the
	// canonicalisation Header.Add runs on every call.
	h := w.Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], b.String())
}

// EncodedLen is the length of the value SetBase64 writes for n bytes.
func EncodedLen(n int) int { return base64.RawURLEncoding.EncodedLen(n) }

// SetBase64 writes one of our cookies as Set does, with base64url of raw
// for its value. The value is encoded straight into the Set-Cookie line,
// which is then the one allocation, and since base64url is all bytes a
// cookie carries as they are, it is not checked byte by byte as Set
// checks a value it is given: auth-url writes a sealed login so on every
// call.
func (j Jar) SetBase64(w http.ResponseWriter, r *http.Request, base string, raw []byte, maxAge time.Duration) {
	secure := j.IsSecure(r)
	name := Wire(base, secure)
	var b strings.Builder
	b.Grow(len(name) + 1 + EncodedLen(len(raw)) + maxAttrLen)
	b.WriteString(name)
	b.WriteByte('=')
	// In chunks of whole 3-byte groups, which encode to what the whole
	// would, through a buffer on the stack.
	var chunk [256]byte
	for len(raw) > 0 {
		n := min(len(raw), len(chunk)/4*3)
		base64.RawURLEncoding.Encode(chunk[:], raw[:n])
		b.Write(chunk[:EncodedLen(n)])
		raw = raw[n:]
	}
	addLine(w, &b, maxAge, secure)
}

// plainValue reports whether v is empty or base64url, which a
// cookie carries as it is.
func plainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if !base64URLByte[v[i]] {
			return false
		}
	}
	return true
}

// base64URLByte marks the bytes of the base64url alphabet.
var base64URLByte = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		t[c] = true
	}
	return t
}()

// Strip cuts the session cookie (name) and the login cookies
// (see LoginName), each under its plain and its __Host- name, out of
// the Cookie header, keeping every other cookie as the client sent it, and
// removes the header when nothing is left.
func Strip(hdr http.Header, name string) {
	values := hdr["Cookie"]
	if len(values) == 1 {
		// The common shape, one Cookie line, changes without building a
		// new list unless some other cookie is kept.
		kept, changed := withoutSessionCookies(values[0], name)
		switch {
		case !changed:
		case kept == "":
			delete(hdr, "Cookie")
		default:
			hdr["Cookie"] = []string{kept}
		}
		return
	}
	var out []string // nil until a value changes
	for i, v := range values {
		kept, changed := withoutSessionCookies(v, name)
		if changed && out == nil {
			out = append(make([]string, 0, len(values)), values[:i]...)
		}
		if out != nil && (!changed || kept != "") {
			out = append(out, kept)
		}
	}
	if out == nil {
		return
	}
	if len(out) == 0 {
		delete(hdr, "Cookie")
		return
	}
	hdr["Cookie"] = out
}

// withoutSessionCookies is one Cookie header value with the session and
// login cookies cut out (see Strip), and whether any was.
// The parts kept are joined with "; " into one new string.
func withoutSessionCookies(v, name string) (string, bool) {
	if !strings.Contains(v, name) {
		return v, false
	}
	var kept strings.Builder
	changed := false
	for part := range strings.SplitSeq(v, ";") {
		// Only ASCII white space comes off a cookie that is kept, as Go's
		// cookie parser takes it off: trimming more (a no-break space)
		// could turn a part no parser reads as a cookie into one that is
		// read. Our own names are matched with every space trimmed, so a
		// lenient parser further on finds none of them.
		part = textproto.TrimString(part)
		n, _, _ := strings.Cut(part, "=")
		n = strings.TrimPrefix(strings.TrimSpace(n), HostPrefix)
		if n == name || IsLoginName(n, name) {
			changed = true
			continue
		}
		if part != "" {
			if kept.Len() == 0 {
				kept.Grow(len(v))
			} else {
				kept.WriteString("; ")
			}
			kept.WriteString(part)
		}
	}
	if !changed {
		return v, false
	}
	return kept.String(), true
}

// maxCookiesFast is how many cookies a request may carry for Value
// to read its Cookie header itself. Past it, net/http's own reading (with
// its limit on the number of cookies, which GODEBUG can change) decides.
const maxCookiesFast = 64

// Value returns the value of the first cookie named name in the
// request's Cookie header, as r.Cookie(name).Value would, without
// building an http.Cookie for every cookie of the request: this runs for
// every request the handler sees. Like net/http, it skips parts whose
// name is not a token or whose value holds a byte a cookie value may not,
// and takes off one pair of double quotes around the value.
func Value(h http.Header, name string) (string, bool) {
	lines := h["Cookie"]
	if len(lines) == 0 || !isCookieToken(name) {
		return "", false
	}
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxCookiesFast {
		r := http.Request{Header: h}
		c, err := r.Cookie(name)
		if err != nil {
			return "", false
		}
		return c.Value, true
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			k, v, _ := strings.Cut(part, "=")
			// Only the name we look for is compared: a part whose trimmed
			// name equals it has a token for a name, since name is one.
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// validCookieValue reports whether every byte of v may appear in a cookie
// value, by the rule net/http reads cookies with.
func validCookieValue(v string) bool {
	// One table look-up per byte: this reads the session cookie of every
	// request.
	for i := 0; i < len(v); i++ {
		if !cookieValueByte[v[i]] {
			return false
		}
	}
	return true
}

// cookieValueByte marks the bytes net/http takes in a cookie value:
// printable ASCII but '"', ';' and '\\'.
var cookieValueByte = func() (t [256]bool) {
	for b := 0x20; b < 0x7f; b++ {
		t[b] = b != '"' && b != ';' && b != '\\'
	}
	return t
}()

// isCookieToken reports whether s is an HTTP token (RFC 9110), the only
// cookie names net/http reads.
func isCookieToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte marks the bytes of an HTTP token.
var tokenByte = func() (t [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// Jar reads and writes one handler's cookies for a request, under the
// names the request's scheme uses, and makes the origin the browser sees
// (see Jar.Origin). A Jar made by NewJar keeps the origin it made last;
// a Jar literal keeps none and is otherwise the same.
type Jar struct {
	// Name is the session cookie's base name (cookie_name).
	Name string
	// Secure is cookie_secure: when set, it decides Secure instead of the
	// request.
	Secure *bool

	// origins is the jar's own origin cache, shared by its copies; nil in
	// a Jar literal.
	origins *originCache
}

// NewJar is the jar of a handler whose session cookie is named name, under
// cookie_secure secure (nil: each request's scheme decides), with an
// origin cache of its own.
func NewJar(name string, secure *bool) Jar {
	return Jar{Name: name, Secure: secure, origins: new(originCache)}
}

// IsSecure reports whether the browser reached the site over HTTPS, and so
// whether the cookies are Secure: cookie_secure when it is set, otherwise
// IsHTTPS.
func (j Jar) IsSecure(r *http.Request) bool {
	if j.Secure != nil {
		return *j.Secure
	}
	return IsHTTPS(r)
}

// Get returns the request's cookie of ours named base. On HTTPS only the
// __Host- name counts: a cookie under the bare name may have been planted
// by a sibling subdomain, and is ignored even when it comes first.
func (j Jar) Get(r *http.Request, base string) (*http.Cookie, error) {
	return r.Cookie(Wire(base, j.IsSecure(r)))
}

// Value is Get's cookie value, read without building a cookie for each of
// the request's cookies (see Value): for the session cookie, which every
// request is looked up by.
func (j Jar) Value(r *http.Request, base string) (string, bool) {
	name := Wire(base, j.IsSecure(r))
	return Value(r.Header, name)
}

// LoginBase reports whether the request cookie c is one of our login
// cookies under the name this request's scheme uses (on HTTPS only a
// __Host- name counts, and on plain HTTP only a bare one, as Get reads
// them), and returns its base name, the one it was sealed for.
func (j Jar) LoginBase(r *http.Request, c *http.Cookie) (string, bool) {
	return j.loginBase(c, j.IsSecure(r))
}

func (j Jar) loginBase(c *http.Cookie, secure bool) (string, bool) {
	var base string
	var ok bool
	if secure {
		base, ok = strings.CutPrefix(c.Name, HostPrefix)
	} else {
		base, ok = c.Name, !strings.HasPrefix(c.Name, HostPrefix)
	}
	return base, ok && IsLoginName(base, j.Name)
}

// HasLogin reports whether the request carries any login cookie.
func (j Jar) HasLogin(r *http.Request) bool {
	secure := j.IsSecure(r)
	for _, c := range r.Cookies() {
		if _, ok := j.loginBase(c, secure); ok {
			return true
		}
	}
	return false
}

// ExpireAll deletes the browser's session cookie and login cookies.
func (j Jar) ExpireAll(w http.ResponseWriter, r *http.Request) {
	secure := j.IsSecure(r)
	write(w, j.Name, "", -1, secure)
	for _, c := range r.Cookies() {
		if base, ok := j.loginBase(c, secure); ok {
			write(w, base, "", -1, secure)
		}
	}
}

// Set writes one of our cookies (see write), Secure on HTTPS.
func (j Jar) Set(w http.ResponseWriter, r *http.Request, base, value string, maxAge time.Duration) {
	write(w, base, value, maxAge, j.IsSecure(r))
}

// IsHTTPS reports whether the request came over TLS, to Caddy or, as Caddy
// itself decides for its sticky-session cookies, to one of the server's
// trusted_proxies that says so in its last X-Forwarded-Proto. X-Forwarded-Proto from any other client
// is ignored: anyone can send it.
func IsHTTPS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	if !trusted {
		return false
	}
	xfp := r.Header.Values("X-Forwarded-Proto")
	return len(xfp) > 0 && xfp[len(xfp)-1] == "https"
}
