package caddysgid

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
)

// reservedIdentityKeys are the keys under http.auth.user. that setIdentity
// fills itself, from the session's sub rather than its data: no app value
// may use them as its data key.
var reservedIdentityKeys = map[string]bool{"id": true}

// setIdentity sets the placeholders that tell later handlers and the access
// log who the user is.
func setIdentity(r *http.Request, s session) {
	setPlaceholders(r, identityPlaceholders(s))
}

// identityPlaceholders are the placeholders of session s, in the order they
// are set: the sub goes last, so that it wins over any data key that would
// name the same placeholder (Validate refuses such app keys; this holds
// regardless). The values are boxed here once, so that setting them again
// for each request of the same session allocates nothing.
func identityPlaceholders(s session) []placeholder {
	out := make([]placeholder, 0, len(s.Data)+1)
	for k, v := range s.Data {
		out = append(out, placeholder{"http.auth.user." + k, v})
	}
	return append(out, placeholder{"http.auth.user.id", s.Sub})
}

// setPlaceholders sets ps, in order, in the request's replacer.
func setPlaceholders(r *http.Request, ps []placeholder) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	for _, p := range ps {
		repl.Set(p.name, p.value)
	}
}

// validAppValue reports whether an app value the browser sent to auth-url
// may be kept: valid UTF-8 without control characters. These values end up
// in placeholders, headers, and logs, where a CR or LF would split a line
// and bytes that are not UTF-8 would be replaced or garble it.
func validAppValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, c := range v {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

// identityHeader is one entry of IdentityHeaders, compiled by Provision.
type identityHeader struct {
	name  string // canonical header name
	field string
}

// forbiddenIdentityHeaders may not carry an identity: hop-by-hop headers
// are dropped by proxies, the framing and routing headers would break the
// request or be overwritten by reverse_proxy, and Authorization holds the
// client's own credentials, which deleting every copy would break.
var forbiddenIdentityHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Cookie": true, "Content-Length": true, "Content-Type": true,
	"Expect": true, "Forwarded": true, "Authorization": true,
}

// validateIdentityHeaders checks that every identity header is a valid
// name that may carry an identity, has a field, and is not named twice.
func (g *Guard) validateIdentityHeaders() error {
	seen := map[string]string{}
	for _, ih := range g.headers {
		if !isToken(ih.name) {
			return fmt.Errorf("sgid: identity_header: %q is not a valid header name", ih.name)
		}
		if forbiddenIdentityHeaders[ih.name] || strings.HasPrefix(ih.name, "X-Forwarded-") {
			return fmt.Errorf("sgid: identity_header: %s cannot carry an identity", ih.name)
		}
		if ih.field == "" {
			return fmt.Errorf("sgid: identity_header: %s has no field", ih.name)
		}
		// X-User-Id and X_User_Id are one header to upstreams that map
		// names to CGI-style variables (HTTP_X_USER_ID).
		key := strings.ReplaceAll(strings.ToLower(ih.name), "_", "-")
		if other, dup := seen[key]; dup {
			return fmt.Errorf("sgid: identity_header: %s and %s name the same header", other, ih.name)
		}
		seen[key] = ih.name
	}
	return nil
}

