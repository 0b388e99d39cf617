package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/device"
	"github.com/caddy-sgid/caddy-sgid/internal/spaclient"
)

// fakeAPI is the session routes' contract (issue 28) in memory, with a
// stand-in provider on another origin (localhost, where the app is on
// 127.0.0.1, as sgID is on its own) and one guarded API route, so that
// sgid.js can be driven in Chromium on its own: with timeouts of seconds,
// sessions ended at will, and every request counted. It serves the
// embedded client and popup page through the spaclient package, as the
// handler does.
type fakeAPI struct {
	t    *testing.T
	idle time.Duration // 0: no idle timeout
	life time.Duration

	popupPage []byte
	site      string // a folder served as an SPA instead of the test page
	app       string // the app's origin, http://127.0.0.1:port
	provider  string // the provider's, http://localhost:port

	mu       sync.Mutex
	sessions map[string]*fakeSession // by cookie value
	orders   []string                // "401" or "200 <note>" per POST /api/orders
	reads    int                     // GET /api/session
	delay    time.Duration           // before answering GET /api/session

	ahead atomic.Int64 // how far the server's clock is ahead, in ns
}

// now is the server's clock, which may be ahead of the browser's.
func (f *fakeAPI) now() time.Time {
	return time.Now().Add(time.Duration(f.ahead.Load()))
}

type fakeSession struct {
	sub, flavour         string
	created, seen, login time.Time
	device               string
}

const fakeCookie = "fake_sid"

