package caddysgid

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/pathview"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/metrics"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/upgrade"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// Reasons put in the error path's query (?reason=...). They are short,
// stable and machine-readable, for the SPA to show a fitting message.
const (
	reasonAccessDenied   = "access_denied"   // the user cancelled at sgID
	reasonNoSession      = "no_session"      // no login cookie: cookies blocked, or another browser
	reasonLoginExpired   = "login_expired"   // the login timed out or was already used
	reasonStateMismatch  = "state_mismatch"  // state does not belong to this browser's logins
	reasonMissingCode    = "missing_code"    // the callback has no code
	reasonProviderError  = "provider_error"  // sgID answered an error or could not be reached
	reasonCodeRejected   = "code_rejected"   // sgID refused the code: replayed, expired or for another login
	reasonInvalidToken   = "invalid_token"   // the ID token failed a check
	reasonUserinfoFailed = "userinfo_failed" // userinfo could not be fetched or decrypted
	reasonServerError    = "server_error"    // our own store failed
)

// ServeHTTP serves the sgid routes and passes other requests on, with the
// user's identity in the placeholders when a session cookie is valid.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !validTarget(r) {
		return writeInvalidTarget(w)
	}
	h.guard.receive(r)
	var (
		o        *session.Opened
		cookieID string
		storeErr error
	)
	// A write another origin's page sent with the user's cookie acts for
	// nobody: the guard refuses it on protected paths, and elsewhere it
	// is passed on without the user's identity.
	crossOrigin := h.origins.crossOriginWrite(r)
	if v, ok := h.cookies.Value(r, h.CookieName); ok && !crossOrigin {
		cookieID = v
		o, storeErr = h.sessions.Lookup(r.Context(), cookieID)
	}
	if o != nil {
		setPlaceholders(r, viewOf(o).placeholders)
	}
	if a := h.IdentityAssertion; a != nil && r.URL.Path == a.JWKSPath {
		return h.guard.assertion.serveJWKS(w, r)
	}
	switch r.URL.Path {
	case h.AuthURLPath:
		return h.serveAuthURL(w, r)
	case h.CallbackPath:
		return h.serveCallback(w, r, o, cookieID)
	case h.UserinfoPath:
		return serveUserinfo(w, r, o, storeErr)
	case h.LogoutPath:
		return h.serveLogout(w, r, o, storeErr)
	}
	if h.mock != nil && strings.HasPrefix(r.URL.Path, mockPrefix+"/") {
		return h.serveMock(w, r)
	}
	var id *identity
	if o != nil {
		id = &viewOf(o).identity
	}
	answered, protected, err := h.guard.serve(w, r, o, id, storeErr, crossOrigin)
	if answered {
		return err
	}
	// An upgraded connection through a protected path lives only as long
	// as its session.
	if protected && o != nil && h.upgrades != nil && upgrade.IsUpgrade(r) {
		tw, tr, release := h.upgrades.Watch(w, r, o.Key, o.ID)
		defer release()
		w, r = tw, tr
	}
	return next.ServeHTTP(w, r)
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

