package sparoutes

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/sessiontest"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// threeJobs is sgID's value of an officer with three jobs, the first
// email in mixed case.
const threeJobs = `[{"agency_name":"EXAMPLE AGENCY","department_name":"DIGITAL SERVICES","employment_title":"PRODUCT MANAGER","employment_type":"PERMANENT","work_email":"Goh@Example-Agency.gov.sg"},` +
	`{"agency_name":"EXAMPLE AGENCY","department_name":"POLICY OFFICE","employment_title":"DEPUTY DIRECTOR","employment_type":"FIXED TERM","work_email":"goh@policy.example-agency.gov.sg"},` +
	`{"agency_name":"SAMPLE BOARD","department_name":"NA","employment_title":"ADVISOR","employment_type":"CONTRACT","work_email":"goh@sample-board.example"}]`

// profileRoutes are the routes with profiles_path on a fresh memory store.
func profileRoutes(t *testing.T, keep []string) (*Routes, *session.Manager) {
	t.Helper()
	st, err := (&store.Memory{}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m := session.New(session.Options{Store: st, LoginTimeout: 10 * time.Minute, KeyRotation: time.Hour, Cookies: cookie.Jar{Name: cookieName}, Lifetime: time.Hour})
	t.Cleanup(m.Close)
	return New(Config{
		AuthURLPath:  "/api/auth-url",
		LogoutPath:   "/api/logout",
		SessionPath:  "/api/session",
		Sessions:     m,
		SameOrigin:   func(r *http.Request) bool { return r.Header.Get("Sec-Fetch-Site") != "cross-site" },
		ProfilesPath: "/api/profiles",
		KeepFields:   keep,
	}), m
}

// officerSession stores the session of an officer with raw as sgID's
// details, as a login would, and returns its id.
func officerSession(t *testing.T, m *session.Manager, raw string, keep []string) string {
	t.Helper()
	data := map[string]string{"myinfo.name": "GOH MEI LING"}
	if raw != "" {
		jobs, err := officer.Start(map[string]string{officer.Scope: raw}, nil, keep)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range jobs {
			data[k] = v
		}
	}
	id, err := sessiontest.Put(t.Context(), m, session.Session{Sub: "goh", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// call sends method path with the session id (none for "") and header
// pairs, and returns the answer.
func call(t *testing.T, rt *Routes, method, path, id string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if id != "" {
		r.AddCookie(&http.Cookie{Name: cookieName, Value: id})
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	served, err := rt.Serve(w, r)
	if err != nil || !served {
		t.Fatalf("%s %s: served %v, %v", method, path, served, err)
	}
	return w
}

// listed decodes a profile answer.
func listed(t *testing.T, w *httptest.ResponseRecorder) Profiles {
	t.Helper()
	var p Profiles
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &p) != nil {
		t.Fatalf("answer %d %s", w.Code, w.Body)
	}
	return p
}

// newCookie is the session id w sets, or "".
func newCookie(w *httptest.ResponseRecorder) string {
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName && c.MaxAge > 0 {
			return c.Value
		}
	}
	return ""
}

func dataOf(t *testing.T, m *session.Manager, id string) map[string]string {
	t.Helper()
	o, err := sessiontest.Lookup(t.Context(), m, cookieName, id)
	if err != nil || o == nil {
		t.Fatalf("no session for the id: %v", err)
	}
	return o.Session.Data
}

// The list: every job with its id and sgID's five fields, the email
// lower-cased, and chosen null while none is; the exact keys, since the
// picker reads them.
func TestProfilesList(t *testing.T) {
	t.Parallel()
	rt, m := profileRoutes(t, nil)
	id := officerSession(t, m, threeJobs, nil)
	w := call(t, rt, http.MethodGet, "/api/profiles", id)
	var raw struct {
		Profiles []map[string]string `json:"profiles"`
		Chosen   *string             `json:"chosen"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &raw); err != nil || w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"chosen":null`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if len(raw.Profiles) != 3 || raw.Chosen != nil {
		t.Fatalf("%s", w.Body)
	}
	for _, p := range raw.Profiles {
		if len(p) != 6 || len(p["id"]) != 22 {
			t.Errorf("entry %v, want id and the five fields", p)
		}
	}
	if raw.Profiles[0]["work_email"] != "goh@example-agency.gov.sg" || raw.Profiles[2]["department_name"] != "" {
		t.Errorf("entries %v", raw.Profiles)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("the list may be cached")
	}
	if h := call(t, rt, http.MethodHead, "/api/profiles", id); h.Code != http.StatusOK {
		t.Errorf("HEAD: %d", h.Code)
	}
}

// Without a session: 401 with the way to log in; a session without jobs
// (not an officer): 404 no_profiles.
func TestProfilesWithoutJobs(t *testing.T) {
	t.Parallel()
	rt, m := profileRoutes(t, nil)
	if w := call(t, rt, http.MethodGet, "/api/profiles", ""); w.Code != http.StatusUnauthorized || w.Body.String() != `{"error":"login_required","login_url":"/api/auth-url"}` {
		t.Errorf("no session: %d %s", w.Code, w.Body)
	}
	if w := call(t, rt, http.MethodPost, "/api/profiles/AAAAAAAAAAAAAAAAAAAAAA", session.NewID()); w.Code != http.StatusUnauthorized {
		t.Errorf("choice without a session: %d %s", w.Code, w.Body)
	}
	plain := officerSession(t, m, "", nil)
	if w := call(t, rt, http.MethodGet, "/api/profiles", plain); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"error":"no_profiles"`) {
		t.Errorf("no jobs: %d %s", w.Code, w.Body)
	}
}

// Choosing a job moves the session to a new id whose data holds that
// job's fields; the old id is gone; choosing another later needs no new
// login; choosing the chosen one again changes nothing.
func TestProfilesChooseAndSwitch(t *testing.T) {
	t.Parallel()
	rt, m := profileRoutes(t, nil)
	id := officerSession(t, m, threeJobs, nil)
	list := listed(t, call(t, rt, http.MethodGet, "/api/profiles", id))

	w := call(t, rt, http.MethodPost, "/api/profiles/"+list.Profiles[1].ID, id)
	chose := listed(t, w)
	next := newCookie(w)
	if next == "" || next == id {
		t.Fatalf("the choice set no new session cookie: %v", w.Result().Cookies())
	}
	if chose.Chosen == nil || chose.Profiles[1].ID != *chose.Chosen || chose.Profiles[1].WorkEmail != "goh@policy.example-agency.gov.sg" {
		t.Errorf("answer %s", w.Body)
	}
	if d := dataOf(t, m, next); d[officer.KeyWorkEmail] != "goh@policy.example-agency.gov.sg" || d[officer.KeyAgencyName] != "EXAMPLE AGENCY" || officer.Pending(d) {
		t.Errorf("session data %v", d)
	}
	if o, _ := sessiontest.Lookup(t.Context(), m, cookieName, id); o != nil {
		t.Error("the old session id still works")
	}
	if again := listed(t, call(t, rt, http.MethodGet, "/api/profiles", next)); again.Chosen == nil || *again.Chosen != *chose.Chosen {
		t.Errorf("the list after the choice: %+v", again)
	}

	// The same job again: nothing changes, not even the id.
	same := call(t, rt, http.MethodPost, "/api/profiles/"+*chose.Chosen, next)
	if listed(t, same); newCookie(same) != "" {
		t.Error("choosing the chosen job moved the session")
	}

	// Another job, later, with no new login.
	w = call(t, rt, http.MethodPost, "/api/profiles/"+chose.Profiles[2].ID, next)
	third := newCookie(w)
	if listed(t, w).Chosen == nil || third == "" {
		t.Fatalf("switch: %s", w.Body)
	}
	if d := dataOf(t, m, third); d[officer.KeyWorkEmail] != "goh@sample-board.example" || d[officer.KeyDepartmentName] != "" || d["myinfo.name"] != "GOH MEI LING" {
		t.Errorf("after the switch: %v", d)
	}
}

// A forged id, one of another session, or one from before the session
// moved chooses nothing: 404, no cookie, the session as it was.
func TestProfilesRefuseForeignIDs(t *testing.T) {
	t.Parallel()
	rt, m := profileRoutes(t, nil)
	id := officerSession(t, m, threeJobs, nil)
	other := officerSession(t, m, threeJobs, nil)
	otherList := listed(t, call(t, rt, http.MethodGet, "/api/profiles", other))
	for name, pid := range map[string]string{
		"forged":            "AAAAAAAAAAAAAAAAAAAAAA",
		"another session's": otherList.Profiles[0].ID,
		"not an id":         "..",
		"a deeper path":     otherList.Profiles[0].ID + "/x",
	} {
		w := call(t, rt, http.MethodPost, "/api/profiles/"+pid, id)
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"error":"unknown_profile"`) || newCookie(w) != "" {
			t.Errorf("%s id: %d %s %v", name, w.Code, w.Body, w.Result().Cookies())
		}
	}
	if d := dataOf(t, m, id); !officer.Pending(d) || d[officer.KeyWorkEmail] != "" {
		t.Errorf("a refused id changed the session: %v", d)
	}
	// An id listed before a choice moved the session means nothing after.
	old := listed(t, call(t, rt, http.MethodGet, "/api/profiles", id))
	next := newCookie(call(t, rt, http.MethodPost, "/api/profiles/"+old.Profiles[0].ID, id))
	if w := call(t, rt, http.MethodPost, "/api/profiles/"+old.Profiles[1].ID, next); w.Code != http.StatusNotFound {
		t.Errorf("an id of the session before it moved: %d %s", w.Code, w.Body)
	}
}

// A choice from another site's page is refused, and wrong methods get
// 405 with Allow.
func TestProfilesMethodsAndOrigin(t *testing.T) {
	t.Parallel()
	rt, m := profileRoutes(t, nil)
	id := officerSession(t, m, threeJobs, nil)
	pid := listed(t, call(t, rt, http.MethodGet, "/api/profiles", id)).Profiles[0].ID
	w := call(t, rt, http.MethodPost, "/api/profiles/"+pid, id, "Sec-Fetch-Site", "cross-site")
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `"error":"cross_origin"`) || newCookie(w) != "" || !officer.Pending(dataOf(t, m, id)) {
		t.Errorf("cross-site choice: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct{ method, path, allow string }{
		{http.MethodPost, "/api/profiles", "GET, HEAD"},
		{http.MethodDelete, "/api/profiles", "GET, HEAD"},
		{http.MethodGet, "/api/profiles/" + pid, "POST"},
		{http.MethodPut, "/api/profiles/" + pid, "POST"},
	} {
		if w := call(t, rt, tc.method, tc.path, id); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d, Allow %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"))
		}
	}
}

// keep_fields decides which of the chosen job's fields the session keeps.
func TestProfilesChooseKeepsAsKeepSays(t *testing.T) {
	t.Parallel()
	keep := []string{"myinfo.name", officer.KeyWorkEmail}
	rt, m := profileRoutes(t, keep)
	id := officerSession(t, m, threeJobs, keep)
	pid := listed(t, call(t, rt, http.MethodGet, "/api/profiles", id)).Profiles[0].ID
	d := dataOf(t, m, newCookie(call(t, rt, http.MethodPost, "/api/profiles/"+pid, id)))
	if _, has := d[officer.KeyAgencyName]; has || d[officer.KeyWorkEmail] != "goh@example-agency.gov.sg" || officer.Pending(d) {
		t.Errorf("data %v", d)
	}
}

// Without profiles_path (no officer scope), the paths are the app's.
func TestProfilesOff(t *testing.T) {
	t.Parallel()
	rt := New(Config{AuthURLPath: "/api/auth-url", SessionPath: "/api/session"})
	for _, p := range []string{"/api/profiles", "/api/profiles/x"} {
		if served, _ := rt.Serve(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil)); served {
			t.Errorf("%s served without profiles_path", p)
		}
	}
	if _, ok := Paths(Config{AuthURLPath: "/api/auth-url", SessionPath: "/s"})["profiles_path"]; ok {
		t.Error("Paths names profiles_path without it")
	}
	if p := Paths(Config{AuthURLPath: "/api/auth-url", SessionPath: "/s", ProfilesPath: "/p"})["profiles_path"]; p != "/p" {
		t.Errorf("Paths: profiles_path %q", p)
	}
}