func newFakeAPI(t *testing.T, idle, life time.Duration) (*fakeAPI, *httptest.Server) {
	t.Helper()
	f := &fakeAPI{
		t: t, idle: idle, life: life,
		popupPage: spaclient.PopupPage("/api/auth-url", "/api/"+spaclient.Popup.Versioned),
		sessions:  map[string]*fakeSession{},
	}
	srv := httptest.NewServer(f) // 127.0.0.1, a port the OS picks
	t.Cleanup(srv.Close)
	f.app = srv.URL
	f.provider = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	return f, srv
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", f.now().UTC().Format(http.TimeFormat))
	p := r.URL.Path
	switch {
	case f.site != "" && !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/fake-"):
		// The demo SPA: its files, and index.html for every other path.
		if _, err := os.Stat(filepath.Join(f.site, filepath.FromSlash(path.Clean(p)))); err != nil || p == "/" {
			http.ServeFile(w, r, filepath.Join(f.site, "index.html"))
			return
		}
		http.ServeFile(w, r, filepath.Join(f.site, filepath.FromSlash(path.Clean(p))))
	case p == "/" || p == "/other":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(testPage))
	case p == "/error":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>error</title><p id="error">Login failed.</p>`))
	case p == "/api/userinfo":
		f.mu.Lock()
		s, _ := f.current(r)
		f.mu.Unlock()
		if s == nil {
			w.Header().Set("Link", `</api/auth-url?return_to=%2F>; rel="login"`)
			writeJSON(w, http.StatusUnauthorized, nil)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"sub": s.sub, "data": map[string]string{"myinfo.name": "TEST PERSON", "iceCream": s.flavour}})
	case strings.HasPrefix(p, "/api/sgid") && path.Dir(p) == "/api":
		if !spaclient.Serve(w, r, path.Base(p)) {
			http.NotFound(w, r)
		}
	case p == "/api/login-popup":
		spaclient.ServePage(w, r, f.popupPage)
	case p == "/api/session":
		f.mu.Lock()
		f.reads++
		s, _ := f.current(r)
		v, delay := f.view(s), f.delay
		f.mu.Unlock()
		time.Sleep(delay) // the answer as it was when asked
		writeJSON(w, http.StatusOK, v)
	case p == "/api/session/extend":
		if !sameOrigin(w, r) {
			return
		}
		f.mu.Lock()
		s, _ := f.current(r)
		if s != nil {
			s.seen = f.now()
		}
		f.mu.Unlock()
		if s == nil {
			loginRequired(w)
			return
		}
		writeJSON(w, http.StatusOK, f.view(s))
	case p == "/api/auth-url":
		rt := r.URL.Query().Get("return_to")
		if rt == "" {
			rt = "/logged-in" // the handler's success_path
		}
		q := url.Values{"return_to": {rt}, "icecream": {r.URL.Query().Get("icecream")}}
		writeJSON(w, http.StatusOK, map[string]string{"url": f.provider + "/fake-provider?" + q.Encode()})
	case p == "/fake-provider":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = providerPage.Execute(w, r.URL.Query())
	case p == "/fake-provider/login" && r.Method == http.MethodPost:
		f.providerLogin(w, r)
	case p == "/fake-callback":
		f.callback(w, r)
	case p == "/api/logout":
		if r.Method != http.MethodPost || !sameOrigin(w, r) {
			return
		}
		f.mu.Lock()
		s, id := f.current(r)
		ended := 0
		if s != nil {
			for k, o := range f.sessions {
				if k == id || (r.URL.Query().Get("everywhere") == "1" && o.sub == s.sub) {
					delete(f.sessions, k)
					ended++
				}
			}
		}
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: fakeCookie, Path: "/", MaxAge: -1})
		if r.URL.Query().Get("everywhere") == "1" {
			writeJSON(w, http.StatusOK, map[string]int{"ended": ended})
		} else {
			writeJSON(w, http.StatusOK, struct{}{})
		}
	case p == "/api/sessions":
		f.listSessions(w, r)
	case strings.HasPrefix(p, "/api/sessions/"):
		f.endSession(w, r, strings.TrimPrefix(p, "/api/sessions/"))
	case p == "/api/fresh":
		// A fresh_login path: a login older than a second is too old,
		// said in the body only (no Link header).
		f.mu.Lock()
		s, _ := f.current(r)
		f.mu.Unlock()
		if s == nil || f.now().Sub(s.login) > time.Second {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "login_too_old"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "fresh enough"})
	case p == "/api/orders":
		if r.Method != http.MethodPost || !sameOrigin(w, r) {
			return
		}
		note := r.FormValue("note")
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			var order struct{ Note string }
			_ = json.NewDecoder(r.Body).Decode(&order)
			note = order.Note
		}
		f.mu.Lock()
		s, _ := f.current(r)
		if s != nil {
			s.seen = f.now()
			f.orders = append(f.orders, "200 "+note)
		} else {
			f.orders = append(f.orders, "401")
		}
		f.mu.Unlock()
		if s == nil {
			if r.Header.Get("X-Requested-With") == "" {
				// A guard sends a page navigation to the login; only a
				// request marked as an API call gets the 401.
				http.Redirect(w, r, "/fake-provider?return_to=%2F", http.StatusFound)
				return
			}
			loginRequired(w)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "order taken", "user": s.sub, "note": note})
	default:
		http.NotFound(w, r)
	}
}

// current is the request's live session, if any; an ended one is removed.
// f.mu is held.
func (f *fakeAPI) current(r *http.Request) (*fakeSession, string) {
	c, err := r.Cookie(fakeCookie)
	if err != nil {
		return nil, ""
	}
	s := f.sessions[c.Value]
	if s == nil {
		return nil, ""
	}
	now := f.now()
	if !now.Before(s.login.Add(f.life)) || (f.idle > 0 && !now.Before(s.seen.Add(f.idle))) {
		delete(f.sessions, c.Value)
		return nil, ""
	}
	return s, c.Value
}

// view is the session route's answer for s (nil: none).
func (f *fakeAPI) view(s *fakeSession) map[string]any {
	v := map[string]any{
		"active": false, "sub": nil, "auth_time": nil, "expires_at": nil, "idle_expires_at": nil,
		"login_url": "/api/auth-url?return_to=%2F", "logout_url": "/api/logout",
	}
	if s != nil {
		v["active"] = true
		v["sub"] = s.sub
		v["auth_time"] = s.login.Unix()
		v["expires_at"] = s.login.Add(f.life).Unix()
		if f.idle > 0 {
			v["idle_expires_at"] = s.seen.Add(f.idle).Unix()
		}
	}
	return v
}

// newSession starts a session for sub and returns its cookie value.
func (f *fakeAPI) newSession(sub, userAgent string) string {
	id := rand.Text()
	now := f.now()
	f.mu.Lock()
	f.sessions[id] = &fakeSession{sub: sub, created: now, seen: now, login: now, device: device.Label(userAgent)}
	f.mu.Unlock()
	return id
}

// endAll ends every session, as an expiry or a revocation would.
func (f *fakeAPI) endAll() {
	f.mu.Lock()
	clear(f.sessions)
	f.mu.Unlock()
}

// slowReads delays the session route's answers by d.
func (f *fakeAPI) slowReads(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

func (f *fakeAPI) orderLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.orders)
}

func (f *fakeAPI) sessionReads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// providerLogin is the stand-in for sgID, on its own origin: the person
// approves (back to the app's callback) or cancels (to the app's error
// page, where the callback sends a failed login).
func (f *fakeAPI) providerLogin(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("act") != "approve" {
		http.Redirect(w, r, f.app+"/error?reason=access_denied", http.StatusFound)
		return
	}
	q := url.Values{"return_to": {r.FormValue("return_to")}, "icecream": {r.FormValue("icecream")}}
	http.Redirect(w, r, f.app+"/fake-callback?"+q.Encode(), http.StatusFound)
}

// callback is the stand-in for the app's callback: a session starts, and
// the browser goes back to return_to.
func (f *fakeAPI) callback(w http.ResponseWriter, r *http.Request) {
	rt := r.FormValue("return_to")
	if !strings.HasPrefix(rt, "/") || strings.HasPrefix(rt, "//") {
		http.Error(w, "bad return_to", http.StatusBadRequest)
		return
	}
	id := f.newSession("u=TESTUSER1", r.UserAgent())
	f.mu.Lock()
	f.sessions[id].flavour = r.FormValue("icecream")
	f.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: fakeCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, rt, http.StatusFound)
}

func handleOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}

func (f *fakeAPI) listSessions(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	me, myID := f.current(r)
	if me == nil {
		loginRequired(w)
		return
	}
	list := []map[string]any{}
	for id, s := range f.sessions {
		if s.sub == me.sub {
			list = append(list, map[string]any{
				"handle": handleOf(id), "created": s.created.Truncate(time.Minute).Unix(),
				"last_seen": s.seen.Truncate(time.Minute).Unix(), "device": s.device, "current": id == myID,
			})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

func (f *fakeAPI) endSession(w http.ResponseWriter, r *http.Request, handle string) {
	if r.Method != http.MethodDelete || !sameOrigin(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	me, _ := f.current(r)
	if me == nil {
		loginRequired(w)
		return
	}
	for id, s := range f.sessions {
		if handleOf(id) == handle && s.sub == me.sub {
			delete(f.sessions, id)
			writeJSON(w, http.StatusOK, map[string]int{"ended": 1})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "not_found"})
}

// sameOrigin is the contract's rule for unsafe methods: the browser must
// say the request came from this origin.
func sameOrigin(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") != "same-origin" {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "cross_site"})
		return false
	}
	return true
}

func loginRequired(w http.ResponseWriter) {
	w.Header().Set("Link", `</api/auth-url?return_to=%2F>; rel="login"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "login_required", "login_url": "/api/auth-url?return_to=%2F"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var providerPage = template.Must(template.New("p").Parse(`<!doctype html>
<title>Fake provider</title>
<form method="post" action="/fake-provider/login">
<input type="hidden" name="return_to" value="{{.Get "return_to"}}">
<input type="hidden" name="icecream" value="{{.Get "icecream"}}">
<button id="approve" name="act" value="approve">Log in</button>
<button id="deny" name="act" value="deny">Cancel</button>
<button id="forge" type="button" onclick="opener.postMessage({ type: 'sgid:login-error', error: 'forged' }, '*'); opener.postMessage({ type: 'sgid:login' }, '*')">Forge</button>
</form>`))

// testPage is an app page that uses the client: ?nobc takes
// BroadcastChannel away before the module loads, for the storage-event
// fallback. Its state is on window for the test to read.
const testPage = `<!doctype html>
<meta charset="utf-8">
<title>sgid.js test page</title>
<script>if (new URLSearchParams(location.search).has("nobc")) delete window.BroadcastChannel;</script>
<script type="module">
import * as sgid from "/api/sgid.js";
window.sgid = sgid;
window.events = [];
window.warned = [];
sgid.onChange((e) => events.push({ type: e.type, active: e.session.active, remote: e.remote, at: Date.now() }));
document.getElementById("order").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await sgid.fetch("/api/orders", { method: "POST", body: new URLSearchParams(new FormData(ev.target)) });
  document.getElementById("result").textContent = r.status + " " + (await r.text());
});
document.getElementById("login").addEventListener("click", () => {
  window.loginResult = undefined;
  sgid.login().then((s) => (window.loginResult = "ok " + s.active), (e) => (window.loginResult = "error " + e.code));
});
window.ready = true;
</script>
<form id="order"><input id="note" name="note"><button id="submit">Order</button></form>
<output id="result"></output>
<button id="login" type="button">Log in</button>`
