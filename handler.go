package caddysgid

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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
	h.noteNesting(r)
	h.guard.scrubIdentity(r)
	sess, sessKey, hasSession := h.lookupSession(r)
	if hasSession {
		setIdentity(r, sess)
	}
	switch r.URL.Path {
	case h.AuthURLPath:
		return h.serveAuthURL(w, r)
	case h.CallbackPath:
		return h.serveCallback(w, r, sessKey)
	case h.UserinfoPath:
		return h.serveUserinfo(w, r, sess, hasSession)
	case h.LogoutPath:
		return h.serveLogout(w, r, sessKey, sess.Sub)
	}
	if h.mock != nil && strings.HasPrefix(r.URL.Path, mockPrefix+"/") {
		return h.serveMock(w, r)
	}
	if answered, err := h.guard.serve(w, r, sess, hasSession); answered {
		return err
	}
	return next.ServeHTTP(w, r)
}

// lookupSession returns the logged-in session named by the request's cookie, and
// the store key of that cookie (even when no session is found, so the
// callback can drop a stale one).
func (h *Handler) lookupSession(r *http.Request) (session, string, bool) {
	c, err := h.cookie(r, h.CookieName)
	if err != nil || !validID(c.Value) {
		return session{}, "", false
	}
	key := hashID(c.Value)
	s, err := h.store.GetSession(r.Context(), key)
	if err != nil {
		return session{}, key, false
	}
	return s, key, true
}

