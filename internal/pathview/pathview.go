// Package pathview reads a request path the ways the routers behind a
// proxy may read it, so that a guard in front of them can judge every
// reading, not only Caddy's cleaned one.
package pathview

import (
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"golang.org/x/text/unicode/norm"
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

// MaxReadLen bounds the length of a path, as sent, that Views reads in
// every way. A longer path that is not Plain is not read at all: Views
// reports it incomplete, so the guard fails closed on it, and what one
// request can cost stays bounded by MaxViews readings of at most this
// many bytes each (a reading that would grow past 4 times this, as
// compatibility forms can, also ends the reading incomplete).
const MaxReadLen = 1024

// Plain reports whether every router reads the request path the same way
// Caddy's path matcher does, so that judging it with the matcher alone is
// sound. The path is taken as sent (its escaped form). It is plain when:
//
//   - it holds no ';' (path parameters), '\' (a slash to some) or byte
//     outside printable ASCII, other than in a %XX escape;
//   - no escape stands for a byte that changes how the path splits or
//     decodes: '/', '\', ';', '%', '.', '?', '#', or a control byte, so
//     decoding it once, many times or not at all leaves the same segments;
//   - decoded, it has no run of slashes and no segment that is a dot
//     segment or ends in a dot or space (which Windows servers trim);
//   - decoded, it is valid UTF-8 in which no character outside ASCII is a
//     space, a control or format character, or one that a router may turn
//     into ASCII: by NFKC (fullwidth letters, U+2024 one dot leader, ...)
//     or by upper-, lower- or title-casing or simple case folding (U+0131
//     dotless i upper-cases to I, U+017F long s to S, U+212A Kelvin sign
//     lower-cases to k, U+0130 to i).
//
// Escapes of other bytes (letters, spaces inside a segment, the UTF-8 of
// other characters) read alike decoded any number of times, and
// characters such as '(' or '|' sent as they are mean themselves to every
// router. It is the path of nearly every request.
func Plain(u *url.URL) bool {
	if u.Opaque != "" {
		return false
	}
	raw := u.RawPath
	if raw == "" {
		// The path was sent as Go encodes the decoded one, so each escape
		// in it stands for a byte the decoded path holds, which the checks
		// on the decoded path judge.
		return plainDecoded(u.Path)
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%':
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			if d := unhex(raw[i+1])<<4 | unhex(raw[i+2]); d < 0x80 && !plainEscape[d] {
				return false
			}
			i += 2
		case c == ';' || c == '\\' || c < 0x20 || c >= 0x7f:
			return false
		}
	}
	return plainDecoded(u.Path)
}

// Literal reports whether the path was sent as it reads decoded: no escape
// and nothing Go would escape, so its raw and decoded forms are one.
func Literal(u *url.URL) bool {
	if u.RawPath != "" {
		return false
	}
	for i := 0; i < len(u.Path); i++ {
		if !literalByte[u.Path[i]] {
			return false
		}
	}
	return true
}

// literalByte are the bytes Go's URL encoding leaves as they are in a
// path.
var literalByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~$&+,/:;=@", rune(c))
	}
	return t
}()

// plainEscape are the ASCII bytes whose escape reads the same to every
// router: letters, digits, space and the punctuation that neither splits
// nor escapes a path.
var plainEscape = func() (t [0x80]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune("/\\;%.?#", rune(c))
	}
	return t
}()

// plainDecoded reports whether the decoded path p holds nothing that a
// router reads in another way (see Plain).
func plainDecoded(p string) bool {
	nonASCII := false
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
			if c >= 0x80 {
				nonASCII = true
			}
		}
	}
	if n := len(p); n > 0 && (p[n-1] == '.' || p[n-1] == ' ') {
		return false
	}
	return !nonASCII || plainUnicode(p)
}

// plainUnicode reports whether every character of p outside ASCII keeps
// to itself under the Unicode mappings routers apply (see Plain).
func plainUnicode(p string) bool {
	if !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if r >= utf8.RuneSelf && !plainRune(r) {
			return false
		}
	}
	return true
}

