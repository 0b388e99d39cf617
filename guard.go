package caddysgid

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/assertion"
	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/metrics"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
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
// A request passed on whose path matches protect needs a logged-in user
// who passes every rule (allow_subs and each of allow_fields); otherwise the
// handler answers it:
//
//   - not logged in, API call: 401 {"error":"login_required"}, never a
//     redirect;
//   - not logged in, top-level GET or HEAD navigation: 302 to login_page
//     with ?return_to=<original path and query>, or 401 with a short text
//     when login_page is unset;
//   - logged in but not allowed: 403 {"error":"forbidden"} (a short text
//     for navigations).
//
// A request counts as a navigation when it has no X-Requested-With and
// either Sec-Fetch-Mode is navigate or, from a client that sends no
// Sec-Fetch headers, its Accept prefers text/html; everything else (fetch,
// XHR, curl, WebSocket) is an API call.
type Guard struct {
	// The path patterns of the requests passed on that need a logged-in
	// user, with the semantics of Caddy's path matcher (case-insensitive;
	// /api/* matches by prefix, other * glob), judged on every form of the
	// path an upstream may route (see docs/guard.md). Every pattern must
	// start with /; /* is the whole site. The sgid routes, login_page and
	// error_path are never protected, so there is no redirect loop. Takes
	// placeholders like the path matcher. Default: nothing is protected.
	Protect caddyhttp.MatchPath `json:"protect,omitempty"`
	// The path on this site (a leading single /, may carry a query) where
	// a navigation to a protected path goes when no one is logged in, with
	// return_to=<the path and query first asked for> added to its query;
	// the page would pass that on to the auth-url route. Default: none;
	// such navigations are answered 401.
	LoginPage string `json:"login_page,omitempty"`
	// Maps a request header name to the user field whose value it carries
	// to the handlers after this one (reverse_proxy sends it upstream):
	// "sub" (the sgID subject), "auth_time" (the login time in Unix
	// seconds), a data field from sgID such as
	// "myinfo.name", or an app value key such as "iceCream". Values are
	// percent-encoded: control characters, bytes outside ASCII, '%', '+'
	// and a leading or trailing space become %XX, so every common URL
	// decoder gives the value back. A header is absent when the user has
	// no value for its field. The names may not be Host, Cookie,
	// Content-Length, Content-Type, Expect, Forwarded, X-Forwarded-*,
	// Authorization or a hop-by-hop header. Default: none.
	IdentityHeaders map[string]string `json:"identity_headers,omitempty"`
	// A rule: only these sgID subjects may use the protected paths;
	// others get 403. Default: any subject.
	AllowSubs []string `json:"allow_subs,omitempty"`
	// Rules, each passed when the user's field equals one of its values
	// exactly. A user must pass every rule, allow_subs included; a missing
	// field fails its rule. Rules apply to protected paths only, so they
	// need protect. Default: none.
	AllowFields []FieldRule `json:"allow_fields,omitempty"`
	// Passes the session cookie and the login cookies on to the next
	// handlers. When false, both are cut out of the Cookie header of every
	// request passed on (other cookies are left as they are), so an
	// upstream never holds a credential for the whole site. Default:
	// false.
	ForwardCookie bool `json:"forward_cookie,omitempty"`
	// Asks for a login no older than its max_age on some of the
	// protected paths (see its own fields). Default: none.
	FreshLogin *FreshLogin `json:"fresh_login,omitempty"`
	// What happens, when protect is set, to a request passed on whose
	// path routers may read in more than one way: one with an escaped
	// slash, dot or percent sign, a path parameter (;), a backslash, a
	// run of slashes, a dot segment, a segment ending in a dot or space,
	// a control character, or a character outside ASCII that a router
	// may turn into ASCII (see docs/guard.md). "refuse" answers it 400
	// {"error":"invalid_path"}, so an upstream only ever gets a path that
	// every router reads as the guard judged it. "protect" passes it on as
	// sent, judged under every reading: it needs a login when any reading
	// is protected. Default: refuse.
	AmbiguousPaths string `json:"ambiguous_paths,omitempty"`

	// headers are IdentityHeaders in canonical form, sorted by name.
	headers []identityHeader
	// scrubbed are the names whose client copies are deleted: the
	// identity headers and the assertion's header.
	scrubbed *idheader.Names
	// assertion signs the identity assertion of the requests passed on
	// with a session; nil without identity_assertion.
	assertion *assertionSigner
	// exempt are the paths that Protect never covers (LoginPage's and
	// error_path), compared ignoring ASCII case.
	exempt []string
	// cookieName is the handler's session cookie; its login cookie is
	// named after it (see cookie.LoginName).
	cookieName string
	metrics    *metrics.Metrics
	logger     *zap.Logger
	// nestingReported makes noteNesting report once per handler; an
	// atomic, not a sync.Once, since Guard values are copied.
	nestingReported *atomic.Bool
}

