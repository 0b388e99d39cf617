package caddysgid

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// writeJSON answers v as JSON. The answers hold user data or login state,
// so no cache may keep them, and nosniff keeps a browser from reading one
// as HTML or script whatever it holds.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	return writeJSONBody(w, status, body)
}

// writeJSONBody answers status with body, already encoded JSON, and the
// headers of every JSON answer: not cached, not sniffed as another type.
func writeJSONBody(w http.ResponseWriter, status int, body []byte) error {
	// The three values share one array, each slice capped at its own
	// element so an append to one cannot reach another.
	vals := [...]string{"application/json", "no-store", "nosniff"}
	hdr := w.Header()
	hdr["Content-Type"] = vals[0:1:1]
	hdr["Cache-Control"] = vals[1:2:2]
	hdr["X-Content-Type-Options"] = vals[2:3:3]
	w.WriteHeader(status)
	_, err := w.Write(body)
	return err
}

// errorBody is the JSON body of every error the handler answers itself:
// a stable code for programs and a sentence for people.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeError answers an error of the handler's own routes with
// {"error": code, "message": message}. The handler writes these answers
// itself rather than returning a caddyhttp.Error: Caddy answers a returned
// error with an empty body unless the site has handle_errors, and the SPA
// calling these routes with fetch needs a body it can read. The message
// never holds a value from the request.
func writeError(w http.ResponseWriter, status int, code, message string) error {
	return writeJSON(w, status, errorBody{Error: code, Message: message})
}

func methodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "This route takes "+allow+" only.")
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
// navigations. There is no WWW-Authenticate: no standard scheme fits a
// cookie login, and Basic would make browsers prompt for a password.
func writeDenial(w http.ResponseWriter, navigation bool, status int, code, text string) error {
	if !navigation {
		return writeJSON(w, status, struct {
			Error string `json:"error"`
		}{code})
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err := io.WriteString(w, strconv.Itoa(status)+" "+http.StatusText(status)+": "+text+"\n")
	return err
}

// writeUnavailable answers a request that needs the session store while it
// cannot be reached: 503, not 401, so nobody is told "logged out" when
// they are not.
func writeUnavailable(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "5")
	return writeError(w, http.StatusServiceUnavailable, "store_unavailable", "The session store cannot be reached; try again shortly.")
}

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
