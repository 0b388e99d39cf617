package caddysgid

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// returnToParam is the auth-url query parameter naming the same-origin path
// to land on after the login.
const returnToParam = "return_to"

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
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
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
func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, status int, err error) error {
	h.logger.Error("sgid request failed", zap.Int("status", status), zap.Error(err), zap.String("request_id", requestID(r)))
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

// isLocalPath accepts only a path on this origin: one leading slash, no
// scheme or host, no backslash (browsers read "/\evil" as "//evil"), no
// control characters.
func isLocalPath(p string) bool {
	if p == "" || len(p) > 2048 || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}

// requestID returns Caddy's request id placeholder, if set, so log lines
// can be tied to the access log without logging anything personal.
func requestID(r *http.Request) string {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		if v, ok := repl.GetString("http.request.uuid"); ok {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
