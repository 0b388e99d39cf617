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

// hostPrefix marks a cookie that the browser accepts only when it is
// Secure, has Path=/ and no Domain, and was set by this very host: a
// sibling subdomain (or a plain-HTTP page of this one) cannot set or
// overwrite it, as it can a cookie without the prefix.
const hostPrefix = "__Host-"

// wireCookieName is the name one of our cookies goes by on the wire, for
// setting and reading alike: the documented base name (sgid_session,
// sgid_session_login_<suffix>, or any other of ours) on plain HTTP, where browsers
// refuse the prefix, and "__Host-" + base on HTTPS.
func wireCookieName(base string, secure bool) string {
	if secure {
		return hostPrefix + base
	}
	return base
}

// cookie returns the request's cookie of ours named base. On HTTPS only the
// __Host- name counts: a cookie under the bare name may have been planted
// by a sibling subdomain, and is ignored even when it comes first.
func (h *Handler) cookie(r *http.Request, base string) (*http.Cookie, error) {
	return r.Cookie(wireCookieName(base, h.secure(r)))
}

// cookieBase is the base name of a request cookie called wire, for code
// that walks r.Cookies() looking for ours (such as every login cookie,
// <name>_login_<suffix>): on HTTPS only a __Host- name counts, and on
// plain HTTP only a bare one, as cookie reads it. ok is false for a name
// of the other form.
func (h *Handler) cookieBase(r *http.Request, wire string) (base string, ok bool) {
	if h.secure(r) {
		return strings.CutPrefix(wire, hostPrefix)
	}
	return wire, !strings.HasPrefix(wire, hostPrefix)
}

// newCookie builds one of our cookies, named base before its wire prefix.
// maxAge < 0 deletes it. SameSite=Lax, not Strict: sgID's callback is a
// cross-site top-level navigation, and the login cookie must come with it.
// Path=/ and no Domain always, as the __Host- prefix requires.
func (h *Handler) newCookie(r *http.Request, base, value string, maxAge time.Duration) *http.Cookie {
	secure := h.secure(r)
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

// stripSessionCookies cuts the session cookie (name) and the login cookies
// (see pendingCookieName), each under its plain and its __Host- name, out of
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
		if n == name || isPendingCookieName(n, name) {
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
