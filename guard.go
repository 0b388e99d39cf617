package caddysgid

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// Guard protects the routes the sgid handler passes on (typically a
// reverse_proxy to the app's APIs) and tells them who the user is, so the
// upstream needs neither its own sessions nor a second auth proxy with a
// second cookie.
//
// For every request the handler sees, on its own routes too and whether or
// not anyone is logged in, it first deletes every client-supplied copy of
// the identity headers: any name that equals a configured one ignoring
// case and treating '_' as '-', every duplicate, any mention of them in
// Connection (which would make reverse_proxy drop the handler's own
// value) and any request trailer by those names. Only then does it set
// its own values, for a logged-in user, on the requests it passes on.
//
// A request passed on whose path matches Protect needs a logged-in user
// who passes every rule (AllowSubs and each of AllowFields); otherwise the
// handler answers it:
//
//   - not logged in, API call: 401 {"error":"login_required"}, never a
//     redirect;
//   - not logged in, top-level GET or HEAD navigation: 302 to LoginPage
//     with ?return_to=<original path and query>, or 401 with a short text
//     when LoginPage is unset;
//   - logged in but not allowed: 403 {"error":"forbidden"} (a short text
//     for navigations).
//
// A request counts as a navigation when it has no X-Requested-With and
// either Sec-Fetch-Mode is navigate or, from a client that sends no
// Sec-Fetch headers, its Accept prefers text/html; everything else (fetch,
// XHR, curl, WebSocket) is an API call. See isNavigation.
type Guard struct {
	// Protect lists the path patterns of the requests passed on that need
	// a logged-in user, with the semantics of Caddy's path matcher: case-
	// insensitive, on the cleaned path; /api/* matches by prefix, other *
	// glob. Every pattern must start with /; use /* for the whole site.
	// The sgid routes, LoginPage and error_path are never protected, so
	// there is no redirect loop. Takes placeholders like the path matcher.
	// Default: nothing is protected.
	Protect caddyhttp.MatchPath `json:"protect,omitempty"`
	// LoginPage is the path on this site (a leading single /, may carry a
	// query) where a navigation to a protected path goes when no one is
	// logged in, with return_to=<the path and query first asked for> added
	// to its query. The page would pass that on to auth-url's return_to.
	// Default: none; such navigations are answered 401.
	LoginPage string `json:"login_page,omitempty"`
	// IdentityHeaders maps a request header name to the user field whose
	// value it carries to the handlers after this one (reverse_proxy sends
	// it upstream): "sub" (the sgID subject), "auth_time" (the login time
	// in Unix seconds), a data key such as
	// "myinfo.name", or an app value key such as "iceCream". Values are
	// percent-encoded, see encodeIdentityValue; a header is absent when
	// the user has no value for its field. The names may not be Host,
	// Cookie, Content-Length, Content-Type, Expect, Forwarded,
	// X-Forwarded-*, Authorization or a hop-by-hop header. Default: none.
	IdentityHeaders map[string]string `json:"identity_headers,omitempty"`
	// AllowSubs, when set, is a rule: only these sgID subjects may use the
	// protected paths; others get 403.
	AllowSubs []string `json:"allow_subs,omitempty"`
	// AllowFields are rules, each passed when the user's field ("sub" or
	// a data key from sgID; not an app value, which the browser chooses)
	// equals one of its values exactly. A user must pass every rule,
	// AllowSubs included; a missing field fails its rule. Rules need
	// Protect, since they apply only to protected paths.
	AllowFields []FieldRule `json:"allow_fields,omitempty"`
	// ForwardCookie passes the session cookie and the login cookie on to
	// the next handlers. Default false: both are cut out of the Cookie
	// header of every request passed on (other cookies are left as they
	// are), so an upstream never holds a credential for the whole site.
	ForwardCookie bool `json:"forward_cookie,omitempty"`
	// FreshLogin asks for a login no older than its max_age on some of
	// the protected paths; see FreshLogin. Default: none.
	FreshLogin *FreshLogin `json:"fresh_login,omitempty"`

	// headers are IdentityHeaders in canonical form, sorted by name.
	headers []identityHeader
	// nameLens has bit n set when an identity header name is n bytes
	// long (n < 64; longer names are always compared). '_' and '-' have
	// the same length, and case does not change it.
	nameLens uint64
	// exempt are the paths that Protect never covers (LoginPage's and
	// error_path), compared ignoring ASCII case.
	exempt []string
	// cookieName is the handler's session cookie; its login cookie is
	// named after it (see loginCookieName).
	cookieName string
	metrics    *metrics
	logger     *zap.Logger
}

