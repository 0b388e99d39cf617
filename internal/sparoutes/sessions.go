package sparoutes

import (
	"net/http"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/respond"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// SessionsName is the name of the user's list of sessions in the folder of
// the routes; one session is ended at SessionsName/<handle>.
const SessionsName = "sessions"

// Sessions is the sessions route's answer.
type Sessions struct {
	// Sessions are the user's, this browser's first, then the most
	// recently used first.
	Sessions []Listed `json:"sessions"`
	// Truncated is set when the user has more sessions than
	// session.MaxListed and some are left out.
	Truncated bool `json:"truncated"`
}

// Listed is one session in the list. Times are Unix seconds, to the
// minute.
type Listed struct {
	// Handle names the session to end it: opaque, the same on every
	// instance, never the cookie.
	Handle string `json:"handle"`
	// Created is the login; null for a session made before sessions
	// were listed (another browser's).
	Created *int64 `json:"created"`
	// LastSeen is the last recorded use (see session.Entry); null when
	// Created is.
	LastSeen *int64 `json:"last_seen"`
	// Device is the coarse label of the browser ("Chrome on macOS").
	Device string `json:"device"`
	// Current is set for the session of this request.
	Current bool `json:"current"`
}

// listSessions answers the user's sessions: 401 login_required without a
// session, 503 when the store cannot say. It counts as a use of the
// session, as any request of the user does.
func (rt *Routes) listSessions(w http.ResponseWriter, r *http.Request) error {
	m := rt.cfg.Sessions
	o, err := m.Lookup(r.Context(), r)
	if err != nil {
		return respond.Unavailable(w)
	}
	if o == nil {
		return WriteLoginRequired(w, "login_required", LoginURL(rt.cfg.AuthURLPath, ""))
	}
	entries, more, err := m.List(r.Context(), o)
	if err != nil {
		return respond.Unavailable(w)
	}
	out := Sessions{Sessions: make([]Listed, len(entries)), Truncated: more}
	for i, e := range entries {
		out.Sessions[i] = Listed{Handle: e.Handle, Created: unixOrNull(e.Created), LastSeen: unixOrNull(e.LastSeen), Device: e.Device, Current: e.Current}
	}
	return respond.JSON(w, http.StatusOK, out)
}

// unixOrNull is t in Unix seconds, or nil when t is zero.
func unixOrNull(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

// endSession ends the user's session that handle names and answers
// {"ended": 1}: 404 not_found when no session of the user has that handle
// (another user's handle included, which ends nothing), 401 without a
// session, 503 when the store cannot say. The caller has checked the
// method and the origin. When the session ended is this browser's own, its
// cookies are expired as at logout.
func (rt *Routes) endSession(w http.ResponseWriter, r *http.Request, handle string) error {
	m := rt.cfg.Sessions
	o, err := m.Lookup(r.Context(), r)
	if err != nil {
		return respond.Unavailable(w)
	}
	if o == nil {
		return WriteLoginRequired(w, "login_required", LoginURL(rt.cfg.AuthURLPath, ""))
	}
	n, err := m.Revoke(r.Context(), session.OneSession(o.Session.Sub, handle))
	if err != nil {
		return respond.Unavailable(w)
	}
	if n == 0 {
		return respond.Error(w, http.StatusNotFound, "not_found", "No session of yours has this handle.")
	}
	// Whether the session ended was this one: the handle is not compared
	// here (the Manager alone derives handles), the session is looked up
	// again. Gone, its cookies go too; a store that cannot say leaves
	// them, and the next request finds no session.
	if still, err := m.Lookup(r.Context(), r, session.Peek); err == nil && still == nil {
		_ = m.Logout(r.Context(), w, r, nil) // no session to end: it only expires cookies
	}
	return respond.JSON(w, http.StatusOK, struct {
		Ended int `json:"ended"`
	}{n})
}