// plainRune reports whether r, outside ASCII, is neither a space, control
// or format character nor one that NFKC or a case mapping turns into
// ASCII.
func plainRune(r rune) bool {
	if unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zs, unicode.Zl, unicode.Zp) {
		return false
	}
	if unicode.ToUpper(r) < utf8.RuneSelf || unicode.ToLower(r) < utf8.RuneSelf || unicode.ToTitle(r) < utf8.RuneSelf {
		return false
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return false
		}
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	if norm.NFKC.IsNormal(buf[:n]) {
		return true
	}
	for _, c := range norm.NFKC.Bytes(buf[:n]) {
		if c < utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Views returns the readings of a request path that is not plain: the
// decoded path, the raw path as reverse_proxy forwards it (when it differs
// from Go's encoding of the decoded one), and every string that a chain of
// the pathReadings below makes of them. complete is false when there were
// more than MaxViews, or the path is longer than MaxReadLen (then it is
// not read at all): the caller fails closed.
func Views(u *url.URL) (views []string, complete bool) {
	if len(u.RawPath) > MaxReadLen || len(u.Path) > MaxReadLen {
		return nil, false
	}
	raw := u.EscapedPath()
	if len(raw) > MaxReadLen {
		return nil, false
	}
	views = append(make([]string, 0, 16), u.Path)
	seen := map[string]struct{}{u.Path: {}}
	if raw != u.Path {
		views = append(views, raw)
		seen[raw] = struct{}{}
	}
	for i := 0; i < len(views); i++ {
		for _, read := range pathReadings {
			v := read(views[i])
			if v == "" {
				continue
			}
			if _, dup := seen[v]; dup {
				continue
			}
			if len(views) == MaxViews || len(v) > 4*MaxReadLen {
				return views, false
			}
			seen[v] = struct{}{}
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
	foldToASCII,
	dropTrailingSlash,
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

// trimSegmentDots removes the dots, spaces, tabs and line breaks that end
// a segment, other than the dot segments themselves, as Windows
// does with file names (/api./x is /api/x there) and as a router that
// trims the whitespace of each segment would (/api%09/x).
func trimSegmentDots(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s != "." && s != ".." {
			segs[i] = strings.TrimRightFunc(s, func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
		}
	}
	return strings.Join(segs, "/")
}

// foldToASCII reads every character outside ASCII as the ASCII one that
// NFKC or a case mapping makes of it, as routers that match case-
// insensitively with Unicode rules (.NET, Java, JavaScript's toLowerCase)
// or that normalize paths would: /ap\u0131/x is /apI/x to them, and a
// fullwidth letter is its ASCII letter. Characters with no such ASCII form
// stay as they are.
func foldToASCII(p string) string {
	if !hasNonASCII(p) {
		return p
	}
	if !utf8.ValidString(p) {
		p = decodeOverlong(p)
		if !utf8.ValidString(p) {
			return p
		}
	}
	p = norm.NFKC.String(p)
	var b strings.Builder
	b.Grow(len(p))
	for _, r := range p {
		if r >= utf8.RuneSelf {
			r = asciiForm(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// decodeOverlong reads the overlong UTF-8 forms of ASCII characters (C0 AF
// or E0 80 AF for '/') as those characters, as lenient decoders such as
// old IIS did; every other byte stays as it is.
func decodeOverlong(p string) string {
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case (c == 0xC0 || c == 0xC1) && i+1 < len(p) && isCont(p[i+1]):
			b = append(b, (c&0x1F)<<6|p[i+1]&0x3F)
			i++
		case c == 0xE0 && i+2 < len(p) && p[i+1]&0xE0 == 0x80 && isCont(p[i+2]) && p[i+1]&0x1E == 0:
			b = append(b, (p[i+1]&0x3F)<<6|p[i+2]&0x3F)
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isCont(c byte) bool { return c&0xC0 == 0x80 }

// asciiForm is the ASCII character a case mapping of r gives, or r.
func asciiForm(r rune) rune {
	for _, m := range [...]rune{unicode.ToLower(r), unicode.ToUpper(r), unicode.ToTitle(r)} {
		if m < utf8.RuneSelf {
			return m
		}
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return f
		}
	}
	return r
}

// dropTrailingSlash reads /x/ as /x, as routers that make a trailing
// slash optional (Express, Spring) do.
func dropTrailingSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

func hasNonASCII(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
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

// Reading is how a guard reads the path of one request, made at most once
// per request however many rules ask: whether it is Plain and, only when
// it is not, its Views, read on the first call.
type Reading struct {
	URL   *url.URL
	Plain bool

	read     bool // views and complete are set
	views    []string
	complete bool
}

// Read is the Reading of u.
func Read(u *url.URL) Reading {
	return Reading{URL: u, Plain: Plain(u)}
}

// Views are the views of the path (see Views), made on the first call.
func (p *Reading) Views() ([]string, bool) {
	if !p.read {
		p.views, p.complete = Views(p.URL)
		p.read = true
	}
	return p.views, p.complete
}
