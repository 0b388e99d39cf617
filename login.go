package caddysgid

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-sgid/caddy-sgid/internal/confcheck"
	"github.com/caddy-sgid/caddy-sgid/internal/forward"
	"github.com/caddy-sgid/caddy-sgid/internal/identity"
	"github.com/caddy-sgid/caddy-sgid/internal/jsonurl"
	"github.com/caddy-sgid/caddy-sgid/internal/metrics"
	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// The login routes: auth-url starts a login, the callback finishes it.
// The session manager owns the login's secrets and cookies; these routes
// map HTTP to its operations and its errors to answers.

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

func (h *Handler) serveAuthURL(w http.ResponseWriter, r *http.Request) error {
	// GET only: auth-url and the callback change server state, and HEAD
	// (link previews, prefetchers) must not start or consume a login.
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	req, code, msg := h.loginRequest(r)
	if code != "" {
		return writeError(w, http.StatusBadRequest, code, msg)
	}
	started, err := h.sessions.StartLogin(r.Context(), w, r, req)
	switch {
	case errors.Is(err, session.ErrLoginTooLarge):
		return writeError(w, http.StatusBadRequest, "login_too_large", "return_to and the app parameters are too long to start a login.")
	case err != nil:
		return writeUnavailable(w)
	}
	u, _, err := h.client.AuthorizationURL(sgid.AuthParams{
		State:         started.State,
		Nonce:         started.Nonce,
		CodeChallenge: started.CodeChallenge,
		RedirectURI:   req.RedirectURI,
	})
	if err != nil {
		return serverError(w, r, h.logger, http.StatusInternalServerError, err)
	}
	if h.mock != nil {
		u = mockBrowserURL(u)
	}
	answer := jsonurl.Answer(u)
	defer answer.Release()
	return writeJSONBody(w, http.StatusOK, answer.Bytes())
}

// loginRequest reads auth-url's query: return_to and the app values. A
// query it refuses gives the error code and message to answer 400 with.
func (h *Handler) loginRequest(r *http.Request) (req session.LoginRequest, code, msg string) {
	redirectURI, err := h.cookies.RedirectURI(r, h.RedirectURI, h.CallbackPath)
	if err != nil {
		return req, "invalid_host", "The Host header is not a valid host name and port."
	}
	req.RedirectURI = redirectURI
	if r.URL.RawQuery == "" {
		// url.Query makes a map even for an empty query, and a login is
		// mostly started with none.
		return req, "", ""
	}
	q := r.URL.Query()
	req.ReturnTo = q.Get(sparoutes.ReturnToParam)
	if req.ReturnTo != "" && !pathview.IsLocal(req.ReturnTo) {
		return req, "invalid_return_to", "return_to must be a path on this site."
	}
	for param, key := range h.AppParams {
		v := q.Get(param)
		switch {
		case v == "":
			continue
		case len(v) > maxAppValue:
			return req, "invalid_app_param", "An app parameter is too long."
		case !confcheck.ValidAppValue(v):
			return req, "invalid_app_param", "An app parameter holds a control character or is not UTF-8."
		}
		if req.AppValues == nil {
			req.AppValues = make(map[string]string, len(h.AppParams))
		}
		req.AppValues[key] = v
	}
	return req, "", ""
}

// serveCallback finishes the login whose state sgID sent back.
func (h *Handler) serveCallback(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet {
		return methodNotAllowed(w, "GET")
	}
	ctx := r.Context()
	q := r.URL.Query()
	login, err := h.sessions.PendingLogin(ctx, w, r)
	switch {
	case errors.Is(err, session.ErrLoginReplayed):
		// The browser that finished this login replays its callback (some
		// machines fetch it twice): it lands where it did the first time,
		// with no second call to sgID and no new session.
		http.Redirect(w, r, cmp.Or(login.ReturnTo, h.SuccessPath), http.StatusFound)
		return nil
	case errors.Is(err, session.ErrNoLogin):
		return h.fail(w, r, reasonNoSession, zapcore.InfoLevel, err)
	case errors.Is(err, session.ErrLoginInvalid):
		return h.fail(w, r, reasonStateMismatch, zapcore.WarnLevel, err)
	case errors.Is(err, session.ErrLoginExpired):
		return h.fail(w, r, reasonLoginExpired, zapcore.InfoLevel, err)
	case errors.Is(err, session.ErrLoginFinished):
		return h.fail(w, r, reasonLoginExpired, zapcore.WarnLevel, errors.New("this login was finished before, by another browser or with a copy of its cookie"))
	case errors.Is(err, session.ErrLoginAbandoned):
		e, reason := q.Get("error"), reasonProviderError
		if e == "access_denied" {
			reason = reasonAccessDenied
		}
		return h.fail(w, r, reason, zapcore.InfoLevel, errors.New("sgID answered error="+e[:min(len(e), 64)]))
	case err != nil:
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
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

	var jobs map[string]string // the officer's jobs, kept whatever keep_fields says
	if slices.Contains(h.Scopes, officer.Scope) {
		if jobs, err = officer.Start(info.Data, h.officers, h.KeepFields); err != nil {
			// no_officer_profile, officer_not_allowed, or details unreadable.
			return h.fail(w, r, cmp.Or(officer.Reason(err), reasonUserinfoFailed), zapcore.InfoLevel, err)
		}
	}

	// App values never override what sgID vouched for (Validate keeps their
	// keys out of the scopes' dotted namespace; this holds regardless).
	data := forward.Keep(info.Data, h.KeepFields)
	maps.Copy(data, jobs)
	for k, v := range login.AppValues {
		if _, fromSgID := data[k]; !fromSgID {
			data[k] = v
		}
	}
	s, err := h.sessions.Finish(ctx, w, r, login, session.Session{Sub: info.Sub, Data: data})
	switch {
	case errors.Is(err, session.ErrLoginFinished):
		return h.fail(w, r, reasonLoginExpired, zapcore.WarnLevel, errors.New("this login was finished at the same time by another request"))
	case err != nil:
		return h.fail(w, r, reasonServerError, zapcore.ErrorLevel, err)
	}
	identity.SetPlaceholders(r, s)
	h.metrics.Login(metrics.Site(r), "ok")
	h.logger.Info("user logged in", zap.String("sub", info.Sub), zap.String("request_id", requestID(r)))
	http.Redirect(w, r, cmp.Or(login.ReturnTo, h.SuccessPath), http.StatusFound)
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
