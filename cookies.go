package caddysgid

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// pendingInfix joins the session cookie's name and a login's own part in
// the name of that login's cookie: sgid_session_login_<12 characters> by
// default.
const pendingInfix = "_login_"

// pendingCookieName is the name of the cookie holding the login of state.
func pendingCookieName(name, state string) string {
	return name + pendingInfix + pendingCookieSuffix(state)
}

// isPendingCookieName reports whether n names a login cookie that goes with
// the session cookie name, without building a string for every cookie of
// every request.
func isPendingCookieName(n, name string) bool {
	return len(n) == len(name)+len(pendingInfix)+pendingSuffixLen &&
		strings.HasPrefix(n, name) && strings.HasPrefix(n[len(name):], pendingInfix)
}

// newID returns 32 random bytes in base64url: a cookie value or a state.
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// validID reports whether s looks like an id newID made. Anything else in a
// cookie is ignored without a store lookup.
func validID(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newCookie builds one of our cookies. maxAge < 0 deletes it. SameSite=Lax,
// not Strict: sgID's callback is a cross-site top-level navigation, and the
// login cookie must come with it.
func newCookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteLaxMode,
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// stripSessionCookies cuts the session cookie (name) and the login cookies
// (see pendingCookieName) out of the Cookie header, keeping every other cookie as
// the client sent it, and removes the header when nothing is left.
func stripSessionCookies(hdr http.Header, name string) {
	values := hdr["Cookie"]
	if len(values) == 0 {
		return
	}
	out := make([]string, 0, len(values))
	changed := false
	for _, v := range values {
		if !strings.Contains(v, name) {
			out = append(out, v)
			continue
		}
		var kept strings.Builder
		for part := range strings.SplitSeq(v, ";") {
			// Only ASCII white space comes off a cookie that is kept, as
			// Go's cookie parser takes it off: trimming more (a no-break
			// space) could turn a part no parser reads as a cookie into
			// one that is read. Our own names are matched with every space
			// trimmed, so a lenient parser further on finds none of them.
			part = textproto.TrimString(part)
			n, _, _ := strings.Cut(part, "=")
			n = strings.TrimSpace(n)
			if n == name || isPendingCookieName(n, name) {
				changed = true
				continue
			}
			if part != "" {
				if kept.Len() > 0 {
					kept.WriteString("; ")
				}
				kept.WriteString(part)
			}
		}
		if kept.Len() > 0 {
			out = append(out, kept.String())
		}
	}
	if !changed {
		return
	}
	if len(out) == 0 {
		delete(hdr, "Cookie")
		return
	}
	hdr["Cookie"] = out
}
