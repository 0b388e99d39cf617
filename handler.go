package caddysgid

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/identity"
	"github.com/caddy-sgid/caddy-sgid/internal/metrics"
	"github.com/caddy-sgid/caddy-sgid/internal/respond"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
	"github.com/caddy-sgid/caddy-sgid/internal/upgrade"
)

// ServeHTTP serves the sgid routes and passes other requests on, with the
// user's identity in the placeholders when a session cookie is valid.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !validTarget(r) {
		return respond.Error(w, http.StatusBadRequest, "invalid_target", "The request target must be a path starting with /.")
	}
	h.receive(r)
	if ok, err := h.spa.Serve(w, r); ok {
		return err // its routes look the session up as each needs
	}
	v := visit{crossOrigin: h.origins.Write(r)}
	// A write another origin's page sent acts for nobody: the guard
	// refuses it on protected paths; elsewhere it passes on anonymous.
	if !v.crossOrigin {
		v.opened, v.storeErr = h.sessions.Lookup(r.Context(), r)
	}
	if v.opened != nil {
		v.view = identity.Of(v.opened)
		v.view.SetPlaceholders(r)
	}
	if serve := h.route(r.URL.Path); serve != nil {
		return serve(h, w, r, v)
	}
	status, protected, err := h.gate.judge(w, r, &v)
	if status != 0 {
		h.metrics.Denial(metrics.Site(r), strconv.Itoa(status))
		if ce := h.logger.Check(zap.DebugLevel, "sgid guard answered a protected request"); ce != nil {
			ce.Write(zap.Int("status", status), zap.String("request_id", requestID(r)))
		}
		return err
	}
	if v.opened != nil {
		h.identity.SetHeaders(r, v.view)
		if h.signer != nil {
			if err := h.signer.sign.Set(r, v.opened, v.view); err != nil {
				// Without its assertion the upstream cannot tell who
				// calls: a protected request is not passed on.
				h.logger.Warn("sgid identity assertion not signed", zap.Error(err), zap.String("request_id", requestID(r)))
				if protected {
					return respond.Unavailable(w)
				}
			}
		}
	}
	if !h.gate.ForwardCookie {
		cookie.Strip(r.Header, h.CookieName)
	}
	// An upgraded connection through a protected path lives only as long
	// as its session.
	if protected && v.opened != nil && h.upgrades != nil && upgrade.IsUpgrade(r) {
		tw, tr, release := h.upgrades.Watch(w, r, v.opened.Key, v.opened.ID)
		defer release()
		w, r = tw, tr
	}
	return next.ServeHTTP(w, r)
}

// ownRoutes are the handler's own routes, each with the path it answers
// (given by the handler's configuration; "" for a route that is off), in
// the order they are tried: where two routes were given one path, the
// first keeps it. The built-in mock answers every path under its prefix.
var ownRoutes = [...]struct {
	path   func(h *Handler) string
	prefix bool
	serve  serveFunc
}{
	{path: func(h *Handler) string { return h.AuthURLPath }, serve: func(h *Handler, w http.ResponseWriter, r *http.Request, _ visit) error { return h.serveAuthURL(w, r) }},
	{path: func(h *Handler) string { return h.CallbackPath }, serve: func(h *Handler, w http.ResponseWriter, r *http.Request, _ visit) error { return h.serveCallback(w, r) }},
	{path: func(h *Handler) string { return h.UserinfoPath }, serve: func(h *Handler, w http.ResponseWriter, r *http.Request, v visit) error {
		return serveUserinfo(w, r, v, h.AuthURLPath)
	}},
	{path: func(h *Handler) string { return h.LogoutPath }, serve: (*Handler).serveLogout},
	{path: (*Handler).jwksPath, serve: func(h *Handler, w http.ResponseWriter, r *http.Request, _ visit) error {
		return h.signer.serveJWKS(w, r)
	}},
	{path: (*Handler).mockPath, prefix: true, serve: func(h *Handler, w http.ResponseWriter, r *http.Request, _ visit) error { return h.serveMock(w, r) }},
}

// route is the handler's own route for path, or nil when the request is
// for none of them.
func (h *Handler) route(path string) serveFunc {
	for i := range ownRoutes {
		rt := &ownRoutes[i]
		if p := rt.path(h); p != "" && (path == p || rt.prefix && strings.HasPrefix(path, p)) {
			return rt.serve
		}
	}
	return nil
}

type serveFunc = func(h *Handler, w http.ResponseWriter, r *http.Request, v visit) error

// jwksPath is the assertion's key route, or "" (off) without one.
func (h *Handler) jwksPath() string {
	if h.signer == nil {
		return ""
	}
	return h.signer.cfg.JWKSPath
}