func (h *Handler) serveAuthURL(w http.ResponseWriter, r *http.Request) error {
	// GET only: auth-url and the callback change server state, and HEAD
	// (link previews, prefetchers) must not start or consume a login.
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	// url.Query makes a map even for an empty query, and a login is
	// mostly started with none.
	var q url.Values
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	returnTo := q.Get(returnToParam)
	if returnTo != "" && !pathview.IsLocal(returnTo) {
		return writeError(w, http.StatusBadRequest, "invalid_return_to", "return_to must be a path on this site.")
	}
	var app map[string]string
	appParams := h.AppParams
	if len(q) == 0 {
		appParams = nil // no query, no app values: the map is not walked
	}
	for param, key := range appParams {
		if v := q.Get(param); v != "" {
			if len(v) > maxAppValue {
				return writeError(w, http.StatusBadRequest, "invalid_app_param", "An app parameter is too long.")
			}
			if !validAppValue(v) {
				return writeError(w, http.StatusBadRequest, "invalid_app_param", "An app parameter holds a control character or is not UTF-8.")
			}
			if app == nil {
				app = make(map[string]string, len(h.AppParams))
			}
			app[key] = v
		}
	}

	redirectURI, err := cookie.RedirectURI(r, h.RedirectURI, h.CallbackPath, h.CookieSecure)
	if err != nil {
		return writeError(w, http.StatusBadRequest, "invalid_host", "The Host header is not a valid host name and port.")
	}
	// Four secrets of 256 bits each, drawn at once.
	var state, verifier, nonce, sessionID string
	session.FillIDs(&state, &verifier, &nonce, &sessionID)
	challenge, err := sgid.CodeChallenge(verifier)
	if err != nil {
		return serverError(w, r, h.logger, http.StatusInternalServerError, err)
	}
	answer, err := h.authURLAnswer(sgid.AuthParams{
		State:         state,
		Nonce:         nonce,
		CodeChallenge: challenge,
		RedirectURI:   redirectURI,
	})
	if err != nil {
		return serverError(w, r, h.logger, http.StatusInternalServerError, err)
	}
	defer answer.release()

	// The login travels sealed in a cookie of its own, named after its
	// state, so nothing is kept on the server and each tab's login is
	// found by its own callback.
	timeout := time.Duration(h.LoginTimeout)
	name := cookie.LoginName(h.CookieName, state)
	login := session.Login{
		State:        state,
		CodeVerifier: verifier,
		Nonce:        nonce,
		RedirectURI:  redirectURI,
		ReturnTo:     returnTo,
		AppValues:    app,
		Expires:      h.sessions.Now().Add(timeout).Unix(),
		SessionID:    sessionID,
	}
	// Sealed into a buffer on the stack and base64url-encoded straight
	// into the Set-Cookie line: the line is the cookie's one allocation.
	// A login is about 300 bytes sealed; one with a long return_to or app
	// values outgrows the buffer and is sealed on the heap.
	var sealBuf [512]byte
	sealed, err := h.sessions.SealLoginRaw(r.Context(), name, &login, sealBuf[:0])
	if err != nil {
		return writeUnavailable(w)
	}
	if len(name)+cookie.EncodedLen(len(sealed)) > maxLoginCookie {
		return writeError(w, http.StatusBadRequest, "login_too_large", "return_to and the app parameters are too long to start a login.")
	}
	// A browser keeps a few logins in flight; the oldest make room.
	var held []session.LoginCookie
	for _, c := range r.Cookies() {
		if base, ok := h.cookies.LoginBase(r, c); ok {
			held = append(held, session.LoginCookie{Name: base, Value: c.Value})
		}
	}
	for _, old := range h.sessions.Surplus(r.Context(), held) {
		h.cookies.Set(w, r, old, "", -1)
	}
	h.cookies.SetBase64(w, r, name, sealed, timeout)
	return writeJSONBody(w, http.StatusOK, answer.body)
}

// authURLAnswer is auth-url's answer, {"url": ...} with sgID's
// authorization URL for p, byte for byte as urlAnswer writes it. sgID's
// client writes the URL as JSON itself, its fixed parts escaped once, into
// a buffer kept for the next answer (a ResponseWriter keeps nothing it is
// given past Write); release hands the buffer back once the answer is
// written. In mock mode the URL is rewritten for the browser first.
func (h *Handler) authURLAnswer(p sgid.AuthParams) (*answer, error) {
	a := answers.Get().(*answer)
	if h.mock != nil {
		u, _, err := h.client.AuthorizationURL(p)
		if err != nil {
			a.release()
			return nil, err
		}
		a.body = append(a.body[:0], urlAnswer(mockBrowserURL(u))...)
		return a, nil
	}
	body, _, err := h.client.AuthorizationURLJSON(append(a.body[:0], `{"url":`...), p)
	if err != nil {
		a.release()
		return nil, err
	}
	a.body = append(body, '}')
	return a, nil
}