// FieldRule passes for a user whose Field equals one of Values.
type FieldRule struct {
	// Field is "sub", a data key or an app value key.
	Field string `json:"field"`
	// Values are compared exactly (case-sensitive).
	Values []string `json:"values"`
}

// setup compiles the guard's configuration. The handler passes in the few
// values of its own the guard needs: its error path (never protected, like
// login_page), the session cookie's name (cut from requests passed on),
// and its metrics and logger. validate checks the result.
func (g *Guard) setup(ctx caddy.Context, errorPath, cookieName string, m *metrics, logger *zap.Logger) error {
	if err := g.Protect.Provision(ctx); err != nil {
		return err
	}
	if err := g.FreshLogin.setup(ctx); err != nil {
		return err
	}
	g.headers = g.headers[:0]
	for name, field := range g.IdentityHeaders {
		g.headers = append(g.headers, identityHeader{name: http.CanonicalHeaderKey(name), field: field})
	}
	sort.Slice(g.headers, func(i, j int) bool { return g.headers[i].name < g.headers[j].name })
	g.nameLens = 0
	for _, ih := range g.headers {
		if n := len(ih.name); n < 64 {
			g.nameLens |= 1 << n
		}
	}
	g.exempt = g.exempt[:0]
	for _, p := range []string{g.LoginPage, errorPath} {
		if p, _, _ = strings.Cut(p, "?"); p != "" {
			g.exempt = append(g.exempt, p)
		}
	}
	g.cookieName = cookieName
	g.metrics = m
	g.logger = logger
	return nil
}

// validate checks the guard's configuration after setup. appKeys are the
// data keys of the handler's app values, which rules may not use.
func (g *Guard) validate(appKeys []string) error {
	for _, p := range g.Protect {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("protect: pattern %q must start with / (use /* for the whole site)", p)
		}
	}
	if g.LoginPage != "" && !isLocalPath(g.LoginPage) {
		return fmt.Errorf("login_page: %q must be a path on this site, starting with a single /", g.LoginPage)
	}
	if err := g.validateIdentityHeaders(); err != nil {
		return err
	}
	for _, sub := range g.AllowSubs {
		if sub == "" {
			return errors.New("allow_sub: empty subject")
		}
	}
	for _, rule := range g.AllowFields {
		if rule.Field == "" || len(rule.Values) == 0 {
			return fmt.Errorf("allow_field: %q needs a field and at least one value", rule.Field)
		}
		// The browser picks app values at auth-url: a rule on one would
		// let anyone who logs in choose to pass it.
		if slices.Contains(appKeys, rule.Field) {
			return fmt.Errorf("allow_field: %q is an app value the browser chooses; rules must use sub or data from sgID", rule.Field)
		}
	}
	if (len(g.AllowSubs) > 0 || len(g.AllowFields) > 0) && len(g.Protect) == 0 {
		return errors.New("allow_sub and allow_field apply to protected paths only; add protect")
	}
	return g.FreshLogin.validate(g.Protect)
}