// The guard's answer while no job is chosen: a page load goes to
// profile_page with return_to, when set; an API call gets 409 naming the
// list; any other page load gets 409 in text.
func TestProfileRequired(t *testing.T) {
	t.Parallel()
	answer := func(method string, nav bool, page string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/app/orders?id=7", nil)
		if nav {
			r.Header.Set("Sec-Fetch-Mode", "navigate")
		}
		w := httptest.NewRecorder()
		status, err := ProfileRequired(w, r, page, "/api/profiles", "/app/orders?id=7")
		if err != nil || status != w.Code {
			t.Fatalf("status %d, written %d, %v", status, w.Code, err)
		}
		return w
	}
	if w := answer(http.MethodGet, false, "/choose"); w.Code != http.StatusConflict ||
		w.Body.String() != `{"error":"profile_required","message":"Choose the public officer profile to act as.","profiles_url":"/api/profiles"}` {
		t.Errorf("API call: %d %s", w.Code, w.Body)
	}
	if w := answer(http.MethodGet, true, "/choose?lang=en"); w.Code != http.StatusFound || w.Header().Get("Location") != "/choose?lang=en&return_to=%2Fapp%2Forders%3Fid%3D7" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("navigation: %d %v", w.Code, w.Header())
	}
	for _, tc := range []struct {
		method, page string
	}{{http.MethodGet, ""}, {http.MethodPost, "/choose"}} {
		if w := answer(tc.method, true, tc.page); w.Code != http.StatusConflict || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s navigation, page %q: %d %s", tc.method, tc.page, w.Code, w.Body)
		}
	}
}
