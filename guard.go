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

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
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
	// it upstream): "sub" (the sgID subject), a data key such as
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

// Provision compiles the guard's configuration. The handler passes in the
// few values of its own the guard needs: its error path (never protected,
// like LoginPage), the session cookie's name (cut from requests passed
// on), and its metrics and logger. Validate checks the result.
func (g *Guard) Provision(ctx caddy.Context, errorPath, cookieName string, m *metrics, logger *zap.Logger) error {
	if err := g.Protect.Provision(ctx); err != nil {
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

// Validate checks the guard's configuration after Provision. appKeys are
// the data keys of the handler's app values, which rules may not use.
func (g *Guard) Validate(appKeys []string) error {
	for _, p := range g.Protect {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("sgid: protect: pattern %q must start with / (use /* for the whole site)", p)
		}
	}
	if g.LoginPage != "" && !isLocalPath(g.LoginPage) {
		return fmt.Errorf("sgid: login_page: %q must be a path on this site, starting with a single /", g.LoginPage)
	}
	if err := g.validateIdentityHeaders(); err != nil {
		return err
	}
	for _, sub := range g.AllowSubs {
		if sub == "" {
			return errors.New("sgid: allow_sub: empty subject")
		}
	}
	for _, rule := range g.AllowFields {
		if rule.Field == "" || len(rule.Values) == 0 {
			return fmt.Errorf("sgid: allow_field: %q needs a field and at least one value", rule.Field)
		}
		// The browser picks app values at auth-url: a rule on one would
		// let anyone who logs in choose to pass it.
		if slices.Contains(appKeys, rule.Field) {
			return fmt.Errorf("sgid: allow_field: %q is an app value the browser chooses; rules must use sub or data from sgID", rule.Field)
		}
	}
	if (len(g.AllowSubs) > 0 || len(g.AllowFields) > 0) && len(g.Protect) == 0 {
		return errors.New("sgid: allow_sub and allow_field apply to protected paths only; add protect")
	}
	return nil
}

// serve runs for a request about to be passed to the next handler. It
// answers the request itself (and returns true) when a protected path is
// asked for without a fitting login; otherwise it sets the identity
// headers and, unless ForwardCookie, cuts the session cookies out of the
// request.
func (g *Guard) serve(w http.ResponseWriter, r *http.Request, o *openedSession, storeErr error) (answered bool, err error) {
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
		if !g.allows(o.s) {
			g.logDenial(r, http.StatusForbidden)
			return true, writeDenial(w, isNavigation(r), http.StatusForbidden, "forbidden", "You are not allowed to see this page.")
		}
	}
	if loggedIn {
		g.setIdentityHeaders(r, o.headers)
	}
	if !g.ForwardCookie {
		stripSessionCookies(r.Header, g.cookieName)
	}
	return false, nil
}

// protects reports whether the request's path needs a login. A path that
// routers may read in more than one way is protected when any reading
// matches (see protectsViews); any other path, which is that of nearly
// every request, has one reading and is judged here as Caddy's path
// matcher judges it.
func (g *Guard) protects(r *http.Request) bool {
	if len(g.Protect) == 0 {
		return false
	}
	if !plainPath(r.URL) {
		return g.protectsViews(r)
	}
	if ok, err := g.Protect.MatchWithError(r); !ok && err == nil {
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
func (g *Guard) allows(s session) bool {
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

// userField is the value of "sub" or of a data key of the session.
func userField(s session, field string) (string, bool) {
	if field == "sub" {
		return s.Sub, s.Sub != ""
	}
	v, ok := s.Data[field]
	return v, ok
}

// denyAnonymous answers a protected request that has no login: navigations
// go to the login page when there is one, everything else gets 401.
func (g *Guard) denyAnonymous(w http.ResponseWriter, r *http.Request) error {
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
	return writeDenial(w, nav, http.StatusUnauthorized, "login_required", "Please log in to see this page.")
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

// noteNesting leaves h's mark on the request, or, when another sgid
// handler has already marked it, logs once (at ERROR) that the
// configuration nests or repeats sgid where it cannot work: the outer one
// cuts the session cookies from the requests it passes on, so the inner
// one never sees a login and its routes and guard act as if nobody were
// logged in. The adapter cannot see this (two sgid blocks in one site, or
// sgid inside a handle under another sgid), so it is reported at the
// first request that shows it. With forward_cookie on the outer one,
// nesting works and is not reported.
func (h *Handler) noteNesting(r *http.Request) {
	outer, ok := caddyhttp.GetVar(r.Context(), handlerVar).(nestingMark)
	if !ok {
		caddyhttp.SetVar(r.Context(), handlerVar, nestingMark{guard: h.guard})
		return
	}
	if outer.guard == h.guard || outer.guard.ForwardCookie {
		return
	}
	if h.nestingReported != nil && h.nestingReported.CompareAndSwap(false, true) {
		h.logger.Error("a request passed through two sgid handlers; the first cuts the session cookies, so this one never sees a login: use one sgid block per site, or set forward_cookie in the outer one",
			zap.String("request_id", requestID(r)))
	}
}
