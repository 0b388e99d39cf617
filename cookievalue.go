package caddysgid

import (
	"net/http"
	"net/textproto"
	"strings"
)

// maxCookiesFast is how many cookies a request may carry for cookieValue
// to read its Cookie header itself. Past it, net/http's own reading (with
// its limit on the number of cookies, which GODEBUG can change) decides.
const maxCookiesFast = 64

// cookieValue returns the value of the first cookie named name in the
// request's Cookie header, as r.Cookie(name).Value would, without
// building an http.Cookie for every cookie of the request: this runs for
// every request the handler sees. Like net/http, it skips parts whose
// name is not a token or whose value holds a byte a cookie value may not,
// and takes off one pair of double quotes around the value.
func cookieValue(h http.Header, name string) (string, bool) {
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
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// isCookieToken reports whether s is an HTTP token (RFC 9110), the only
// cookie names net/http reads.
func isCookieToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
