package caddysgid

import (
	"context"
	"encoding/json"
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
	opened, sessID, storeErr := h.lookupSession(r)
	var sess session
	hasSession := opened != nil
	if hasSession {
		sess = opened.s
		setPlaceholders(r, opened.placeholders)
	}
	switch r.URL.Path {
	case h.AuthURLPath:
		return h.serveAuthURL(w, r)
	case h.CallbackPath:
		return h.serveCallback(w, r, sessID)
	case h.UserinfoPath:
		return h.serveUserinfo(w, r, opened, storeErr)
	case h.LogoutPath:
		return h.serveLogout(w, r, sessID, sess, hasSession, storeErr)
	}
	if h.mock != nil && strings.HasPrefix(r.URL.Path, mockPrefix+"/") {
		return h.serveMock(w, r)
	}
	if answered, err := h.guard.serve(w, r, opened, storeErr); answered {
		return err
	}
	return next.ServeHTTP(w, r)
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

	// The login travels sealed in a cookie of its own, named after its
	// state, so nothing is kept on the server and each tab's login is
	// found by its own callback.
	timeout := time.Duration(h.LoginTimeout)
	name := pendingCookieName(h.CookieName, state)
	sealed, err := sealPending(r.Context(), h.keys, name, pendingLogin{
		State:        state,
		CodeVerifier: verifier,
		Nonce:        nonce,
		RedirectURI:  redirectURI,
		ReturnTo:     returnTo,
		AppValues:    app,
		Expires:      h.now().Add(timeout).Unix(),
	})
	if err != nil {
		h.storeFailed(r, "sealing_key", err)
		return writeUnavailable(w)
	}
	if len(name)+len(sealed) > maxLoginCookie {
		return writeError(w, http.StatusBadRequest, "login_too_large", "return_to and the app parameters are too long to start a login.")
	}
	h.dropOldLogins(w, r)
	http.SetCookie(w, h.newCookie(r, name, sealed, timeout))
	return writeJSON(w, http.StatusOK, struct {
		URL string `json:"url"`
	}{authURL})
}

func (h *Handler) serveCallback(w http.ResponseWriter, r *http.Request, oldSessID string) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	q := r.URL.Query()
	pending, answered, err := h.takePending(w, r, q.Get("state"))
	if answered {
		return err
	}
	// From here on the login is consumed: a replayed callback, from this
	// browser or with a copy of its cookie, ends as login_expired.
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

	// One deadline for the whole back channel of a login (token, a JWKS
	// fetch or two, userinfo), so a stalled sgID ends the login at
	// provider_timeout rather than after each call's own.
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(h.ProviderTimeout))
	defer cancel()
	tokens, err := h.client.Exchange(ctx, sgid.ExchangeParams{
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
	info, err := h.client.Userinfo(ctx, tokens.Sub, tokens.AccessToken)
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
	if oldSessID != "" {
		_ = h.deleteSession(r.Context(), oldSessID)
	}
	lifetime := time.Duration(h.SessionLifetime)
	sessID, err := h.putSession(r.Context(), session{Sub: info.Sub, Data: data, Expires: h.now().Add(lifetime)})
	if err != nil {
		h.storeFailed(r, "put", err)
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	http.SetCookie(w, h.newCookie(r, h.CookieName, sessID, lifetime))
	setIdentity(r, session{Sub: info.Sub, Data: data})
	h.metrics.login(siteOf(r), "ok")
	h.logLogin(r, info.Sub)

	dest := h.SuccessPath
	if pending.ReturnTo != "" {
		dest = pending.ReturnTo
	}
	http.Redirect(w, r, dest, http.StatusFound)
	return nil
}

// serveUserinfo answers the logged-in user's sub and data, encoded once per
// opened session (see openedSession), or 401 null.
func (h *Handler) serveUserinfo(w http.ResponseWriter, r *http.Request, o *openedSession, storeErr error) error {
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
	return writeJSONBody(w, http.StatusOK, o.userinfo)
}

// userinfoJSON is the body of /api/userinfo for s: {"sub", "data"}, with
// data an object even when empty.
func userinfoJSON(s session) []byte {
	data := s.Data
	if data == nil {
		data = map[string]string{}
	}
	// A map of strings always encodes.
	b, _ := json.Marshal(userinfoBody{Sub: s.Sub, Data: data})
	return b
}

type userinfoBody struct {
	Sub  string            `json:"sub"`
	Data map[string]string `json:"data"`
}

// serveLogout ends the session that ServeHTTP found for the request's
// cookie. A cookie that names no session costs no store call; when the
// store could not say whether there is one, the logout cannot be confirmed
// and answers 503.
func (h *Handler) serveLogout(w http.ResponseWriter, r *http.Request, sessID string, s session, hasSession bool, storeErr error) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return methodNotAllowed(w, "GET, POST")
	}
	// A cross-site page cannot log the user out through a link or form:
	// browsers that send Sec-Fetch-Site say where the request came from.
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return writeError(w, http.StatusForbidden, "cross_site", "Logout from another site is refused.")
	}
	if storeErr != nil {
		return writeUnavailable(w)
	}
	if hasSession {
		if err := h.endSession(r.Context(), h.store, sessionKey(sessID), s.Sub, true); err != nil {
			h.storeFailed(r, "delete", err)
			return writeUnavailable(w)
		}
		h.metrics.logout(siteOf(r))
		h.logLogout(r, s.Sub)
	}
	http.SetCookie(w, h.newCookie(r, h.CookieName, "", -1))
	for _, c := range r.Cookies() {
		if base, ok := h.isPendingCookie(r, c); ok {
			http.SetCookie(w, h.newCookie(r, base, "", -1))
		}
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

// fail logs why a callback failed and sends the browser to the error path
// with a short reason. Errors from the sgid package carry no secrets; the
// request's query (code, state) is never logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, reason string, level zapcore.Level, err error) error {
	h.metrics.login(siteOf(r), reason)
	if ce := h.logger.Check(level, "sgID login failed"); ce != nil {
		ce.Write(zap.String("reason", reason), zap.Error(err), zap.String("request_id", requestID(r)))
	}
	http.Redirect(w, r, h.ErrorPath+"?reason="+url.QueryEscape(reason), http.StatusFound)
	return nil
}

// Bounds on what auth-url puts in a login cookie, so that it stays under
// the 4096 bytes browsers keep of a cookie.
const (
	// maxAppValue bounds an app parameter's value.
	maxAppValue = 256
	// maxAppParams bounds the app parameters a config may declare.
	maxAppParams = 4
	// maxLoginCookie bounds a login cookie's name and value together.
	maxLoginCookie = 4000
)