// serve runs for a request about to be passed to the next handler. It
// answers the request itself (and returns true) when a protected path is
// asked for without a fitting login; otherwise it sets the identity
// headers and, unless ForwardCookie, cuts the session cookies out of the
// request.
func (g *Guard) serve(w http.ResponseWriter, r *http.Request, o *session.Opened, storeErr error) (answered bool, err error) {
	loggedIn := o != nil
	if g.protects(r) {
		if storeErr != nil {
			// Whether anyone is logged in cannot be told: neither let the
			// request through nor say "log in".
			g.logDenial(r, http.StatusServiceUnavailable)
			return true, writeUnavailable(w)
		}
		if !loggedIn {
			return true, g.denyAnonymous(w, r)
		}
		if !g.allows(o.Session) {
			g.logDenial(r, http.StatusForbidden)
			return true, writeDenial(w, isNavigation(r), http.StatusForbidden, "forbidden", "You are not allowed to see this page.")
		}
		if g.FreshLogin.tooOld(r, o.Session) {
			return true, g.askLogin(w, r, errLoginTooOld, "Please log in again to see this page.")
		}
	}
	if loggedIn {
		g.setIdentityHeaders(r, o.View.(*userView).headers)
	}
	if !g.ForwardCookie {
		stripSessionCookies(r.Header, g.cookieName)
	}
	return false, nil
}

// protects reports whether the request's path needs a login.
func (g *Guard) protects(r *http.Request) bool {
	if len(g.Protect) == 0 {
		return false
	}
	if !matches(g.Protect, r) {
		return false
	}
	// An exact match is enough: a variant such as /login/ stays protected,
	// which fails closed, and its redirect goes to the exempt page. Case
	// folds in ASCII only: strings.EqualFold would also take U+017F (ſ) for
	// s and U+212A (K) for k, exempting paths that the upstream may treat
	// as other paths.
	for _, p := range g.exempt {
		if asciiEqualFold(r.URL.Path, p) {
			return false
		}
	}
	return true
}

// asciiEqualFold reports whether a and b are equal when the ASCII letters
// A-Z are taken as a-z; every other byte must be equal as it is.
func asciiEqualFold(a, b string) bool {
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

// allows reports whether the user passes every rule.
func (g *Guard) allows(s session.Session) bool {
	if len(g.AllowSubs) > 0 && !slices.Contains(g.AllowSubs, s.Sub) {
		return false
	}
	for _, rule := range g.AllowFields {
		v, ok := userField(s, rule.Field)
		if !ok || !slices.Contains(rule.Values, v) {
			return false
		}
	}
	return true
}

// userField is the value of "sub", "auth_time" (the login time in Unix
// seconds) or a data key of the session.
func userField(s session.Session, field string) (string, bool) {
	switch field {
	case "sub":
		return s.Sub, s.Sub != ""
	case "auth_time":
		at := authTime(s)
		return at, at != ""
	}
	v, ok := s.Data[field]
	return v, ok
}

// denyAnonymous answers a protected request that has no login: navigations
// go to the login page when there is one, everything else gets 401.
func (g *Guard) denyAnonymous(w http.ResponseWriter, r *http.Request) error {
	return g.askLogin(w, r, "login_required", "Please log in to see this page.")
}

// askLogin answers a protected request that needs a (new) login: GET and
// HEAD navigations go to the login page when there is one, everything else
// gets 401 with code, and text for navigations.
func (g *Guard) askLogin(w http.ResponseWriter, r *http.Request, code, text string) error {
	nav := isNavigation(r)
	if lp := g.LoginPage; nav && lp != "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		dest := lp
		if back := originalRequestURI(r); isLocalPath(back) {
			sep := "?"
			if strings.Contains(dest, "?") {
				sep = "&"
			}
			dest += sep + returnToParam + "=" + url.QueryEscape(back)
		}
		g.logDenial(r, http.StatusFound)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, dest, http.StatusFound)
		return nil
	}
	g.logDenial(r, http.StatusUnauthorized)
	return writeDenial(w, nav, http.StatusUnauthorized, code, text)
}

// logDenial counts and logs (at DEBUG) a protected request the guard
// answered itself.
func (g *Guard) logDenial(r *http.Request, status int) {
	g.metrics.denial(siteOf(r), strconv.Itoa(status))
	if g.logger == nil {
		return
	}
	if ce := g.logger.Check(zap.DebugLevel, "sgid guard answered a protected request"); ce != nil {
		ce.Write(zap.Int("status", status), zap.String("request_id", requestID(r)))
	}
}

