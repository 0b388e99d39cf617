package sparoutes

import (
	"errors"
	"net/http"

	"github.com/caddy-sgid/caddy-sgid/internal/navigation"
	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/respond"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// The officer profile routes (docs/officers.md): with the scope
// pocdex.public_officer_details, a session keeps the jobs the officer may
// act as (internal/officer). GET profiles_path lists them with opaque
// ids; POST profiles_path/<id> chooses one, or another one later, with no
// new login. While a session with several jobs has none chosen, the guard
// answers its protected requests with ProfileRequired.

// Profiles is the answer of both profile routes: the session's jobs, each
// with its id, and the id of the one chosen (null while none is).
type Profiles struct {
	Profiles []officer.Entry `json:"profiles"`
	Chosen   *string         `json:"chosen"`
}

// serveProfiles answers the list (id "" and list true) or the choice of
// the job id.
func (rt *Routes) serveProfiles(w http.ResponseWriter, r *http.Request, id string, list bool) error {
	if list && r.Method != http.MethodGet && r.Method != http.MethodHead {
		return respond.MethodNotAllowed(w, "GET, HEAD")
	}
	if !list {
		if r.Method != http.MethodPost {
			return respond.MethodNotAllowed(w, "POST")
		}
		// A page of another site must not choose whom the user acts as.
		if !rt.cfg.SameOrigin(r) {
			return respond.CrossOrigin(w)
		}
	}
	o, err := rt.cfg.Sessions.Lookup(r.Context(), r)
	if err != nil {
		return respond.Unavailable(w)
	}
	if o == nil {
		return WriteLoginRequired(w, "login_required", LoginURL(rt.cfg.AuthURLPath, ""))
	}
	jobs, ok := officer.Read(o.Session.Data)
	if !ok {
		return respond.Error(w, http.StatusNotFound, "no_profiles", "This session has no public officer profiles to choose from.")
	}
	key, err := officer.SessionKey(o.ID)
	if err != nil {
		return respond.Unavailable(w)
	}
	if list {
		return respond.JSON(w, http.StatusOK, profilesOf(jobs, key))
	}
	next, _, ok := officer.Choose(o.Session.Data, id, key, rt.cfg.KeepFields)
	if !ok {
		return respond.Error(w, http.StatusNotFound, "unknown_profile", "This session has no profile with that id; list them again.")
	}
	if next[officer.ChosenKey] == o.Session.Data[officer.ChosenKey] {
		// Chosen already: nothing changes, not even the session's id.
		return respond.JSON(w, http.StatusOK, profilesOf(jobs, key))
	}
	o, err = rt.cfg.Sessions.Amend(r.Context(), w, r, o, next)
	if errors.Is(err, session.ErrSessionGone) {
		return respond.Error(w, http.StatusConflict, "session_changed", "The session ended or changed while the profile was chosen; list the profiles again.")
	}
	if err != nil {
		return respond.Unavailable(w)
	}
	// The session has a new id, and so its jobs new ids.
	if key, err = officer.SessionKey(o.ID); err != nil {
		return respond.Unavailable(w)
	}
	jobs, _ = officer.Read(o.Session.Data)
	return respond.JSON(w, http.StatusOK, profilesOf(jobs, key))
}

// profilesOf is the answer for jobs under key.
func profilesOf(jobs officer.Jobs, key []byte) Profiles {
	out := Profiles{Profiles: officer.List(jobs.Profiles, key)}
	if jobs.Chosen >= 0 {
		out.Chosen = &out.Profiles[jobs.Chosen].ID
	}
	return out
}

// ProfileRequired answers a request to a protected path of a session
// whose job is not chosen yet: a GET or HEAD page load goes (302) to page,
// profile_page, with back (the local path and query asked for, or "") as
// its return_to, when page is set; every other request gets 409
// profile_required: for an API call {"error", "message", "profiles_url"},
// with profilesURL, the list route; for a page load a line of text.
func ProfileRequired(w http.ResponseWriter, r *http.Request, page, profilesURL, back string) (int, error) {
	nav := navigation.Is(r)
	if nav && toPage(w, r, page, back) {
		return http.StatusFound, nil
	}
	const text = "Choose the public officer profile to act as."
	if nav {
		return http.StatusConflict, respond.Denial(w, true, http.StatusConflict, "profile_required", text)
	}
	return http.StatusConflict, respond.JSON(w, http.StatusConflict, struct {
		Error       string `json:"error"`
		Message     string `json:"message"`
		ProfilesURL string `json:"profiles_url"`
	}{"profile_required", text, profilesURL})
}
