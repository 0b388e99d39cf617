// Package respond writes the JSON answers of the sgid handler and of the
// route packages below it, so every route answers in one shape: not
// cached, not sniffed, and errors as {"error": code, "message": text},
// where the text never holds a value from the request.
package respond

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// JSON answers v as JSON (see JSONBody).
func JSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return JSONBody(w, status, body)
}

// JSONBody answers status with body, already encoded JSON, and the headers
// of every JSON answer: the answers hold user data or login state, so no
// cache may keep them, and nosniff keeps a browser from reading one as
// HTML or script whatever it holds.
func JSONBody(w http.ResponseWriter, status int, body []byte) error {
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

// Error answers {"error": code, "message": message}.
func Error(w http.ResponseWriter, status int, code, message string) error {
	return JSON(w, status, errorBody{Error: code, Message: message})
}

// MethodNotAllowed answers 405 with the methods the route takes.
func MethodNotAllowed(w http.ResponseWriter, allow string) error {
	w.Header().Set("Allow", allow)
	return Error(w, http.StatusMethodNotAllowed, "method_not_allowed", "This route takes "+allow+" only.")
}

// Unavailable answers a request that needs the session store while it
// cannot be reached: 503, not 401, so nobody is told "logged out" when
// they are not.
func Unavailable(w http.ResponseWriter) error {
	w.Header().Set("Retry-After", "5")
	return Error(w, http.StatusServiceUnavailable, "store_unavailable", "The session store cannot be reached; try again shortly.")
}

// CrossOrigin answers a write that another origin's page sent.
func CrossOrigin(w http.ResponseWriter) error {
	return Error(w, http.StatusForbidden, "cross_origin", "This request must come from a page of this site.")
}

// Denial answers a request the guard refuses: {"error": code} to an API
// call, a line of text to a page load (navigation), which a person reads.
// There is no WWW-Authenticate: no standard scheme fits a cookie login,
// and Basic would make browsers prompt for a password.
func Denial(w http.ResponseWriter, navigation bool, status int, code, text string) error {
	if !navigation {
		return JSON(w, status, struct {
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