// originalRequestURI is the path and query the client asked for, before
// any rewrite.
func originalRequestURI(r *http.Request) string {
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil {
		return or.URL.RequestURI()
	}
	return r.URL.RequestURI()
}

// isNavigation tells a top-level page load, which may be redirected to a
// login page, from an API call (fetch, XHR, curl), which must get a status
// it can act on. Browsers say which it is in Sec-Fetch-Mode; for clients
// that do not, a navigation is one whose Accept prefers HTML.
func isNavigation(r *http.Request) bool {
	hdr := r.Header
	if hdr.Get("X-Requested-With") != "" {
		return false
	}
	if mode := hdr.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	if dest := hdr.Get("Sec-Fetch-Dest"); dest != "" {
		return dest == "document" || dest == "iframe" || dest == "frame"
	}
	return acceptPrefersHTML(hdr.Values("Accept"))
}

// acceptPrefersHTML reports whether HTML has the highest quality among the
// listed media types (a browser's "text/html,...,*/*;q=0.8" does, fetch's
// "*/*" and "application/json" do not).
func acceptPrefersHTML(values []string) bool {
	var htmlQ, otherQ float64
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			typ, params, _ := strings.Cut(elem, ";")
			typ = strings.ToLower(strings.TrimSpace(typ))
			if typ == "" {
				continue
			}
			q := 1.0
			for param := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(param, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && f >= 0 && f <= 1 {
						q = f
					}
				}
			}
			if typ == "text/html" || typ == "application/xhtml+xml" {
				htmlQ = max(htmlQ, q)
			} else {
				otherQ = max(otherQ, q)
			}
		}
	}
	return htmlQ > 0 && htmlQ >= otherQ
}

// --- Identity: placeholders and headers --------------------------------------

// reservedIdentityKeys are the keys under http.auth.user. that setIdentity
// fills itself, from the session's sub rather than its data: no app value
// may use them as its data key.
var reservedIdentityKeys = map[string]bool{"id": true, "auth_time": true}

// identityPlaceholders are the placeholders of session s, in the order they
// are set: the login time (when known) and the sub go last, so that they
// win over any data key that would name the same placeholder (Validate
// refuses such app keys; this holds regardless). The values are boxed here once, so that setting them again
// for each request of the same session allocates nothing.
func identityPlaceholders(s session.Session) []placeholder {
	out := make([]placeholder, 0, len(s.Data)+2)
	for k, v := range s.Data {
		out = append(out, placeholder{"http.auth.user." + k, v})
	}
	if at := authTime(s); at != "" {
		out = append(out, placeholder{"http.auth.user.auth_time", at})
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
			return fmt.Errorf("identity_header: %q is not a valid header name", ih.name)
		}
		if forbiddenIdentityHeaders[ih.name] || strings.HasPrefix(ih.name, "X-Forwarded-") {
			return fmt.Errorf("identity_header: %s cannot carry an identity", ih.name)
		}
		if ih.field == "" {
			return fmt.Errorf("identity_header: %s has no field", ih.name)
		}
		// X-User-Id and X_User_Id are one header to upstreams that map
		// names to CGI-style variables (HTTP_X_USER_ID).
		key := strings.ReplaceAll(strings.ToLower(ih.name), "_", "-")
		if other, dup := seen[key]; dup {
			return fmt.Errorf("identity_header: %s and %s name the same header", other, ih.name)
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
// request passed on, from the values headerValues encoded in the order
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

// placeholder is one placeholder the handler sets for a logged-in user.
type placeholder struct {
	name  string
	value any
}

// headerValues are the encoded values of the identity headers for s, in the
// order of g.headers; "" where the user has no value. Nil when there are no
// identity headers.
func (g *Guard) headerValues(s session.Session) []string {
	if len(g.headers) == 0 {
		return nil
	}
	out := make([]string, len(g.headers))
	for i, ih := range g.headers {
		if v, ok := userField(s, ih.field); ok && v != "" {
			out[i] = encodeIdentityValue(v)
		}
	}
	return out
}
