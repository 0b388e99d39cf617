package sparoutes

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/navigation"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/respond"
)

// AskLogin answers a protected request that needs a (new) login and
// returns the status it answered: GET and HEAD navigations go to
// loginPage, when there is one, with return_to the path and query first
// asked for; everything else gets 401 with code and the login URL (the
// authURL route with return_to), and text for navigations.
func AskLogin(w http.ResponseWriter, r *http.Request, loginPage, authURL, code, text string) (int, error) {
	nav := navigation.Is(r)
	back := ReturnTo(r)
	if nav && toPage(w, r, loginPage, back) {
		return http.StatusFound, nil
	}
	login := LoginURL(authURL, back)
	if !nav {
		return http.StatusUnauthorized, WriteLoginRequired(w, code, login)
	}
	SetLink(w.Header(), login)
	return http.StatusUnauthorized, respond.Denial(w, nav, http.StatusUnauthorized, code, text)
}

// toPage sends a GET or HEAD page load to page (login_page or
// profile_page), with back as its return_to, and reports true; without a
// page, or for another method, it writes nothing and reports false.
func toPage(w http.ResponseWriter, r *http.Request, page, back string) bool {
	if page == "" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, LoginURL(page, back), http.StatusFound)
	return true
}

// ReturnTo is the path and query the client asked for, before any
// rewrite, or "" when that is not a path on this site.
func ReturnTo(r *http.Request) string {
	back := r.URL.RequestURI()
	if or, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && or.URL != nil {
		back = or.URL.RequestURI()
	}
	if !pathview.IsLocal(back) {
		return ""
	}
	return back
}
