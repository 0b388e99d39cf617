package caddysgid

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/access"
	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/navigation"
	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/respond"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
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
//   - not logged in, API call: 401 {"error":"login_required","login_url":
//     auth-url with return_to} and a Link rel="login" to it, never a
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
	// The path on this site, like login_page, where a navigation to a
	// protected path goes, with return_to, while a public officer with
	// several jobs has chosen none (docs/officers.md); it is never
	// protected. Default: none; such navigations are answered 409.
	ProfilePage string `json:"profile_page,omitempty"`
	// Maps a request header name to the user field whose value it carries
	// to the handlers after this one (reverse_proxy sends it upstream):
	// "sub" (the sgID subject), "auth_time" (the login time in Unix
	// seconds), a data field from sgID such as "myinfo.name" (the NRIC,
	// "myinfo.nric_number", goes masked as *****123A unless written
	// "myinfo.nric_number:unmasked"), "pseudonym:<label>" (a stable
	// pseudonym of sub per label, keyed from sealing_key, which it needs),
	// or an app value key such as "iceCream". Values are
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

	// exempt are the paths that Protect never covers (LoginPage's and
	// error_path), compared ignoring ASCII case.
	exempt []string
	// authURL is the auth-url route, where a 401 sends the way back.
	authURL string
	// profilesURL is the officer profiles' route, which a 409 names.
	profilesURL string
	// rules are allow_subs, allow_fields and fresh_login, compiled.
	rules access.Rules
}

// FieldRule passes for a user whose field equals one of its values.
type FieldRule struct {
	// "sub" or a data field from sgID, such as "myinfo.email". Not an app
	// value: the browser chooses those, so a rule on one is refused.
	Field string `json:"field"`
	// The values that pass, compared exactly (case-sensitive).
	Values []string `json:"values"`
}

// setup compiles the guard's configuration. errorPath, the handler's
// error page, is never protected, like login_page. validate checks the
// result.
func (g *Guard) setup(ctx caddy.Context, errorPath, authURL string) error {
	g.authURL = authURL
	if err := g.Protect.Provision(ctx); err != nil {
		return err
	}
	if err := g.FreshLogin.setup(ctx); err != nil {
		return err
	}
	g.rules = access.Rules{Subs: g.AllowSubs}
	for _, rule := range g.AllowFields {
		g.rules.Fields = append(g.rules.Fields, access.Field{Name: rule.Field, Values: rule.Values})
	}
	if f := g.FreshLogin; f != nil {
		g.rules.FreshPaths, g.rules.MaxAge, g.rules.Now = f.Paths, time.Duration(f.MaxAge), f.now
	}
	g.exempt = g.exempt[:0]
	for _, p := range []string{g.LoginPage, g.ProfilePage, errorPath} {
		if p, _, _ = strings.Cut(p, "?"); p != "" {
			g.exempt = append(g.exempt, p)
		}
	}
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
	for field, p := range map[string]string{"login_page": g.LoginPage, "profile_page": g.ProfilePage} {
		if p != "" && !pathview.IsLocal(p) {
			return fmt.Errorf("%s: %q must be a path on this site, starting with a single /", field, p)
		}
	}
	if err := idheader.Validate(g.IdentityHeaders); err != nil {
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

// judge runs for a request about to be passed to the next handler, with
// what ServeHTTP learned of it. It answers the request itself, and
// returns the status it answered, when protect is set and the path is
// ambiguous (unless ambiguous_paths is protect), or when a protected path
// is asked for without a fitting login, or written to from another
// origin. protected tells whether the path needs a login.
func (g *Guard) judge(w http.ResponseWriter, r *http.Request, v *visit) (status int, protected bool, err error) {
	if len(g.Protect) == 0 {
		return 0, false, nil
	}
	p := pathview.Read(r.URL)
	if !p.Plain && g.AmbiguousPaths != ambiguousProtect {
		return http.StatusBadRequest, false, respond.Error(w, http.StatusBadRequest, "invalid_path", "The request path can be read in more than one way; send it in plain form.")
	}
	if !pathview.Covered(g.Protect, g.exempt, r, &p) {
		return 0, false, nil
	}
	switch {
	case v.crossOrigin:
		return http.StatusForbidden, true, respond.CrossOrigin(w)
	case v.storeErr != nil:
		// Whether anyone is logged in cannot be told: neither let the
		// request through nor say "log in".
		return http.StatusServiceUnavailable, true, respond.Unavailable(w)
	case v.opened == nil:
		status, err = sparoutes.AskLogin(w, r, g.LoginPage, g.authURL, "login_required", "Please log in to see this page.")
		return status, true, err
	case officer.Pending(v.opened.Session.Data):
		// Before the rules, which may read the job's fields.
		status, err = sparoutes.ProfileRequired(w, r, g.ProfilePage, g.profilesURL, sparoutes.ReturnTo(r))
		return status, true, err
	}
	switch g.rules.Judge(r, &p, v.opened.Session) {
	case access.Forbidden:
		return http.StatusForbidden, true, respond.Denial(w, navigation.Is(r), http.StatusForbidden, "forbidden", "You are not allowed to see this page.")
	case access.TooOld:
		status, err = sparoutes.AskLogin(w, r, g.LoginPage, g.authURL, errLoginTooOld, "Please log in again to see this page.")
		return status, true, err
	}
	return 0, true, nil
}
