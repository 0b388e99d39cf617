package caddysgid

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
)

// How the handler tells the origin the browser sees, for the derived
// redirect URI.

// errBadHost is the error of a request whose Host header is not a valid
// host and port, when the redirect URI is derived from it.
var errBadHost = errors.New("the Host header is not a valid host[:port]")

// redirectURI is the configured redirect URI, or the callback on the
// request's own origin. The derived one follows the Host header, which the
// client chooses, so the host must be a valid host name or IP literal with
// an optional port of 1 to 65535 written in digits; anything else is an
// error, which the caller answers with 400.
func (h *Handler) redirectURI(r *http.Request) (string, error) {
	if h.RedirectURI != "" {
		return h.RedirectURI, nil
	}
	if !validHostPort(r.Host) {
		return "", errBadHost
	}
	scheme := "http"
	if r.TLS != nil {
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