// serveCallback finishes the login whose state sgID sent back. current is
// the session the request's cookie names, and cookieID that cookie's
// value.
func (h *Handler) serveCallback(w http.ResponseWriter, r *http.Request, current *session.Opened, cookieID string) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	ctx := r.Context()
	q := r.URL.Query()
	name := cookie.LoginName(h.CookieName, q.Get("state"))
	c, err := h.cookies.Get(r, name)
	switch {
	case err != nil && h.cookies.HasLogin(r):
		return h.fail(w, r, reasonStateMismatch, zapcore.WarnLevel, errors.New("state does not match any login of this browser"))
	case err != nil:
		return h.fail(w, r, reasonNoSession, zapcore.InfoLevel, errors.New("callback without a login cookie"))
	}
	login, err := h.sessions.OpenLogin(ctx, name, c.Value, q.Get("state"))
	switch {
	case errors.Is(err, session.ErrLoginInvalid):
		return h.fail(w, r, reasonStateMismatch, zapcore.WarnLevel, errors.New("the login cookie was not sealed by this site for this state"))
	case errors.Is(err, session.ErrLoginExpired):
		return h.fail(w, r, reasonLoginExpired, zapcore.InfoLevel, errors.New("the login expired"))
	case err != nil:
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	dest := cmp.Or(login.ReturnTo, h.SuccessPath)
	// The browser that finished this login replays its callback (some
	// machines fetch it twice): it lands where it did the first time,
	// with no second call to sgID and no new session.
	if current != nil && current.ID == login.SessionID {
		http.Redirect(w, r, dest, http.StatusFound)
		return nil
	}
	if done, err := h.sessions.Finished(ctx, login.SessionID); err != nil {
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	} else if done {
		return h.fail(w, r, reasonLoginExpired, zapcore.WarnLevel, errors.New("this login was finished before, by another browser or with a copy of its cookie"))
	}
	if e := q.Get("error"); e != "" {
		reason := reasonProviderError
		if e == "access_denied" {
			reason = reasonAccessDenied
		}
		h.cookies.Set(w, r, name, "", -1)
		return h.fail(w, r, reason, zapcore.InfoLevel, errors.New("sgID answered error="+truncate(e, 64)))
	}
	code := q.Get("code")
	if code == "" {
		return h.fail(w, r, reasonMissingCode, zapcore.InfoLevel, errors.New("callback without a code"))
	}

	// One deadline for the whole back channel of a login (token, a JWKS
	// fetch or two, userinfo), so a stalled sgID ends the login at
	// provider_timeout rather than after each call's own.
	pctx, cancel := context.WithTimeout(ctx, time.Duration(h.ProviderTimeout))
	defer cancel()
	tokens, err := h.client.Exchange(pctx, sgid.ExchangeParams{
		Code:         code,
		CodeVerifier: login.CodeVerifier,
		Nonce:        login.Nonce,
		RedirectURI:  login.RedirectURI,
	})
	if err != nil {
		if errors.Is(err, sgid.ErrIDToken) {
			return h.fail(w, r, reasonInvalidToken, zapcore.ErrorLevel, err)
		}
		if codeRejected(err) {
			return h.fail(w, r, reasonCodeRejected, zapcore.WarnLevel, errCodeRejected)
		}
		return h.fail(w, r, reasonProviderError, zapcore.ErrorLevel, err)
	}
	info, err := h.client.Userinfo(pctx, tokens.Sub, tokens.AccessToken)
	if err != nil {
		return h.fail(w, r, reasonUserinfoFailed, zapcore.ErrorLevel, err)
	}

	// App values never override what sgID vouched for (Validate keeps their
	// keys out of the scopes' dotted namespace; this holds regardless).
	data := info.Data
	for k, v := range login.AppValues {
		if _, fromSgID := data[k]; !fromSgID {
			data[k] = v
		}
	}
	// The new session replaces the browser's old one, if any; its id came
	// sealed in the login cookie, so an id planted before the login
	// (session fixation) never becomes a logged-in one.
	if cookieID != "" {
		_ = h.sessions.EndID(ctx, cookieID)
	}
	lifetime := time.Duration(h.SessionLifetime)
	s := session.Session{Sub: info.Sub, Data: data, Expires: h.sessions.Now().Add(lifetime)}
	created, err := h.sessions.Create(ctx, login.SessionID, s)
	if err != nil {
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	if !created {
		return h.fail(w, r, reasonLoginExpired, zapcore.WarnLevel, errors.New("this login was finished at the same time by another request"))
	}
	h.cookies.Set(w, r, h.CookieName, login.SessionID, lifetime)
	setPlaceholders(r, identityPlaceholders(s))
	h.metrics.Login(metrics.Site(r), "ok")
	h.logger.Info("user logged in", zap.String("sub", info.Sub), zap.String("request_id", requestID(r)))
	http.Redirect(w, r, dest, http.StatusFound)
	return nil
}

// errCodeRejected is logged for a callback whose code sgID refused with
// invalid_grant. A browser causes this (a code replayed, expired, or meant
// for another login), so the message carries no hint about credentials.
var errCodeRejected = errors.New("sgID refused the authorization code (invalid_grant): it expired, was already used, or was issued for another login")

// codeRejected reports whether the token exchange failed because sgID
// refused the code, as opposed to refusing the client or failing itself.
func codeRejected(err error) bool {
	var pe *sgid.ProviderError
	return errors.As(err, &pe) && pe.Endpoint == "token" && pe.StatusCode == http.StatusBadRequest && pe.Code() == "invalid_grant"
}

// serveUserinfo answers the logged-in user's sub and data, encoded once per
// opened session, or 401 null.
func serveUserinfo(w http.ResponseWriter, r *http.Request, o *session.Opened, storeErr error) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	if storeErr != nil {
		return writeUnavailable(w)
	}
	if o == nil {
		// JSON null, not an object: sgID's demo SPA treats any JSON object
		// as a logged-in user.
		return writeJSON(w, http.StatusUnauthorized, nil)
	}
	return writeJSONBody(w, http.StatusOK, viewOf(o).userinfo)
}