// scrubIdentity deletes every identity header the client sent. The
// handler calls it first on every request, before it routes it; a nil
// guard has nothing to scrub.
func (g *Guard) scrubIdentity(r *http.Request) {
	if g == nil || len(g.headers) == 0 {
		return
	}
	// Go canonicalizes the case of names it parses, so "x-sgid-sub" and
	// "X-SGID-SUB" arrive as one key holding every copy; names with an
	// underscore stay apart, so every key is compared.
	for k := range r.Header {
		if g.isIdentityName(k) {
			delete(r.Header, k)
		}
	}
	// "Connection: X-Sgid-Sub" would make reverse_proxy delete the value
	// set below, as a hop-by-hop header.
	if conn := r.Header["Connection"]; len(conn) > 0 {
		if conn = g.withoutIdentityTokens(conn); len(conn) > 0 {
			r.Header["Connection"] = conn
		} else {
			delete(r.Header, "Connection")
		}
	}
	// Request trailers are forwarded upstream too, and some upstreams merge
	// them into the headers. Declared ones are deleted now; the values
	// arrive with the end of the body, where trailerScrub deletes them.
	if r.Trailer != nil {
		for k := range r.Trailer {
			if g.isIdentityName(k) {
				delete(r.Trailer, k)
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &trailerScrub{ReadCloser: r.Body, g: g, trailer: r.Trailer}
		}
	}
}

// setIdentityHeaders sets the identity headers of a logged-in user on a
// request passed on, from the values newOpenedSession encoded in the order
// of g.headers; a header is left out when the user has no value for its
// field. The values share one backing array, each slice capped at its own
// element, so that a later append to one header cannot reach another.
func (g *Guard) setIdentityHeaders(r *http.Request, values []string) {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	if n == 0 {
		return
	}
	vals := make([]string, 0, n)
	for i, ih := range g.headers {
		if v := values[i]; v != "" {
			vals = append(vals, v)
			j := len(vals)
			r.Header[ih.name] = vals[j-1 : j : j]
		}
	}
}

// isIdentityName reports whether a header name equals one of the identity
// headers ignoring case, with '_' and '-' taken as equal.
func (g *Guard) isIdentityName(name string) bool {
	// Most names a request carries have a length no identity header has;
	// they are passed over with one bit test (see nameLens).
	if n := len(name); n < 64 && g.nameLens&(1<<n) == 0 {
		return false
	}
	for _, ih := range g.headers {
		if len(name) == len(ih.name) && sameHeaderName(name, ih.name) {
			return true
		}
	}
	return false
}

func sameHeaderName(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x == '_' {
			x = '-'
		}
		if y == '_' {
			y = '-'
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// withoutIdentityTokens drops identity header names from Connection
// values, leaving the values untouched when none is named.
func (g *Guard) withoutIdentityTokens(values []string) []string {
	// Most requests name no identity header in Connection ("keep-alive"):
	// look before building anything.
	named := false
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if g.isIdentityName(strings.TrimSpace(tok)) {
				named = true
				break
			}
		}
	}
	if !named {
		return values
	}
	var out []string
	for i, v := range values {
		var kept []string
		changed := false
		for tok := range strings.SplitSeq(v, ",") {
			if g.isIdentityName(strings.TrimSpace(tok)) {
				changed = true
				continue
			}
			kept = append(kept, tok)
		}
		if changed && out == nil {
			out = append(make([]string, 0, len(values)), values[:i]...)
		}
		if out != nil {
			if changed {
				v = strings.TrimSpace(strings.Join(kept, ","))
			}
			if v != "" {
				out = append(out, v)
			}
		}
	}
	if out == nil {
		return values
	}
	return out
}

// trailerScrub deletes identity trailers once net/http has read them,
// which it does when the body reaches EOF, before the next handler sees
// the EOF.
type trailerScrub struct {
	io.ReadCloser
	g       *Guard
	trailer http.Header
}

func (t *trailerScrub) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err != nil {
		for k := range t.trailer {
			if t.g.isIdentityName(k) {
				delete(t.trailer, k)
			}
		}
	}
	return n, err
}

// encodeIdentityValue makes a user's value safe for a header line, in a
// form every upstream can decode back exactly: each byte of the UTF-8 value
// that is a control character (0x00-0x1F, 0x7F), not ASCII (0x80-0xFF),
// '%' or '+', and a space at the start or end (which header parsers trim),
// is written as %XX with upper-case hex; every other byte is left as it is.
// So plain ASCII text without '%' and '+' passes unchanged, and
// decodeURIComponent (JavaScript), url.PathUnescape and url.QueryUnescape
// (Go), urllib.parse.unquote and unquote_plus (Python) and rawurldecode and
// urldecode (PHP) all give back the original value.
func encodeIdentityValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if mustEncode(s, i) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; mustEncode(s, i) {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func mustEncode(s string, i int) bool {
	switch c := s[i]; {
	case c < 0x20 || c >= 0x7f, c == '%', c == '+':
		return true
	case c == ' ':
		return i == 0 || i == len(s)-1
	}
	return false
}

// isToken reports whether s is an RFC 9110 token, the syntax of a header
// name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
