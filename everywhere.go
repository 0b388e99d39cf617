package caddysgid

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

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
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return writeError(w, http.StatusForbidden, "cross_site", "Logout from another site is refused.")
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
		h.metrics.logout(siteOf(r))
		h.logger.Info("user logged out everywhere", zap.String("sub", o.Session.Sub), zap.Int("sessions", n), zap.String("request_id", requestID(r)))
	}
	expireCookies(w, r, h.cookies)
	return writeJSON(w, http.StatusOK, struct {
		Ended int `json:"ended"`
	}{ended})
}

// expireCookies deletes the browser's session cookie and login cookies.
func expireCookies(w http.ResponseWriter, r *http.Request, j cookieJar) {
	http.SetCookie(w, j.make(r, j.name, "", -1))
	for _, c := range r.Cookies() {
		if base, ok := j.loginBase(r, c); ok {
			http.SetCookie(w, j.make(r, base, "", -1))
		}
	}
}

// scopePeers are the session managers of the other live handlers of h's
// scope (an older config during a reload, another site with the same
// client), so that a revocation through h also drops their cached copies.
func scopePeers(h *Handler) []*session.Manager {
	live.mu.Lock()
	defer live.mu.Unlock()
	var out []*session.Manager
	for other := range live.handlers {
		if other != h && other.scope == h.scope && other.sessions != nil {
			out = append(out, other.sessions)
		}
	}
	return out
}