// mockPath is the built-in mock's prefix, or "" (off) without mock.
func (h *Handler) mockPath() string {
	if h.mock == nil {
		return ""
	}
	return mockPrefix + "/"
}

// receive runs first for every request the handler sees, before it routes
// it: it marks the request as seen by this handler (see noteNesting) and
// deletes every client copy of the identity headers.
func (h *Handler) receive(r *http.Request) {
	h.noteNesting(r)
	h.identity.Scrub(r)
}

// serveUserinfo answers the logged-in user's sub and data, encoded once per
// opened session, or 401 null with the Link to authURL.
func serveUserinfo(w http.ResponseWriter, r *http.Request, v visit, authURL string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	if v.storeErr != nil {
		return writeUnavailable(w)
	}
	if v.opened == nil {
		// JSON null, not an object: sgID's demo SPA treats any JSON object
		// as a logged-in user.
		sparoutes.SetLink(w.Header(), authURL)
		return writeJSON(w, http.StatusUnauthorized, nil)
	}
	return writeJSONBody(w, http.StatusOK, v.view.Userinfo())
}

// serveLogout ends the session that ServeHTTP found for the request's
// cookie. A cookie that names no session costs no store call; when the
// store could not say whether there is one, the logout cannot be confirmed
// and answers 503.
func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request, v visit) error {
	if r.URL.Query().Has(everywhereParam) {
		return h.logoutEverywhere(w, r, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(w, "GET, POST")
	}
	if !h.origins.SameOrigin(r) {
		return respond.CrossOrigin(w)
	}
	if v.storeErr != nil {
		return writeUnavailable(w)
	}
	if err := h.sessions.Logout(r.Context(), w, r, v.opened); err != nil {
		return writeUnavailable(w)
	}
	if o := v.opened; o != nil {
		h.metrics.Logout(metrics.Site(r))
		h.logger.Info("user logged out", zap.String("sub", o.Session.Sub), zap.String("request_id", requestID(r)))
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

// everywhereParam is the logout route's query parameter that ends every
// session of the user, on every instance, instead of this browser's only.
const everywhereParam = "everywhere"

// logoutEverywhere serves the logout route when its query names
// everywhere, which must be POST <logout_path>?everywhere=1: it ends every
// session of the user whose session the request carries (every browser,
// every instance sharing the store; their upgraded connections close with
// them) and answers {"ended": N}. It changes more than a plain logout, so
// it takes POST only, which a cross-site link or image cannot send, and
// like a plain logout it refuses requests from another origin. Without a
// session it ends nothing and still clears this browser's cookies.
func (h *Handler) logoutEverywhere(w http.ResponseWriter, r *http.Request, v visit) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, "POST")
	}
	if r.URL.Query().Get(everywhereParam) != "1" {
		return writeError(w, http.StatusBadRequest, "invalid_everywhere", "everywhere takes the value 1.")
	}
	if !h.origins.SameOrigin(r) {
		return respond.CrossOrigin(w)
	}
	if v.storeErr != nil {
		return writeUnavailable(w)
	}
	ended := 0
	if o := v.opened; o != nil {
		var err error
		if ended, err = h.sessions.Revoke(r.Context(), session.UserSessions(o.Session.Sub)); err != nil {
			return writeUnavailable(w)
		}
		h.metrics.Logout(metrics.Site(r))
		h.logger.Info("user logged out everywhere", zap.String("sub", o.Session.Sub), zap.Int("sessions", ended), zap.String("request_id", requestID(r)))
	}
	if err := h.sessions.Logout(r.Context(), w, r, nil); err != nil {
		return writeUnavailable(w)
	}
	return writeJSON(w, http.StatusOK, struct {
		Ended int `json:"ended"`
	}{ended})
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
	h *Handler
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
	// The variables' map is looked up once, for the read and the write,
	// as caddyhttp.GetVar and SetVar each would: a request's context is a
	// chain of several values in Caddy, walked on every lookup.
	vars, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	outer, ok := vars[handlerVar].(nestingMark)
	if !ok {
		if vars != nil {
			vars[handlerVar] = nestingMark{h: h}
		}
		return
	}
	if outer.h == h || outer.h.gate.ForwardCookie {
		return
	}
	if h.nestingReported != nil && h.nestingReported.CompareAndSwap(false, true) {
		h.logger.Error("a request passed through two sgid handlers; the first cuts the session cookies, so this one never sees a login: use one sgid block per site, or set forward_cookie in the outer one",
			zap.String("request_id", requestID(r)))
	}
}
