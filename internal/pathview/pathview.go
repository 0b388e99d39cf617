// Package pathview reads a request path the ways the routers behind a
// proxy may read it, so that a guard in front of them can judge every
// reading, not only Caddy's cleaned one.
package pathview

import (
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The guard and the upstream must agree on which resource a request names,
// or a request that the guard lets through as "not under /api" reaches an
// upstream that routes it under /api. Caddy's path matcher judges one
// reading of the path: decoded once, with dot segments resolved, runs of
// slashes merged and case folded. reverse_proxy forwards the raw path
// instead, and the routers behind it read that in other ways: Flask and
// Express route /api/%2e%2e/members as /api/<org>/members with org "..",
// Tomcat and Jetty drop ";x" path parameters from every segment, some
// servers take a backslash for a slash or decode twice. So the guard reads
// the path every one of these ways (its views) and protects the request
// when any view matches a Protect pattern; the login page and error_path
// are exempt only when every view is that path.

// MaxViews bounds the number of views of one path. A path with more
// readings than this is made to have them, so the guard protects it
// without looking further (it fails closed).
const MaxViews = 128

// Plain reports whether the request path has a single reading: its raw
// form is Go's own encoding of the decoded one (RawPath is empty) and the
// decoded one holds nothing that any router reads in another way: no '%'
// (a second decoding), ';' (path parameters), '\' (a slash to some), '?',
// '#' or control bytes (where some cut the path), no run of slashes, and no
// segment that is a dot segment or ends in a dot or space (which Windows
// servers trim). Such a path is judged exactly as Caddy's path matcher
// judges it, with no further work; it is the path of nearly every request.
func Plain(u *url.URL) bool {
	if u.RawPath != "" {
		return false
	}
	p := u.Path
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%', ';', '\\', '?', '#', 0x7f:
			return false
		case '/':
			// The segment before this slash, which the next check also
			// sees when the path ends.
			if i > 0 && (p[i-1] == '/' || p[i-1] == '.' || p[i-1] == ' ') {
				return false
			}
		default:
			if c < 0x20 {
				return false
			}
		}
	}
	if n := len(p); n > 0 && (p[n-1] == '.' || p[n-1] == ' ') {
		return false
	}
	return true
}

// Views returns the readings of a request path that is not plain: the
// decoded path, the raw path as reverse_proxy forwards it (when it differs
// from Go's encoding of the decoded one), and every string that a chain of
// the pathReadings below makes of them. complete is false when there were
// more than MaxViews.
func Views(u *url.URL) (views []string, complete bool) {
	views = append(make([]string, 0, 16), u.Path)
	if u.RawPath != "" {
		if raw := u.EscapedPath(); raw != u.Path {
			views = append(views, raw)
		}
	}
	for i := 0; i < len(views); i++ {
		for _, read := range pathReadings {
			v := read(views[i])
			if v == "" || slices.Contains(views, v) {
				continue
			}
			if len(views) == MaxViews {
				return views, false
			}
			views = append(views, v)
		}
	}
	return views, true
}

// pathReadings are the ways a router may read a path, each applied to
// every view until no new one comes out: any order of them is what some
// chain of proxy and framework may do.
var pathReadings = []func(string) string{
	percentDecode,
	backslashesAsSlashes,
	dropPathParams,
	cutAtDelimiter,
	mergeSlashes,
	func(p string) string { return caddyhttp.CleanPath(p, true) },
	trimSegmentDots,
}

