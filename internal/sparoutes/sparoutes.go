// Package sparoutes serves the routes a single-page app follows its session
// with (docs/spa.md): the session route and its extension, the client
// module sgid.js and the login window (from internal/spaclient), the way
// back to a login that a 401 carries, and the officer profile routes with
// the guard's answer while a profile is to be chosen (docs/officers.md).
//
// The routes live in the folder of the auth-url route: with the default
// /api/auth-url, /api/sgid.js, /api/sgid.<hash>.js, /api/sgid-popup.js
// (and its hashed name), /api/login-popup, and the user's list of sessions
// /api/sessions with /api/sessions/<handle> to end one. The session route
// has a path of its own (session_path), its extension that path +
// "/extend".
package sparoutes

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/caddy-sgid/caddy-sgid/internal/respond"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/spaclient"
)

// Config is what the routes need of the handler.
type Config struct {
	// AuthURLPath is the auth-url route: the routes live in its folder,
	// and a login URL is it with return_to.
	AuthURLPath string
	// LogoutPath is the logout route, told to the page.
	LogoutPath string
	// SessionPath is the session route; its extension is under it.
	SessionPath string
	// Sessions looks the session up, lists the user's sessions and ends
	// one.
	Sessions *session.Manager
	// SameOrigin reports whether a write came from a page of this site.
	SameOrigin func(*http.Request) bool
	// ProfilesPath is the officer profiles' route (see profiles.go), or ""
	// for none: a handler that asks for no officer details leaves the
	// path to the app.
	ProfilesPath string
	// KeepFields is keep_fields: the chosen job's officer.* fields that a
	// session keeps (nil: every one).
	KeepFields []string
}

// Routes serves the routes of a Config.
type Routes struct {
	cfg                          Config
	dir, extend, popup, sessions string
	// profile is the folder of the choice route, ProfilesPath + "/", or
	// "" without profile routes.
	profile string
	page    []byte
}

// PopupName is the login window page's name in the folder of the routes.
const PopupName = "login-popup"

// New returns the routes of c.
func New(c Config) *Routes {
	dir := folder(c.AuthURLPath)
	rt := &Routes{cfg: c, dir: dir, extend: c.SessionPath + "/extend", popup: dir + PopupName, sessions: dir + SessionsName}
	if c.ProfilesPath != "" {
		rt.profile = c.ProfilesPath + "/"
	}
	rt.page = spaclient.PopupPage(c.AuthURLPath, dir+spaclient.Popup.Versioned)
	return rt
}

// folder is the folder of authURLPath, ending in a slash.
func folder(authURLPath string) string {
	dir := path.Dir(authURLPath)
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	return dir
}

// Paths are the exact paths of the routes of c, for the configuration's
// check that no two routes share one.
func Paths(c Config) map[string]string {
	dir := folder(c.AuthURLPath)
	paths := map[string]string{
		"session_path":         c.SessionPath,
		"session_path /extend": c.SessionPath + "/extend",
		PopupName:              dir + PopupName,
		SessionsName:           dir + SessionsName,
		spaclient.Client.Name:  dir + spaclient.Client.Name,
		spaclient.Popup.Name:   dir + spaclient.Popup.Name,
	}
	if c.ProfilesPath != "" {
		paths["profiles_path"] = c.ProfilesPath
	}
	return paths
}

// Serve answers r when its path is one of the routes and reports true;
// otherwise it writes nothing and reports false. A nil Routes serves
// nothing.
func (rt *Routes) Serve(w http.ResponseWriter, r *http.Request) (bool, error) {
	if rt == nil {
		return false, nil
	}
	switch p := r.URL.Path; {
	case p == rt.cfg.SessionPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return true, respond.MethodNotAllowed(w, "GET, HEAD")
		}
		return true, rt.answer(w, r, session.Peek)
	case p == rt.extend:
		if r.Method != http.MethodPost {
			return true, respond.MethodNotAllowed(w, "POST")
		}
		if !rt.cfg.SameOrigin(r) {
			return true, respond.CrossOrigin(w)
		}
		return true, rt.answer(w, r, session.Extend)
	case p == rt.popup:
		spaclient.ServePage(w, r, rt.page)
		return true, nil
	case rt.profile != "" && p == rt.cfg.ProfilesPath:
		return true, rt.serveProfiles(w, r, "", true)
	case rt.profile != "" && strings.HasPrefix(p, rt.profile):
		return true, rt.serveProfiles(w, r, p[len(rt.profile):], false)
	case p == rt.sessions:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return true, respond.MethodNotAllowed(w, "GET, HEAD")
		}
		return true, rt.listSessions(w, r)
	case len(p) > len(rt.sessions) && p[len(rt.sessions)] == '/' && strings.HasPrefix(p, rt.sessions):
		if r.Method != http.MethodDelete {
			return true, respond.MethodNotAllowed(w, "DELETE")
		}
		if !rt.cfg.SameOrigin(r) {
			return true, respond.CrossOrigin(w)
		}
		return true, rt.endSession(w, r, p[len(rt.sessions)+1:])
	case strings.HasPrefix(p, rt.dir) && !strings.Contains(p[len(rt.dir):], "/"):
		return spaclient.Serve(w, r, p[len(rt.dir):]), nil
	}
	return false, nil
}