// serveLogout ends the session that ServeHTTP found for the request's
// cookie. A cookie that names no session costs no store call; when the
// store could not say whether there is one, the logout cannot be confirmed
// and answers 503.
func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request, o *session.Opened, storeErr error) error {
	if r.URL.Query().Has(everywhereParam) {
		return logoutEverywhere(h, w, r, o, storeErr)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(w, "GET, POST")
	}
	if !h.origins.logoutAllowed(r) {
		return writeCrossOrigin(w)
	}
	if storeErr != nil {
		return writeUnavailable(w)
	}
	if o != nil {
		if err := h.sessions.End(r.Context(), o); err != nil {
			return writeUnavailable(w)
		}
		h.metrics.Logout(metrics.Site(r))
		h.logger.Info("user logged out", zap.String("sub", o.Session.Sub), zap.String("request_id", requestID(r)))
	}
	h.cookies.ExpireAll(w, r)
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
// like a plain logout it refuses requests a browser marks cross-site.
// Without a session it ends nothing and still clears this browser's
// cookies.
func logoutEverywhere(h *Handler, w http.ResponseWriter, r *http.Request, o *session.Opened, storeErr error) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, "POST")
	}
	if r.URL.Query().Get(everywhereParam) != "1" {
		return writeError(w, http.StatusBadRequest, "invalid_everywhere", "everywhere takes the value 1.")
	}
	if !h.origins.logoutAllowed(r) {
		return writeCrossOrigin(w)
	}
	if storeErr != nil {
		return writeUnavailable(w)
	}
	ended := 0
	if o != nil {
		n, err := h.sessions.RevokeSub(r.Context(), o.Session.Sub, scopePeers(h)...)
		if err != nil {
			return writeUnavailable(w)
		}
		ended = n
		h.metrics.Logout(metrics.Site(r))
		h.logger.Info("user logged out everywhere", zap.String("sub", o.Session.Sub), zap.Int("sessions", n), zap.String("request_id", requestID(r)))
	}
	h.cookies.ExpireAll(w, r)
	return writeJSON(w, http.StatusOK, struct {
		Ended int `json:"ended"`
	}{ended})
}

// fail logs why a callback failed and sends the browser to the error path
// with a short reason. Errors from the sgid package carry no secrets; the
// request's query (code, state) is never logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, reason string, level zapcore.Level, err error) error {
	h.metrics.Login(metrics.Site(r), reason)
	if ce := h.logger.Check(level, "sgID login failed"); ce != nil {
		ce.Write(zap.String("reason", reason), zap.Error(err), zap.String("request_id", requestID(r)))
	}
	http.Redirect(w, r, h.ErrorPath+"?reason="+url.QueryEscape(reason), http.StatusFound)
	return nil
}

// userView is what the requests of one opened session need, made once
// (see session.Options.Prepare): what the guard hands on, and the body of
// the userinfo route.
type userView struct {
	identity
	userinfo []byte
}

// newUserView makes ready what requests of session s need.
func newUserView(s session.Session, g *Guard) *userView {
	return &userView{identity: g.identityOf(s), userinfo: userinfoJSON(s)}
}

// viewOf is the view the handler's Prepare made for o.
func viewOf(o *session.Opened) *userView { return o.View.(*userView) }

// userinfoJSON is the body of the userinfo route for s: {"sub", "data"},
// with data an object even when empty.
func userinfoJSON(s session.Session) []byte {
	data := s.Data
	if data == nil {
		data = map[string]string{}
	}
	// A map of strings always encodes.
	b, _ := json.Marshal(struct {
		Sub  string            `json:"sub"`
		Data map[string]string `json:"data"`
	}{s.Sub, data})
	return b
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
