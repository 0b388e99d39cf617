package caddysgid

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// What the handler logs about logins, so an operator can audit them
// without an access log: a login and a logout at INFO with the user's sub
// (pairwise and opaque, but it identifies the user to the operator) and
// Caddy's request id, and nothing else about the user.

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

// logLogin records a successful login.
func (h *Handler) logLogin(r *http.Request, sub string) {
	h.logger.Info("user logged in", zap.String("sub", sub), zap.String("request_id", requestID(r)))
}

// logLogout records the end of a session; a logout call without one (which
// anyone can send) is not logged.
func (h *Handler) logLogout(r *http.Request, sub string) {
	if sub == "" {
		return
	}
	h.logger.Info("user logged out", zap.String("sub", sub), zap.String("request_id", requestID(r)))
}