// State is the session route's answer. Times are Unix seconds; all but
// active and the URLs are null without a session, idle_expires_at also
// without an idle timeout.
type State struct {
	Active        bool    `json:"active"`
	Sub           *string `json:"sub"`
	AuthTime      *int64  `json:"auth_time"`
	ExpiresAt     *int64  `json:"expires_at"`
	IdleExpiresAt *int64  `json:"idle_expires_at"`
	LoginURL      string  `json:"login_url"`
	LogoutURL     string  `json:"logout_url"`
}

// answer looks the session up as use says and answers its State: 200, but
// 401 login_required for an extension without a session, and 503 when the
// store cannot say.
func (rt *Routes) answer(w http.ResponseWriter, r *http.Request, use session.Use) error {
	o, err := rt.cfg.Sessions.Lookup(r.Context(), r, use)
	if err != nil {
		return respond.Unavailable(w)
	}
	login := LoginURL(rt.cfg.AuthURLPath, "")
	if o == nil && use == session.Extend {
		return WriteLoginRequired(w, "login_required", login)
	}
	var v stateValues
	buf := stateBufs.Get().(*[]byte)
	*buf = appendState((*buf)[:0], stateOf(o, login, rt.cfg.LogoutPath, &v))
	err = respond.JSONBody(w, http.StatusOK, *buf)
	if cap(*buf) <= maxKeptState {
		stateBufs.Put(buf)
	}
	return err
}

// stateValues hold what a State's pointers point to, so that a State made
// for one answer costs no allocation.
type stateValues struct {
	sub                                string
	authTime, expiresAt, idleExpiresAt int64
}

// stateOf is the State of o (nil: no session), pointing into v.
func stateOf(o *session.Opened, login, logout string, v *stateValues) State {
	st := State{LoginURL: login, LogoutURL: logout}
	if o == nil {
		return st
	}
	s := &o.Session
	v.sub, v.expiresAt = s.Sub, s.Expires.Unix()
	st.Active, st.Sub, st.ExpiresAt = true, &v.sub, &v.expiresAt
	if !s.Login.IsZero() {
		v.authTime = s.Login.Unix()
		st.AuthTime = &v.authTime
	}
	if !o.IdleUntil.IsZero() {
		v.idleExpiresAt = o.IdleUntil.Unix()
		st.IdleExpiresAt = &v.idleExpiresAt
	}
	return st
}

// ReturnToParam is auth-url's query parameter of the page to come back
// to, which login_page is handed on too.
const ReturnToParam = "return_to"

// LoginURL is page (the auth-url route, or login_page, which may carry a
// query of its own) with back (a local path and query, or "" for none)
// added as its return_to.
func LoginURL(page, back string) string {
	if back == "" {
		return page
	}
	sep := "?"
	if strings.Contains(page, "?") {
		sep = "&"
	}
	return page + sep + ReturnToParam + "=" + url.QueryEscape(back)
}

// SetLink adds the login URL to h as a Link with rel="login".
func SetLink(h http.Header, loginURL string) {
	h.Add("Link", "<"+loginURL+`>; rel="login"`)
}

// WriteLoginRequired answers 401 {"error": code, "login_url": loginURL}
// with the Link header.
func WriteLoginRequired(w http.ResponseWriter, code, loginURL string) error {
	SetLink(w.Header(), loginURL)
	return respond.JSON(w, http.StatusUnauthorized, struct {
		Error    string `json:"error"`
		LoginURL string `json:"login_url"`
	}{code, loginURL})
}
