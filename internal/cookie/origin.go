package cookie

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
)

// ErrBadHost is the error of a request whose Host header is not a valid
// host and port, when the redirect URI is derived from it.
var ErrBadHost = errors.New("the Host header is not a valid host[:port]")

// Origin is the origin the browser sees, scheme://host, followed by
// path (made in one piece: auth-url derives its redirect URI so). It follows
// the Host header, which the client chooses, so the host must be a valid
// host name or IP literal with an optional port of 1 to 65535 written in
// digits; anything else is an error, which the caller answers with 400.
// The scheme is https when cookie_secure is on or the request came over
// HTTPS. Each call checks the host and builds the string anew; a handler
// that makes an origin on every request uses its Jar's Origin, which keeps
// the last one.
func Origin(r *http.Request, secure *bool, path string) (string, error) {
	return makeOrigin(r.Host, path, IsHTTPS(r) || secure != nil && *secure)
}

// makeOrigin is Origin for a host, a path and a scheme.
func makeOrigin(host, path string, https bool) (string, error) {
	if !validHostPort(host) {
		return "", ErrBadHost
	}
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	return scheme + host + path, nil
}

// Origin is the package's Origin under the jar's cookie_secure. A jar
// made by NewJar keeps the origin it made last: a handler's logins come to
// one host or a few, so a request for the same host, path and scheme gets
// it without checking the host again or allocating. Each jar keeps its
// own, so two handlers (or two routes of one, under different paths) do
// not take turns evicting each other's.
func (j Jar) Origin(r *http.Request, path string) (string, error) {
	https := IsHTTPS(r) || j.Secure != nil && *j.Secure
	if j.origins == nil {
		return makeOrigin(r.Host, path, https)
	}
	if last := j.origins.last.Load(); last != nil && last.host == r.Host && last.path == path && last.https == https {
		return last.origin, nil
	}
	o, err := makeOrigin(r.Host, path, https)
	if err != nil {
		return "", err
	}
	j.origins.last.Store(&madeOrigin{host: r.Host, path: path, https: https, origin: o})
	return o, nil
}

// originCache is the origin a jar made last.
type originCache struct {
	last atomic.Pointer[madeOrigin]
}

// madeOrigin is what Origin made of a valid host, path and scheme.
type madeOrigin struct {
	host, path string
	https      bool
	origin     string
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

// RedirectURI is the configured redirect URI, or else the callback path on
// the request's own origin (see Origin).
func RedirectURI(r *http.Request, configured, callbackPath string, secure *bool) (string, error) {
	if configured != "" {
		return configured, nil
	}
	return Origin(r, secure, callbackPath)
}

// RedirectURI is the package's RedirectURI under the jar's cookie_secure,
// with the origin made by the jar's Origin.
func (j Jar) RedirectURI(r *http.Request, configured, callbackPath string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	return j.Origin(r, callbackPath)
}
