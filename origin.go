package caddysgid

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// How the handler tells the origin the browser sees: whether it is HTTPS
// (for the cookies' Secure attribute, their __Host- prefix and the derived
// redirect URI's scheme) and which host it is on.

// errBadHost is the error of a request whose Host header is not a valid
// host and port, when the redirect URI is derived from it.
var errBadHost = errors.New("the Host header is not a valid host[:port]")

// secure reports whether the browser reached the site over HTTPS, and so
// whether the cookies are Secure: cookie_secure when it is set, otherwise
// the connection's TLS or, as Caddy itself decides for its sticky-session
// cookies, the last X-Forwarded-Proto of a request from one of the
// server's trusted_proxies.
func (h *Handler) secure(r *http.Request) bool {
	if h.CookieSecure != nil {
		return *h.CookieSecure
	}
	return requestIsHTTPS(r)
}

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

// redirectURI is the configured redirect URI, or the callback on the
// request's own origin. The derived one follows the Host header, which the
// client chooses, so the host must be a valid host name or IP literal with
// an optional port of 1 to 65535 written in digits; anything else is an
// error, which the caller answers with 400. It is https when the cookies
// are Secure by cookie_secure or the request came over HTTPS.
func (h *Handler) redirectURI(r *http.Request) (string, error) {
	if h.RedirectURI != "" {
		return h.RedirectURI, nil
	}
	if !validHostPort(r.Host) {
		return "", errBadHost
	}
	scheme := "http"
	if requestIsHTTPS(r) || (h.CookieSecure != nil && *h.CookieSecure) {
		scheme = "https"
	}
	return scheme + "://" + r.Host + h.CallbackPath, nil
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
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.Is4()
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
