package caddysgid

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The handler's cookies: the session cookie, holding only a session id, and
// one cookie per login in progress, holding that login sealed. This file
// also tells the origin the browser sees: whether it is HTTPS (for the
// cookies' Secure attribute, their __Host- prefix and the derived redirect
// URI's scheme) and which host it is on.

// loginInfix joins the session cookie's name and a login's own part in the
// name of that login's cookie: sgid_session_login_<12 characters> by
// default.
const loginInfix = "_login_"

// loginSuffixLen is the length of a login cookie's own part: 72 bits of a
// hash of the state, so two logins of one browser never share a cookie.
const loginSuffixLen = 12

// loginCookieName is the name of the cookie holding the login of state,
// for the session cookie name: a hash of the state, so the callback finds
// the cookie of the state it got without reading any other, and several
// tabs each keep their own login.
func loginCookieName(name, state string) string {
	// Hashed and encoded on the stack: the name is the one allocation.
	h := sha256.New()
	h.Write([]byte(loginCookieContext))
	h.Write([]byte(state))
	var sum [sha256.Size]byte
	var suffix [loginSuffixLen]byte
	base64.RawURLEncoding.Encode(suffix[:], h.Sum(sum[:0])[:loginSuffixLen*3/4])
	return name + loginInfix + string(suffix[:])
}

// loginCookieContext is hashed before the state in a login cookie's name.
const loginCookieContext = "sgid-login-cookie\x00"

// isLoginCookieName reports whether n names a login cookie that goes with
// the session cookie name, without building a string for every cookie of
// every request.
func isLoginCookieName(n, name string) bool {
	return len(n) == len(name)+len(loginInfix)+loginSuffixLen &&
		strings.HasPrefix(n, name) && strings.HasPrefix(n[len(name):], loginInfix)
}

// hostPrefix marks a cookie that the browser accepts only when it is
// Secure, has Path=/ and no Domain, and was set by this very host: a
// sibling subdomain (or a plain-HTTP page of this one) cannot set or
// overwrite it, as it can a cookie without the prefix.
const hostPrefix = "__Host-"

// wireCookieName is the name one of our cookies goes by on the wire, for
// setting and reading alike: the documented base name (sgid_session,
// sgid_session_login_<suffix>) on plain HTTP, where browsers refuse the
// prefix, and "__Host-" + base on HTTPS.
func wireCookieName(base string, secure bool) string {
	if secure {
		return hostPrefix + base
	}
	return base
}

// cookieJar reads and writes the handler's cookies for a request.
type cookieJar struct {
	// name is the session cookie's base name (cookie_name).
	name string
	// secure is cookie_secure: when set, it decides Secure instead of
	// the request.
	secure *bool
}

// isSecure reports whether the browser reached the site over HTTPS, and so
// whether the cookies are Secure: cookie_secure when it is set, otherwise
// the connection's TLS or, as Caddy itself decides for its sticky-session
// cookies, the last X-Forwarded-Proto of a request from one of the
// server's trusted_proxies.
func (j cookieJar) isSecure(r *http.Request) bool {
	if j.secure != nil {
		return *j.secure
	}
	return requestIsHTTPS(r)
}

// get returns the request's cookie of ours named base. On HTTPS only the
// __Host- name counts: a cookie under the bare name may have been planted
// by a sibling subdomain, and is ignored even when it comes first.
func (j cookieJar) get(r *http.Request, base string) (*http.Cookie, error) {
	return r.Cookie(wireCookieName(base, j.isSecure(r)))
}

// value is get's cookie value, read without building a cookie for each
// of the request's cookies (see cookieValue): for the session cookie,
// which every request is looked up by.
func (j cookieJar) value(r *http.Request, base string) (string, bool) {
	return cookieValue(r.Header, wireCookieName(base, j.isSecure(r)))
}

// loginBase reports whether the request cookie c is one of our login
// cookies under the name this request's scheme uses (on HTTPS only a
// __Host- name counts, and on plain HTTP only a bare one, as get reads
// them), and returns its base name, the one it was sealed for.
func (j cookieJar) loginBase(r *http.Request, c *http.Cookie) (string, bool) {
	var base string
	var ok bool
	if j.isSecure(r) {
		base, ok = strings.CutPrefix(c.Name, hostPrefix)
	} else {
		base, ok = c.Name, !strings.HasPrefix(c.Name, hostPrefix)
	}
	return base, ok && isLoginCookieName(base, j.name)
}

// hasLogin reports whether the request carries any login cookie.
func (j cookieJar) hasLogin(r *http.Request) bool {
	for _, c := range r.Cookies() {
		if _, ok := j.loginBase(r, c); ok {
			return true
		}
	}
	return false
}