// returnToParam is the auth-url query parameter naming the same-origin path
// to land on after the login.
const returnToParam = "return_to"

// FieldRule passes for a user whose field equals one of its values.
type FieldRule struct {
	// "sub" or a data field from sgID, such as "myinfo.email". Not an app
	// value: the browser chooses those, so a rule on one is refused.
	Field string `json:"field"`
	// The values that pass, compared exactly (case-sensitive).
	Values []string `json:"values"`
}

// setup compiles the guard's configuration. The handler passes in the few
// values of its own the guard needs: its error path (never protected, like
// login_page), the session cookie's name (cut from requests passed on),
// the signer of its identity assertion (nil without one), and its metrics
// and logger. validate checks the result.
func (g *Guard) setup(ctx caddy.Context, errorPath, cookieName string, a *assertionSigner, m *metrics.Metrics, logger *zap.Logger) error {
	g.assertion = a
	g.nestingReported = new(atomic.Bool)
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
	var scrubbed []string
	for _, ih := range g.headers {
		scrubbed = append(scrubbed, ih.name)
	}
	if g.assertion != nil {
		scrubbed = append(scrubbed, g.assertion.cfg.Header)
	}
	g.scrubbed = idheader.NewNames(scrubbed...)
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
	if g.LoginPage != "" && !pathview.IsLocal(g.LoginPage) {
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
	switch g.AmbiguousPaths {
	case "", ambiguousRefuse, ambiguousProtect:
	default:
		return fmt.Errorf("ambiguous_paths: %q must be refuse or protect", g.AmbiguousPaths)
	}
	if (len(g.AllowSubs) > 0 || len(g.AllowFields) > 0) && len(g.Protect) == 0 {
		return errors.New("allow_sub and allow_field apply to protected paths only; add protect")
	}
	return g.FreshLogin.validate(g.Protect)
}

// serve runs for a request about to be passed to the next handler. It
// answers the request itself (and returns true) when a protected path is
// asked for without a fitting login, or when protect is set and the path
// is ambiguous (unless ambiguous_paths is protect), or when a protected
// path is written to from another origin (crossOrigin); otherwise it sets
// the identity headers and, unless ForwardCookie, cuts the session
// cookies out of the request.
func (g *Guard) serve(w http.ResponseWriter, r *http.Request, o *session.Opened, id *identity, storeErr error, crossOrigin bool) (answered, protected bool, err error) {
	loggedIn := o != nil
	if len(g.Protect) > 0 {
		p := readPath(r.URL)
		if !p.plain && g.AmbiguousPaths != ambiguousProtect {
			g.logDenial(r, http.StatusBadRequest)
			return true, false, writeError(w, http.StatusBadRequest, "invalid_path", "The request path can be read in more than one way; send it in plain form.")
		}
		protected = g.protects(r, &p)
		if protected {
			if crossOrigin {
				g.logDenial(r, http.StatusForbidden)
				return true, protected, writeCrossOrigin(w)
			}
			if storeErr != nil {
				// Whether anyone is logged in cannot be told: neither let
				// the request through nor say "log in".
				g.logDenial(r, http.StatusServiceUnavailable)
				return true, protected, writeUnavailable(w)
			}
			if !loggedIn {
				return true, protected, g.denyAnonymous(w, r)
			}
			if !g.allows(o.Session) {
				g.logDenial(r, http.StatusForbidden)
				return true, protected, writeDenial(w, isNavigation(r), http.StatusForbidden, "forbidden", "You are not allowed to see this page.")
			}
			if g.FreshLogin.tooOld(r, &p, o.Session) {
				return true, protected, g.askLogin(w, r, errLoginTooOld, "Please log in again to see this page.")
			}
		}
	}
	if loggedIn {
		g.setIdentityHeaders(r, id.headers)
		if g.assertion != nil {
			if err := g.assertion.set(r, o, id.fields); err != nil {
				// Without its assertion the upstream cannot tell who
				// calls: a protected request is not passed on.
				g.logger.Warn("sgid identity assertion not signed", zap.Error(err), zap.String("request_id", requestID(r)))
				if protected {
					return true, protected, writeUnavailable(w)
				}
			}
		}
	}
	if !g.ForwardCookie {
		cookie.Strip(r.Header, g.cookieName)
	}
	return false, protected, nil
}

// protects reports whether the request's path needs a login: a protect
// pattern matches it under some reading of its path (see matches), and it
// is not an exempt page under every reading.
func (g *Guard) protects(r *http.Request, p *pathReading) bool {
	return matches(g.Protect, r, p) && !g.exempted(r, p)
}

// matches reports whether one of patterns matches the request: Caddy's
// path matcher on the request as it is, or, for a path that routers may
// read in more than one way, one of its readings (see pathview), since the
// upstream routes its own reading, not Caddy's cleaned one. A plain path
// also matches a pattern without its one trailing slash, as routers that
// take /x/ for /x (Express, Spring) route it. A path whose readings are
// too many or too long to read, and a matcher error, count as a match: it
// fails closed.
func matches(patterns caddyhttp.MatchPath, r *http.Request, p *pathReading) bool {
	if len(patterns) == 0 {
		return false
	}
	if ok, err := patterns.MatchWithError(r); ok || err != nil {
		return true
	}
	if p.plain {
		if path := r.URL.Path; len(path) > 1 && path[len(path)-1] == '/' {
			return anyViewMatches(patterns, r, []string{path[:len(path)-1]})
		}
		return false
	}
	views, complete := p.readings()
	return !complete || anyViewMatches(patterns, r, views)
}

// exempted reports whether the request is for login_page or error_path
// under every reading of its path. An exact match is needed: a variant
// such as /login/ stays protected, which fails closed, and its redirect
// goes to the exempt page. A path sent with escapes (/%6cogin) is read in
// every way, since a router that matches the path as sent (Express) does
// not take it for the page. Case folds in ASCII only: strings.EqualFold
// would also take U+017F (ſ) for s and U+212A (K) for k, exempting paths
// that the upstream may treat as other paths.
func (g *Guard) exempted(r *http.Request, p *pathReading) bool {
	if len(g.exempt) == 0 {
		return false
	}
	if p.plain && pathview.Literal(r.URL) {
		for _, e := range g.exempt {
			if pathview.EqualFold(r.URL.Path, e) {
				return true
			}
		}
		return false
	}
	views, complete := p.readings()
	for _, e := range g.exempt {
		if complete && pathview.AllEqualFold(views, e) {
			return true
		}
	}
	return false
}

// anyViewMatches reports whether one of patterns matches one of views
// with the path matcher's semantics (case-insensitive; /x/* by prefix, *.x
// by suffix, *x* by substring, else a glob) but without its cleaning, since
// the views already include the cleaned readings next to the raw ones. A
// pattern holding an escape such as %2f is compared as it is with every
// view (%* standing for *), so it matches the raw view and any view that
// a router decoding too few or too many times would see.
func anyViewMatches(patterns caddyhttp.MatchPath, r *http.Request, views []string) bool {
	lower := make([]string, len(views))
	for i, v := range views {
		lower[i] = strings.ToLower(v)
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	for _, pattern := range patterns {
		if strings.Contains(pattern, "{") && repl != nil {
			pattern = strings.ToLower(repl.ReplaceAll(pattern, ""))
		}
		if strings.Contains(pattern, "%") {
			pattern = strings.ReplaceAll(pattern, "%*", "*")
		}
		for _, v := range lower {
			if pathview.Match(pattern, v) {
				return true
			}
		}
	}
	return false
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
		if back := originalRequestURI(r); pathview.IsLocal(back) {
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
	g.metrics.Denial(metrics.Site(r), strconv.Itoa(status))
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

// validateIdentityHeaders checks that every identity header is a valid
// name that may carry an identity, has a field, and is not named twice.
func (g *Guard) validateIdentityHeaders() error {
	seen := map[string]string{}
	for _, ih := range g.headers {
		if !idheader.IsToken(ih.name) {
			return fmt.Errorf("identity_header: %q is not a valid header name", ih.name)
		}
		if idheader.Forbidden(ih.name) {
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

// receive runs first for every request the handler sees, before it routes
// it: it marks the request as seen by this guard's handler (see
// noteNesting) and deletes every client copy of the identity headers.
func (g *Guard) receive(r *http.Request) {
	g.noteNesting(r)
	g.scrubbed.Scrub(r)
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

// placeholder is one placeholder the handler sets for a logged-in user.
type placeholder struct {
	name  string
	value any
}

// identity is what the guard hands on for a logged-in user, made once per
// opened session: the placeholders, the encoded identity header values and
// the fields of the identity assertion.
type identity struct {
	// placeholders are set in order, the sub last (see
	// identityPlaceholders).
	placeholders []placeholder
	// headers are the encoded values of the identity headers, in the order
	// of g.headers; "" where the user has no value.
	headers []string
	// fields are the assertion's fields the user has values for.
	fields []assertion.Field
}

// identityOf makes ready what the guard hands on for session s.
func (g *Guard) identityOf(s session.Session) identity {
	id := identity{placeholders: identityPlaceholders(s), headers: g.headerValues(s)}
	if g.assertion != nil {
		for _, f := range g.assertion.cfg.Fields {
			if v, ok := userField(s, f); ok && v != "" {
				id.fields = append(id.fields, assertion.Field{Name: f, Value: v})
			}
		}
	}
	return id
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
			out[i] = idheader.Encode(v)
		}
	}
	return out
}

// handlerVar is the request variable in which the first sgid handler a
// request passes through leaves its nestingMark, so that a second one can
// tell. The mark holds no secret: placeholders such as
// {http.vars.sgid_handler} can print it.
const handlerVar = "sgid_handler"

// nestingMark says which sgid handler saw a request first, by its guard
// (each handler has its own), whose ForwardCookie tells whether it passes
// the session cookies on. A struct of one pointer goes into an interface
// without an allocation.
type nestingMark struct {
	guard *Guard
}

func (m nestingMark) String() string { return "sgid" }

// noteNesting leaves g's mark on the request, or, when another sgid
// handler has already marked it, logs once (at ERROR) that the
// configuration nests or repeats sgid where it cannot work: the outer one
// cuts the session cookies from the requests it passes on, so the inner
// one never sees a login and its routes and guard act as if nobody were
// logged in. The adapter cannot see this (two sgid blocks in one site, or
// sgid inside a handle under another sgid), so it is reported at the
// first request that shows it. With forward_cookie on the outer one,
// nesting works and is not reported.
func (g *Guard) noteNesting(r *http.Request) {
	// The variables' map is looked up once, for the read and the write,
	// as caddyhttp.GetVar and SetVar each would: a request's context is a
	// chain of several values in Caddy, walked on every lookup.
	vars, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	outer, ok := vars[handlerVar].(nestingMark)
	if !ok {
		if vars != nil {
			vars[handlerVar] = nestingMark{guard: g}
		}
		return
	}
	if outer.guard == g || outer.guard.ForwardCookie {
		return
	}
	if g.nestingReported != nil && g.nestingReported.CompareAndSwap(false, true) {
		g.logger.Error("a request passed through two sgid handlers; the first cuts the session cookies, so this one never sees a login: use one sgid block per site, or set forward_cookie in the outer one",
			zap.String("request_id", requestID(r)))
	}
}
