// Package idheader handles the request headers that carry a user's
// identity to an upstream: it deletes every copy a client sent, under any
// spelling of their names, and encodes values so that every upstream can
// decode them back exactly.
package idheader

import (
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Names is a set of header names, compared ignoring case and taking '_'
// and '-' as equal, as upstreams that map names to CGI-style variables
// (HTTP_X_USER_ID) do. A nil *Names holds none.
type Names struct {
	names []string
	// lens has bit n set when a name is n bytes long (n < 64; longer
	// names are always compared). '_' and '-' have the same length, and
	// case does not change it.
	lens uint64
}

// NewNames returns the set of names.
func NewNames(names ...string) *Names {
	n := &Names{}
	for _, name := range names {
		name = http.CanonicalHeaderKey(name)
		n.names = append(n.names, name)
		if l := len(name); l < 64 {
			n.lens |= 1 << l
		}
	}
	return n
}

// Scrub deletes every copy of the names the client sent: any header
// whose name is in the set, every duplicate, any mention of them in
// Connection (which would make reverse_proxy drop a value set later, as a
// hop-by-hop header) and any request trailer by those names.
func (n *Names) Scrub(r *http.Request) {
	if n == nil || len(n.names) == 0 {
		return
	}
	// Go canonicalizes the case of names it parses, so "x-sgid-sub" and
	// "X-SGID-SUB" arrive as one key holding every copy; names with an
	// underscore stay apart, so every key is compared.
	for k := range r.Header {
		if n.Has(k) {
			delete(r.Header, k)
		}
	}
	// "Connection: X-Sgid-Sub" would make reverse_proxy delete the value
	// set below, as a hop-by-hop header.
	if conn := r.Header["Connection"]; len(conn) > 0 {
		if conn = n.withoutTokens(conn); len(conn) > 0 {
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
			if n.Has(k) {
				delete(r.Trailer, k)
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &trailerScrub{ReadCloser: r.Body, names: n, trailer: r.Trailer}
		}
	}
}

// Has reports whether a header name is in the set, ignoring case, with
// '_' and '-' taken as equal.
func (n *Names) Has(name string) bool {
	// Most names a request carries have a length no identity header has;
	// they are passed over with one bit test (see lens).
	if l := len(name); l < 64 && n.lens&(1<<l) == 0 {
		return false
	}
	for _, h := range n.names {
		if len(name) == len(h) && Same(name, h) {
			return true
		}
	}
	return false
}

// Same reports whether two header names of equal length are one name to
// an upstream: equal ignoring ASCII case, with '_' and '-' taken as equal.
func Same(a, b string) bool {
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

// withoutTokens drops the set's names from Connection values, leaving the
// values untouched when none is named.
func (n *Names) withoutTokens(values []string) []string {
	// Most requests name no identity header in Connection ("keep-alive"):
	// look before building anything.
	named := false
	for _, v := range values {
		for tok := range strings.SplitSeq(v, ",") {
			if n.Has(strings.TrimSpace(tok)) {
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
			if n.Has(strings.TrimSpace(tok)) {
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

// trailerScrub deletes the set's trailers once net/http has read them,
// which it does when the body reaches EOF, before the next handler sees
// the EOF.
type trailerScrub struct {
	io.ReadCloser
	names   *Names
	trailer http.Header
}

func (t *trailerScrub) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err != nil {
		for k := range t.trailer {
			if t.names.Has(k) {
				delete(t.trailer, k)
			}
		}
	}
	return n, err
}

// Encode makes a user's value safe for a header line, in a
// form every upstream can decode back exactly: each byte of the UTF-8 value
// that is a control character (0x00-0x1F, 0x7F), not ASCII (0x80-0xFF),
// '%' or '+', and a space at the start or end (which header parsers trim),
// is written as %XX with upper-case hex; every other byte is left as it is.
// So plain ASCII text without '%' and '+' passes unchanged, and
// decodeURIComponent (JavaScript), url.PathUnescape and url.QueryUnescape
// (Go), urllib.parse.unquote and unquote_plus (Python) and rawurldecode and
// urldecode (PHP) all give back the original value.
func Encode(s string) string {
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

// IsToken reports whether s is an RFC 9110 token, the syntax of a header
// name.
func IsToken(s string) bool {
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

// forbidden may not carry an identity: hop-by-hop headers
// are dropped by proxies, the framing and routing headers would break the
// request or be overwritten by reverse_proxy, and Authorization holds the
// client's own credentials, which deleting every copy would break.
var forbidden = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Host": true, "Cookie": true, "Content-Length": true, "Content-Type": true,
	"Expect": true, "Forwarded": true, "Authorization": true,
}

// Forbidden reports whether the canonical header name may not carry an
// identity: a hop-by-hop, framing or routing header, Authorization, or
// an X-Forwarded- header.
func Forbidden(name string) bool {
	return forbidden[name] || strings.HasPrefix(name, "X-Forwarded-")
}

// Validate checks that every identity header (name to field) is a valid
// name that may carry an identity, has a field, and is not named twice.
func Validate(headers map[string]string) error {
	seen := map[string]string{}
	for name, field := range headers {
		name = http.CanonicalHeaderKey(name)
		if !IsToken(name) {
			return fmt.Errorf("identity_header: %q is not a valid header name", name)
		}
		if Forbidden(name) {
			return fmt.Errorf("identity_header: %s cannot carry an identity", name)
		}
		if field == "" {
			return fmt.Errorf("identity_header: %s has no field", name)
		}
		// X-User-Id and X_User_Id are one header to upstreams that map
		// names to CGI-style variables (HTTP_X_USER_ID).
		key := strings.ReplaceAll(strings.ToLower(name), "_", "-")
		if other, dup := seen[key]; dup {
			return fmt.Errorf("identity_header: %s and %s name the same header", other, name)
		}
		seen[key] = name
	}
	return nil
}