// make builds one of our cookies, named base before its wire prefix.
// maxAge < 0 deletes it. SameSite=Lax, not Strict: sgID's callback is a
// cross-site top-level navigation, and the login cookie must come with it.
// Path=/ and no Domain always, as the __Host- prefix requires.
func (j cookieJar) make(r *http.Request, base, value string, maxAge time.Duration) *http.Cookie {
	secure := j.isSecure(r)
	c := &http.Cookie{
		Name:     wireCookieName(base, secure),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// expireAll deletes the browser's session cookie and login cookies.
func (j cookieJar) expireAll(w http.ResponseWriter, r *http.Request) {
	j.set(w, r, j.name, "", -1)
	for _, c := range r.Cookies() {
		if base, ok := j.loginBase(r, c); ok {
			j.set(w, r, base, "", -1)
		}
	}
}

// set writes one of our cookies (see make) as a Set-Cookie header. Our
// names are cookie tokens and our values base64url or empty, so the header
// is written as net/http writes it, without net/http checking every byte
// of a value that cannot hold a byte it would refuse; any other value goes
// through net/http.
func (j cookieJar) set(w http.ResponseWriter, r *http.Request, base, value string, maxAge time.Duration) {
	if !plainCookieValue(value) {
		http.SetCookie(w, j.make(r, base, value, maxAge))
		return
	}
	secure := j.isSecure(r)
	name := wireCookieName(base, secure)
	var b strings.Builder
	b.Grow(len(name) + len(value) + 64)
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(value)
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
	w.Header().Add("Set-Cookie", b.String())
}

// plainCookieValue reports whether v is empty or base64url, which a
// cookie carries as it is.
func plainCookieValue(v string) bool {
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

// stripSessionCookies cuts the session cookie (name) and the login cookies
// (see loginCookieName), each under its plain and its __Host- name, out of
// the Cookie header, keeping every other cookie as the client sent it, and
// removes the header when nothing is left.
func stripSessionCookies(hdr http.Header, name string) {
	values := hdr["Cookie"]
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
// login cookies cut out (see stripSessionCookies), and whether any was.
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
		n = strings.TrimPrefix(strings.TrimSpace(n), hostPrefix)
		if n == name || isLoginCookieName(n, name) {
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

// errBadHost is the error of a request whose Host header is not a valid
// host and port, when the redirect URI is derived from it.
var errBadHost = errors.New("the Host header is not a valid host[:port]")

// requestIsHTTPS reports whether the request came over TLS, to Caddy or to
// a trusted proxy in front of it. X-Forwarded-Proto from any other client
// is ignored: anyone can send it.
func requestIsHTTPS(r *http.Request) bool {
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

// redirectURI is the configured redirect URI, or else the callback path on
// the request's own origin (see requestOrigin).
func redirectURI(r *http.Request, configured, callbackPath string, secure *bool) (string, error) {
	if configured != "" {
		return configured, nil
	}
	return requestOrigin(r, secure, callbackPath)
}

// requestOrigin is the origin the browser sees, scheme://host, followed by
// path (made in one piece: auth-url derives its redirect URI so). It follows
// the Host header, which the client chooses, so the host must be a valid
// host name or IP literal with an optional port of 1 to 65535 written in
// digits; anything else is an error, which the caller answers with 400.
// The scheme is https when cookie_secure is on or the request came over
// HTTPS.
func requestOrigin(r *http.Request, secure *bool, path string) (string, error) {
	if !validHostPort(r.Host) {
		return "", errBadHost
	}
	if requestIsHTTPS(r) || secure != nil && *secure {
		return "https://" + r.Host + path, nil
	}
	return "http://" + r.Host + path, nil
}

// validHostPort reports whether s is host or host:port, where host is a
// DNS name (letters, digits and hyphens in dot-separated labels), an IPv4
// address, or an IPv6 address in brackets, and port is 1 to 65535 in
// decimal digits only. It refuses what url.Parse would refuse, and more:
// signs, hex, percent escapes, brackets around names, zones.
func validHostPort(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		addr, err := netip.ParseAddr(s[1:end])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return false
		}
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return false
			}
			return validPort(rest[1:])
		}
		return true
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if !validPort(port) {
			return false
		}
	}
	// Only a host starting with a digit can be an IPv4 address (an IPv6
	// one needs its brackets); names skip the parse and its error value.
	if host != "" && '0' <= host[0] && host[0] <= '9' {
		if addr, err := netip.ParseAddr(host); err == nil {
			return addr.Is4()
		}
	}
	return validHostName(host)
}

// validPort accepts 1 to 65535 written in one to five decimal digits.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n >= 1 && n <= 65535
}

// validHostName accepts a DNS name of letters, digits and hyphens in labels
// of 1 to 63 characters that neither start nor end with a hyphen, at most
// 253 characters, with an optional final dot. Internationalized names
// arrive in their xn-- form.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
