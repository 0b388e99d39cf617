package caddysgid

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The handler's cookies: the session cookie, holding only a session id, and
// one cookie per login in progress, holding that login sealed. This file
// also tells the origin the browser sees: whether it is HTTPS (for the
// cookies' Secure attribute, their __Host- prefix and the derived redirect
// URI's scheme) and which host it is on.

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
	return r.Cookie(cookie.Wire(base, j.isSecure(r)))
}

// value is get's cookie value, read without building a cookie for each
// of the request's cookies (see cookie.Value): for the session cookie,
// which every request is looked up by.
func (j cookieJar) value(r *http.Request, base string) (string, bool) {
	return cookie.Value(r.Header, cookie.Wire(base, j.isSecure(r)))
}

// loginBase reports whether the request cookie c is one of our login
// cookies under the name this request's scheme uses (on HTTPS only a
// __Host- name counts, and on plain HTTP only a bare one, as get reads
// them), and returns its base name, the one it was sealed for.
func (j cookieJar) loginBase(r *http.Request, c *http.Cookie) (string, bool) {
	var base string
	var ok bool
	if j.isSecure(r) {
		base, ok = strings.CutPrefix(c.Name, cookie.HostPrefix)
	} else {
		base, ok = c.Name, !strings.HasPrefix(c.Name, cookie.HostPrefix)
	}
	return base, ok && cookie.IsLoginName(base, j.name)
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

// expireAll deletes the browser's session cookie and login cookies.
func (j cookieJar) expireAll(w http.ResponseWriter, r *http.Request) {
	j.set(w, r, j.name, "", -1)
	for _, c := range r.Cookies() {
		if base, ok := j.loginBase(r, c); ok {
			j.set(w, r, base, "", -1)
		}
	}
}

// set writes one of our cookies (see cookie.Set), Secure on HTTPS.
func (j cookieJar) set(w http.ResponseWriter, r *http.Request, base, value string, maxAge time.Duration) {
	cookie.Set(w, base, value, maxAge, j.isSecure(r))
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