func (h *Handler) serveAuthURL(w http.ResponseWriter, r *http.Request) error {
	// GET only: auth-url and the callback change server state, and HEAD
	// (link previews, prefetchers) must not start or consume a login.
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	q := r.URL.Query()
	returnTo := q.Get(returnToParam)
	if returnTo != "" && !isLocalPath(returnTo) {
		return writeError(w, http.StatusBadRequest, "invalid_return_to", "return_to must be a path on this site.")
	}
	var app map[string]string
	for param, key := range h.AppParams {
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

	redirectURI, err := h.redirectURI(r)
	if err != nil {
		return writeError(w, http.StatusBadRequest, "invalid_host", "The Host header is not a valid host name and port.")
	}
	verifier, challenge := sgid.GeneratePKCEPair()
	state := newID()
	authURL, nonce, err := h.client.AuthorizationURL(sgid.AuthParams{
		State:         state,
		CodeChallenge: challenge,
		RedirectURI:   redirectURI,
	})
	if err != nil {
		return h.serverError(w, r, http.StatusInternalServerError, err)
	}
	if h.mock != nil {
		authURL = mockBrowserURL(authURL)
	}

	// One login cookie per browser holds the id of its login slot; each tab's
	// login sits in that slot under its own state, so tabs do not clobber
	// each other.
	loginID := ""
	if c, err := h.cookie(r, loginCookieName(h.CookieName)); err == nil && validID(c.Value) {
		loginID = c.Value
	} else {
		loginID = newID()
	}
	expires := h.now().Add(time.Duration(h.LoginTimeout))
	err = h.store.AddPending(r.Context(), hashID(loginID), pendingLogin{
		State:        state,
		CodeVerifier: verifier,
		Nonce:        nonce,
		RedirectURI:  redirectURI,
		ReturnTo:     returnTo,
		AppValues:    app,
		Expires:      expires,
	}, loginsPerBrowser)
	if err != nil {
		return h.serverError(w, r, http.StatusServiceUnavailable, err)
	}
	http.SetCookie(w, h.newCookie(r, loginCookieName(h.CookieName), loginID, time.Duration(h.LoginTimeout)))
	return writeJSON(w, http.StatusOK, struct {
		URL string `json:"url"`
	}{authURL})
}

func (h *Handler) serveCallback(w http.ResponseWriter, r *http.Request, oldSessKey string) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	q := r.URL.Query()
	c, err := h.cookie(r, loginCookieName(h.CookieName))
	if err != nil || !validID(c.Value) {
		return h.fail(w, r, reasonNoSession, zapcore.InfoLevel, errors.New("callback without a login cookie"))
	}
	loginKey := hashID(c.Value)
	state := q.Get("state")
	pending, err := h.store.TakePending(r.Context(), loginKey, state)
	switch {
	case errors.Is(err, errNotFound):
		return h.fail(w, r, reasonLoginExpired, zapcore.InfoLevel, errors.New("no pending login for this browser (expired or already used)"))
	case errors.Is(err, errStateMismatch):
		return h.fail(w, r, reasonStateMismatch, zapcore.WarnLevel, errors.New("state does not match this browser's pending logins"))
	case err != nil:
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	// From here on the pending login is consumed: a replayed callback finds
	// nothing.
	if e := q.Get("error"); e != "" {
		reason := reasonProviderError
		if e == "access_denied" {
			reason = reasonAccessDenied
		}
		return h.fail(w, r, reason, zapcore.InfoLevel, errors.New("sgID answered error="+truncate(e, 64)))
	}
	code := q.Get("code")
	if code == "" {
		return h.fail(w, r, reasonMissingCode, zapcore.InfoLevel, errors.New("callback without a code"))
	}

	tokens, err := h.client.Exchange(r.Context(), sgid.ExchangeParams{
		Code:         code,
		CodeVerifier: pending.CodeVerifier,
		Nonce:        pending.Nonce,
		RedirectURI:  pending.RedirectURI,
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
	info, err := h.client.Userinfo(r.Context(), tokens.Sub, tokens.AccessToken)
	if err != nil {
		return h.fail(w, r, reasonUserinfoFailed, zapcore.ErrorLevel, err)
	}

	// App values never override what sgID vouched for (Validate keeps their
	// keys out of the scopes' dotted namespace; this holds regardless).
	data := info.Data
	for k, v := range pending.AppValues {
		if _, fromSgID := data[k]; !fromSgID {
			data[k] = v
		}
	}
	// A new id for the logged-in session: an id planted before the login
	// (session fixation) never becomes a logged-in one.
	if oldSessKey != "" {
		_ = h.store.DeleteSession(r.Context(), oldSessKey)
	}
	sessID := newID()
	lifetime := time.Duration(h.SessionLifetime)
	if err := h.store.PutSession(r.Context(), hashID(sessID), session{Sub: info.Sub, Data: data, Expires: h.now().Add(lifetime)}); err != nil {
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	http.SetCookie(w, h.newCookie(r, h.CookieName, sessID, lifetime))
	setIdentity(r, session{Sub: info.Sub, Data: data})
	h.metrics.login("ok")
	h.logLogin(r, info.Sub)

	dest := h.SuccessPath
	if pending.ReturnTo != "" {
		dest = pending.ReturnTo
	}
	http.Redirect(w, r, dest, http.StatusFound)
	return nil
}

func (h *Handler) serveUserinfo(w http.ResponseWriter, r *http.Request, s session, ok bool) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(w, "GET, HEAD")
	}
	if !ok {
		// JSON null, not an object: sgID's demo SPA treats any JSON object
		// as a logged-in user.
		return writeJSON(w, http.StatusUnauthorized, nil)
	}
	data := s.Data
	if data == nil {
		data = map[string]string{}
	}
	return writeJSON(w, http.StatusOK, userinfoBody{Sub: s.Sub, Data: data})
}

type userinfoBody struct {
	Sub  string            `json:"sub"`
	Data map[string]string `json:"data"`
}

func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request, sessKey, sub string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(w, "GET, POST")
	}
	// A cross-site page cannot log the user out through a link or form:
	// browsers that send Sec-Fetch-Site say where the request came from.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return writeError(w, http.StatusForbidden, "cross_site", "Logout from another site is refused.")
	}
	if sessKey != "" {
		if err := h.store.DeleteSession(r.Context(), sessKey); err != nil {
			return h.serverError(w, r, http.StatusServiceUnavailable, err)
		}
	}
	if c, err := h.cookie(r, loginCookieName(h.CookieName)); err == nil && validID(c.Value) {
		_ = h.store.DeletePending(r.Context(), hashID(c.Value))
	}
	http.SetCookie(w, h.newCookie(r, h.CookieName, "", -1))
	http.SetCookie(w, h.newCookie(r, loginCookieName(h.CookieName), "", -1))
	h.logLogout(r, sub)
	return writeJSON(w, http.StatusOK, struct{}{})
}

// fail logs why a callback failed and sends the browser to the error path
// with a short reason. Errors from the sgid package carry no secrets; the
// request's query (code, state) is never logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, reason string, level zapcore.Level, err error) error {
	h.metrics.login(reason)
	if ce := h.logger.Check(level, "sgID login failed"); ce != nil {
		ce.Write(zap.String("reason", reason), zap.Error(err), zap.String("request_id", requestID(r)))
	}
	http.Redirect(w, r, h.ErrorPath+"?reason="+url.QueryEscape(reason), http.StatusFound)
	return nil
}

// maxAppValue bounds an app parameter's value kept in a pending login.
const maxAppValue = 256
