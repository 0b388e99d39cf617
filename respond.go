package caddysgid

import (
	"context"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/respond"
)

// The handler's JSON answers are internal/respond's, shared with the route
// packages below the handler; these are their names here.

// writeJSON answers v as JSON, not cached, not sniffed.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	if err := respond.JSON(w, status, v); err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	return nil
}

// writeJSONBody answers status with body, already encoded JSON.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) error {
	return respond.JSONBody(w, status, body)
}

// writeError answers an error of the handler's own routes with
// {"error": code, "message": message}. The handler writes these answers
// itself rather than returning a caddyhttp.Error: Caddy answers a returned
// error with an empty body unless the site has handle_errors, and the SPA
// calling these routes with fetch needs a body it can read.
func writeError(w http.ResponseWriter, status int, code, message string) error {
	return respond.Error(w, status, code, message)
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	return respond.MethodNotAllowed(w, allow)
}

// serverError logs an internal failure at ERROR, as Caddy would log a
// returned error, and answers status with a JSON error that does not
// repeat the cause.
func serverError(w http.ResponseWriter, r *http.Request, logger *zap.Logger, status int, err error) error {
	logger.Error("sgid request failed", zap.Int("status", status), zap.Error(err), zap.String("request_id", requestID(r)))
	code, msg := "server_error", "The login service failed; try again later."
	if status == http.StatusServiceUnavailable {
		code, msg = "unavailable", "The login service is unavailable; try again later."
	}
	return writeError(w, status, code, msg)
}

// writeDenial answers {"error": code} to API calls and a line of text to
// navigations (respond.Denial).
func writeDenial(w http.ResponseWriter, navigation bool, status int, code, text string) error {
	return respond.Denial(w, navigation, status, code, text)
}

// writeUnavailable answers 503 while the store cannot be reached.
func writeUnavailable(w http.ResponseWriter) error { return respond.Unavailable(w) }

// requestID returns Caddy's request id placeholder, if set, so log lines
// can be tied to the access log without logging anything personal.
func requestID(r *http.Request) string { return requestIDFromContext(r.Context()) }

func requestIDFromContext(ctx context.Context) string {
	if repl, ok := ctx.Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		if v, ok := repl.GetString("http.request.uuid"); ok {
			return v
		}
	}
	return ""
}