// percentDecode decodes every valid %XX and leaves any other '%' as it is,
// as lenient servers do, so that a path with one stray '%' still has its
// other escapes read.
func percentDecode(p string) string {
	i := strings.IndexByte(p, '%')
	if i < 0 {
		return p
	}
	b := make([]byte, 0, len(p))
	b = append(b, p[:i]...)
	for ; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]) {
			b = append(b, unhex(p[i+1])<<4|unhex(p[i+2]))
			i += 2
			continue
		}
		b = append(b, p[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// backslashesAsSlashes reads '\' as '/', as Windows servers and some
// frameworks' static file handlers do.
func backslashesAsSlashes(p string) string {
	return strings.ReplaceAll(p, `\`, "/")
}

// dropPathParams removes the ";..." parameters from every segment, as
// Tomcat, Jetty and Spring do before routing: /api;x/secret is /api/secret
// to them, and /..;/ is /../.
func dropPathParams(p string) string {
	if !strings.Contains(p, ";") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for seg := range strings.SplitAfterSeq(p, "/") {
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			b.WriteString(seg[:i])
			if strings.HasSuffix(seg, "/") {
				b.WriteByte('/')
			}
			continue
		}
		b.WriteString(seg)
	}
	return b.String()
}

// cutAtDelimiter ends the path at a decoded '?' or '#' or at a NUL byte,
// where a router that splits after decoding, or one written in C, would.
func cutAtDelimiter(p string) string {
	if i := strings.IndexAny(p, "?#\x00"); i >= 0 {
		return p[:i]
	}
	return p
}

// mergeSlashes turns runs of slashes into one, as nginx does by default,
// without resolving dot segments (which CleanPath would also do).
func mergeSlashes(p string) string {
	if !strings.Contains(p, "//") {
		return p
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] == '/' && i > 0 && p[i-1] == '/' {
			continue
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// trimSegmentDots removes the dots and spaces that end a segment, other
// than the dot segments themselves, as Windows does with file names:
// /api./x is /api/x there.
func trimSegmentDots(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s != "." && s != ".." {
			segs[i] = strings.TrimRight(s, ". ")
		}
	}
	return strings.Join(segs, "/")
}

// Match matches a lower-case path against a lower-case pattern
// the way Caddy's path matcher does after cleaning.
func Match(pattern, p string) bool {
	if pattern == "*" {
		return true
	}
	n := len(pattern)
	switch stars := strings.Count(pattern, "*"); {
	case stars == 2 && pattern[0] == '*' && pattern[n-1] == '*':
		return strings.Contains(p, pattern[1:n-1])
	case stars == 1 && pattern[0] == '*':
		return strings.HasSuffix(p, pattern[1:])
	case stars == 1 && pattern[n-1] == '*':
		return strings.HasPrefix(p, pattern[:n-1])
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// AllEqualFold reports whether every view equals p under ASCII case
// folding.
func AllEqualFold(views []string, p string) bool {
	for _, v := range views {
		if !EqualFold(v, p) {
			return false
		}
	}
	return true
}

// EqualFold reports whether a and b are equal when the ASCII letters
// A-Z are taken as a-z; every other byte must be equal as it is.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if asciiLower(a[i]) != asciiLower(b[i]) {
			return false
		}
	}
	return true
}

func asciiLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Within reports, conservatively, whether every path the path-matcher
// pattern p matches is also matched by scope: scope is p itself, or scope
// is a prefix pattern (one * at its end, none elsewhere) and p's literal
// start, before any wildcard, begins with scope's prefix. Both compare
// case-insensitively, as the path matcher does. Placeholders and escapes
// are never taken to be within anything.
func Within(p, scope string) bool {
	p, scope = strings.ToLower(p), strings.ToLower(scope)
	if strings.ContainsAny(p+scope, "{}%\\") {
		return false
	}
	if scope == "*" || scope == "/*" {
		return true
	}
	if p == scope {
		return true
	}
	prefix, isPrefix := strings.CutSuffix(scope, "*")
	if !isPrefix || strings.ContainsAny(prefix, "*?[") {
		return false
	}
	literal := p
	if i := strings.IndexAny(p, "*?["); i >= 0 {
		literal = p[:i]
	}
	return strings.HasPrefix(literal, prefix)
}

// IsLocal accepts only a path on this origin, for a page to send the
// browser to (login_page, return_to): one leading slash, no
// scheme or host, no backslash (browsers read "/\evil" as "//evil"), no
// control characters.
func IsLocal(p string) bool {
	if p == "" || len(p) > 2048 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}
