package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// clientEvent is what the test page records of each onChange event.
type clientEvent struct {
	Type   string  `json:"type"`
	Active bool    `json:"active"`
	Remote bool    `json:"remote"`
	At     float64 `json:"at"` // Date.now() in the page, ms
}

func events(b *chrome) []clientEvent {
	b.t.Helper()
	return js[[]clientEvent](b, `window.events`)
}

func eventTypes(evs []clientEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

// TestSessionClient drives sgid.js in headless Chromium against fakeAPI,
// the session routes' contract served by a test server of its own (on a
// loopback port the OS picks), with the embedded client and popup page:
// popup logins, a re-login that keeps a half-filled form and retries the
// request, the popup's failures, the fallback when a popup is blocked,
// tab sync with BroadcastChannel and with the storage-event fallback, the
// warning before the idle end and the expiry, the list of sessions.
// Each subtest has a fresh browser profile (its own cookies and storage).
func TestSessionClient(t *testing.T) {
	chromium := requireChromium(t)
	b := startBrowser(t, chromium, artifactDir(t), 4*time.Minute)

	// loggedIn opens the test page in a fresh profile and logs in with a
	// popup, from a click.
	loggedIn := func(t *testing.T, f *fakeAPI, origin, page string) *chrome {
		t.Helper()
		tab := b.tab(t, chromedp.WithNewBrowserContext())
		tab.step("open test page", 10*time.Second, chromedp.Navigate(origin+page))
		tab.waitJS("module loaded", `window.ready === true`, 5*time.Second)
		pop := tab.popup("click log in", chromedp.Click(chromedp.ID("login")))
		pop.step("approve in the popup", 10*time.Second,
			chromedp.WaitVisible(chromedp.ID("approve")),
			chromedp.Click(chromedp.ID("approve")),
		)
		tab.waitJS("login resolved", `window.loginResult !== undefined`, 10*time.Second)
		if got := js[string](tab, `window.loginResult`); got != "ok true" {
			tab.fatalf("login() ended with %q, want ok true", got)
		}
		return tab
	}

	t.Run("loads without errors", func(t *testing.T) {
		_, srv := newFakeAPI(t, 0, time.Hour)
		tab := b.tab(t, chromedp.WithNewBrowserContext())
		tab.step("open test page", 10*time.Second, chromedp.Navigate(srv.URL+"/"))
		tab.waitJS("module loaded", `window.ready === true`, 5*time.Second)
		if got := js[bool](tab, `sgid.session().then((s) => s.active === false && s.login_url.startsWith("/api/auth-url"))`); !got {
			tab.fatalf("session() signed out is not {active: false, login_url: ...}")
		}
		tab.checkConsole()
	})

	t.Run("popup re-login keeps the form and retries the request", func(t *testing.T) {
		f, srv := newFakeAPI(t, 0, time.Hour)
		tab := loggedIn(t, f, srv.URL, "/")
		const note = "two scoops, no"
		tab.step("type half an order", 10*time.Second, chromedp.SendKeys(chromedp.ID("note"), note))

		f.endAll() // the session ends on the server, as an expiry does
		// The submit's fetch gets 401 login_required; the client's default
		// handler opens the login window (still within the click's user
		// activation) and retries the request after the login.
		pop := tab.popup("submit the order", chromedp.Click(chromedp.ID("submit")))
		if p := js[string](pop, `location.pathname`); p != "/fake-provider" && p != "/api/login-popup" {
			pop.fatalf("the popup is at %q", p)
		}
		pop.step("approve in the popup", 10*time.Second,
			chromedp.WaitVisible(chromedp.ID("approve")),
			chromedp.Click(chromedp.ID("approve")),
		)
		tab.waitJS("the retried order", `document.getElementById("result").textContent.startsWith("200 ")`, 10*time.Second)

		if got := js[string](tab, `document.getElementById("note").value`); got != note {
			tab.fatalf("the form holds %q after the re-login, want %q", got, note)
		}
		if got := js[string](tab, `location.pathname`); got != "/" {
			tab.fatalf("the page went to %q", got)
		}
		if got, want := f.orderLog(), []string{"401", "200 " + note}; !slices.Equal(got, want) {
			tab.fatalf("the API saw %q, want %q (one 401, then the same request once more)", got, want)
		}
		if got := eventTypes(events(tab)); got != "login,expired,login" {
			tab.fatalf("onChange saw %q, want login,expired,login", got)
		}
		waitFor(t, "the login window to close", 5*time.Second, func() bool { return targetsAt(tab, "/api/login-popup") == 0 })
		tab.checkConsole()
	})

	t.Run("a login too old for a path: log in again, retry", func(t *testing.T) {
		f, srv := newFakeAPI(t, 0, time.Hour)
		tab := loggedIn(t, f, srv.URL, "/")
		time.Sleep(1100 * time.Millisecond) // the login is now too old for /api/fresh
		tab.step("a button that calls the path", 5*time.Second, chromedp.Evaluate[chromedp.Void](`
			const button = document.createElement("button");
			button.id = "fresh";
			button.onclick = () => sgid.fetch("/api/fresh").then(async (r) => (window.freshResult = r.status + " " + (await r.text())));
			document.body.append(button);`))
		pop := tab.popup("call it", chromedp.Click(chromedp.ID("fresh")))
		pop.step("approve", 10*time.Second, chromedp.WaitVisible(chromedp.ID("approve")), chromedp.Click(chromedp.ID("approve")))
		tab.waitJS("the retried call", `window.freshResult !== undefined`, 10*time.Second)
		if got := js[string](tab, `window.freshResult`); !strings.HasPrefix(got, "200 ") {
			tab.fatalf("the retried call: %q, want 200", got)
		}
		// The session never ended: a new login, but no expiry.
		if got := eventTypes(events(tab)); got != "login,login" {
			tab.fatalf("onChange saw %q, want login,login", got)
		}
	})

	t.Run("a cancelled login and a closed popup reject login()", func(t *testing.T) {
		_, srv := newFakeAPI(t, 0, time.Hour)
		tab := b.tab(t, chromedp.WithNewBrowserContext())
		tab.step("open test page", 10*time.Second, chromedp.Navigate(srv.URL+"/"))
		tab.waitJS("module loaded", `window.ready === true`, 5*time.Second)

		pop := tab.popup("click log in", chromedp.Click(chromedp.ID("login")))
		// The login window itself, while on the provider's origin, posts
		// words of ours: they come from the wrong origin and change
		// nothing.
		pop.step("forge from the provider", 10*time.Second,
			chromedp.WaitVisible(chromedp.ID("forge")),
			chromedp.Click(chromedp.ID("forge")),
		)
		time.Sleep(700 * time.Millisecond)
		if got := js[any](tab, `window.loginResult ?? null`); got != nil {
			tab.fatalf("a message from the provider's origin settled login(): %v", got)
		}
		pop.step("cancel in the popup", 10*time.Second,
			chromedp.WaitVisible(chromedp.ID("deny")),
			chromedp.Click(chromedp.ID("deny")),
		)
		tab.waitJS("login rejected", `window.loginResult !== undefined`, 10*time.Second)
		if got := js[string](tab, `window.loginResult`); got != "error access_denied" {
			tab.fatalf("a cancelled login: %q, want error access_denied", got)
		}
		waitFor(t, "the failed login's window to close", 5*time.Second, func() bool { return targetsAt(tab, "/error") == 0 })

		pop = tab.popup("click log in again", chromedp.Click(chromedp.ID("login")))
		pop.step("wait for the provider", 10*time.Second, chromedp.WaitVisible(chromedp.ID("approve")))
		// Words that do not come from the login window change nothing: a
		// failure posted by another window (here the page itself), and a
		// login announced on the channel while there is none.
		tab.step("forge messages", 5*time.Second, chromedp.Evaluate[chromedp.Void](
			`window.postMessage({ type: "sgid:login-error", error: "forged" }, location.origin);
			 new BroadcastChannel("sgid").postMessage({ type: "sgid:login", active: true });`))
		time.Sleep(700 * time.Millisecond) // more than two of the client's 300 ms looks at the window
		if got := js[any](tab, `window.loginResult ?? null`); got != nil {
			tab.fatalf("a forged message settled login(): %v", got)
		}
		pop.step("close the popup", 10*time.Second, chromedp.Evaluate[chromedp.Void](`window.close()`))
		tab.waitJS("login rejected", `window.loginResult !== undefined`, 10*time.Second)
		if got := js[string](tab, `window.loginResult`); got != "error popup_closed" {
			tab.fatalf("a closed popup: %q, want error popup_closed", got)
		}
		if got := eventTypes(events(tab)); got != "" {
			tab.fatalf("onChange saw %q without a login", got)
		}
	})

	t.Run("a blocked popup falls back to a full-page login", func(t *testing.T) {
		_, srv := newFakeAPI(t, 0, time.Hour)
		tab := b.tab(t, chromedp.WithNewBrowserContext())
		tab.step("open test page", 10*time.Second, chromedp.Navigate(srv.URL+"/other?x=1"))
		tab.waitJS("module loaded", `window.ready === true`, 5*time.Second)
		// A blocked popup: window.open returns null. (Headless Chromium
		// lets a page's first window.open through even without a click,
		// so the blocker is stood in for.) login() leaves the page instead.
		tab.step("login with the popup blocked", 10*time.Second,
			chromedp.Evaluate[chromedp.Void](`window.open = () => null; void sgid.login({ popup: true })`),
			chromedp.WaitVisible(chromedp.ID("approve")),
		)
		if p := tab.path(); p != "/fake-provider" {
			tab.fatalf("login() went to %q, want the provider", p)
		}
		tab.step("approve", 10*time.Second, chromedp.Click(chromedp.ID("approve")), chromedp.WaitVisible(chromedp.ID("note")))
		tab.waitJS("back on the page", `window.ready === true`, 10*time.Second)
		if got := js[string](tab, `location.pathname + location.search`); got != "/other?x=1" {
			tab.fatalf("the login came back to %q, want /other?x=1", got)
		}
		if !js[bool](tab, `sgid.session().then((s) => s.active)`) {
			tab.fatalf("no session after the full-page login")
		}
		if n := targetsAt(tab, srv.URL); n != 1 {
			tab.fatalf("%d pages of the test server are open, want 1 (no popup)", n)
		}
	})

	for _, variant := range []struct{ name, query string }{
		{"BroadcastChannel", ""},
		{"storage event fallback", "?nobc"},
	} {
		t.Run("tab sync with "+variant.name, func(t *testing.T) {
			f, srv := newFakeAPI(t, 0, time.Hour)
			a := loggedIn(t, f, srv.URL, "/"+variant.query)
			other := a.tab(t) // a second tab of the same browser
			other.step("open the page in a second tab", 10*time.Second, chromedp.Navigate(srv.URL+"/"+variant.query))
			other.waitJS("module loaded", `window.ready === true`, 5*time.Second)
			if !js[bool](other, `sgid.session().then((s) => s.active)`) {
				other.fatalf("the second tab has no session")
			}
			if variant.query != "" && js[bool](other, `typeof BroadcastChannel === "function"`) {
				other.fatalf("BroadcastChannel is still there")
			}

			// Log out in the first tab; the second one hears of it.
			times := js[[]float64](a, `(async () => { const t0 = Date.now(); await sgid.logout(); return [t0, Date.now()]; })()`)
			other.waitJS("the second tab sees the logout", `events.some((e) => e.type === "logout")`, 5*time.Second)
			seen := events(other)
			i := slices.IndexFunc(seen, func(e clientEvent) bool { return e.Type == "logout" })
			if !seen[i].Remote || seen[i].Active {
				other.fatalf("the second tab's logout event: %+v, want remote and not active", seen[i])
			}
			t.Logf("%s: logout seen by the other tab %.0f ms after the logout answered (%.0f ms after it was called)",
				variant.name, seen[i].At-times[1], seen[i].At-times[0])

			// Log in again in the first tab, with a popup: the second tab
			// hears of that too.
			pop := a.popup("log in again", chromedp.Click(chromedp.ID("login")))
			pop.step("approve", 10*time.Second, chromedp.WaitVisible(chromedp.ID("approve")), chromedp.Click(chromedp.ID("approve")))
			other.waitJS("the second tab sees the login", `events.some((e) => e.type === "login")`, 10*time.Second)
			seen = events(other)
			i = slices.IndexFunc(seen, func(e clientEvent) bool { return e.Type == "login" })
			if !seen[i].Remote || !seen[i].Active {
				other.fatalf("the second tab's login event: %+v, want remote and active", seen[i])
			}
			a.waitJS("the first tab's login", fmt.Sprintf(`events.some((e) => e.type === "login" && e.at > %f)`, times[1]), 10*time.Second)
			mine := events(a)
			j := slices.IndexFunc(mine, func(e clientEvent) bool { return e.Type == "login" && e.At > times[1] })
			if j < 0 {
				a.fatalf("the first tab has no login event after its logout: %+v", mine)
			}
			t.Logf("%s: popup login seen by the other tab %.0f ms after the first tab's", variant.name, seen[i].At-mine[j].At)
			if got := eventTypes(seen); got != "logout,login" {
				other.fatalf("the second tab saw %q, want logout,login", got)
			}
			a.checkConsole()
			other.checkConsole()
		})
	}

	t.Run("a logout heard while a read from before it is on its way", func(t *testing.T) {
		f, srv := newFakeAPI(t, 0, time.Hour)
		a := loggedIn(t, f, srv.URL, "/")
		other := a.tab(t)
		other.step("open the page in a second tab", 10*time.Second, chromedp.Navigate(srv.URL+"/"))
		other.waitJS("module loaded", `window.ready === true`, 5*time.Second)
		f.slowReads(400 * time.Millisecond)
		// The second tab asks (the answer, "active", comes late), then
		// hears of the logout: it must read again, not take the answer
		// on its way.
		reads := f.sessionReads()
		other.step("read", 5*time.Second, chromedp.Evaluate[chromedp.Void](`void sgid.session()`))
		waitFor(t, "the read to reach the server", 5*time.Second, func() bool { return f.sessionReads() > reads })
		js[chromedp.Void](a, `sgid.logout()`)
		other.waitJS("the second tab sees the logout", `events.some((e) => e.type === "logout")`, 5*time.Second)
		time.Sleep(500 * time.Millisecond) // the late answer has come
		if got := eventTypes(events(other)); got != "logout" {
			other.fatalf("the second tab saw %q, want logout", got)
		}
		if js[bool](other, `sgid.session().then((s) => s.active)`) {
			other.fatalf("the second tab thinks it is logged in")
		}
	})

	t.Run("before the idle end, extend, and the expiry", func(t *testing.T) {
		f, srv := newFakeAPI(t, 3*time.Second, time.Hour)
		tab := loggedIn(t, f, srv.URL, "/")
		tab.step("watch the idle end", 5*time.Second, chromedp.Evaluate[chromedp.Void](
			`sgid.before("idle", 2, (w) => warned.push({ end: w.expiresAt, remaining: w.remaining, active: w.session.active }))`))
		tab.waitJS("the first warning", `warned.length === 1`, 6*time.Second)
		reads := f.sessionReads()

		end := js[float64](tab, `sgid.extend().then((s) => s.idle_expires_at)`)
		tab.waitJS("the second warning", `warned.length === 2`, 6*time.Second)
		tab.waitJS("the expiry", `events.some((e) => e.type === "expired")`, 8*time.Second)

		type warning struct {
			End       float64 `json:"end"`
			Remaining float64 `json:"remaining"`
			Active    bool    `json:"active"`
		}
		w := js[[]warning](tab, `warned`)
		if len(w) != 2 || w[1].End != end || w[0].End >= w[1].End || !w[0].Active || w[0].Remaining > 2 || w[1].Remaining > 2 {
			tab.fatalf("warnings %+v, want two, the second for the extended end %v, each at most 2 s before it", w, end)
		}
		if got := eventTypes(events(tab)); got != "login,extend,expired" {
			tab.fatalf("onChange saw %q, want login,extend,expired", got)
		}
		if f.sessionReads() <= reads {
			tab.fatalf("the client never asked the session route again")
		}
		if js[bool](tab, `sgid.session().then((s) => s.active)`) {
			tab.fatalf("the session is still active after its idle end")
		}
		tab.checkConsole()
	})

	t.Run("before() asks again when activity moved the end", func(t *testing.T) {
		f, srv := newFakeAPI(t, 4*time.Second, time.Hour)
		tab := loggedIn(t, f, srv.URL, "/")
		tab.step("watch the idle end", 5*time.Second, chromedp.Evaluate[chromedp.Void](
			`sgid.before("idle", 1, (w) => warned.push({ end: w.expiresAt }))`))
		time.Sleep(1050 * time.Millisecond)
		// Activity the client does not see (a plain fetch) moves the idle
		// end by a second or more.
		moved := js[float64](tab, `fetch("/api/orders", { method: "POST", headers: { "X-Requested-With": "fetch" }, body: new URLSearchParams({ note: "x" }) })
			.then(() => fetch("/api/session")).then((r) => r.json()).then((s) => s.idle_expires_at)`)
		tab.waitJS("the warning", `warned.length === 1`, 8*time.Second)
		if got := js[float64](tab, `warned[0].end`); got != moved {
			tab.fatalf("the warning came for the end %v, want the moved end %v", got, moved)
		}
		if got := eventTypes(events(tab)); got != "login,extend" {
			tab.fatalf("onChange saw %q, want login,extend", got)
		}
	})

	t.Run("a server clock a minute ahead", func(t *testing.T) {
		f, srv := newFakeAPI(t, 3*time.Second, time.Hour)
		f.ahead.Store(int64(time.Minute))
		tab := loggedIn(t, f, srv.URL, "/")
		// The end is a minute ahead on the browser's clock: read as it is,
		// the warning would come a minute late.
		tab.step("watch the idle end", 5*time.Second, chromedp.Evaluate[chromedp.Void](
			`sgid.before("idle", 2, (w) => warned.push({ end: w.expiresAt, remaining: w.remaining }))`))
		tab.waitJS("the warning", `warned.length === 1`, 6*time.Second)
		tab.waitJS("the expiry", `events.some((e) => e.type === "expired")`, 8*time.Second)
		if got := js[float64](tab, `warned[0].remaining`); got > 2 {
			tab.fatalf("the warning says %v s are left, want at most 2", got)
		}
	})

	t.Run("a page seen again asks the server", func(t *testing.T) {
		f, srv := newFakeAPI(t, 0, time.Hour)
		tab := loggedIn(t, f, srv.URL, "/")
		f.endAll()                          // no timer of the client is due for an hour
		time.Sleep(1100 * time.Millisecond) // past the re-check's one-second throttle
		tab.step("the page comes back into view", 5*time.Second, chromedp.Evaluate[chromedp.Void](
			`document.dispatchEvent(new Event("visibilitychange"))`))
		tab.waitJS("the expiry", `events.some((e) => e.type === "expired")`, 5*time.Second)
	})

	t.Run("a session read from before a logout does not undo it", func(t *testing.T) {
		f, srv := newFakeAPI(t, 0, time.Hour)
		tab := loggedIn(t, f, srv.URL, "/")
		// Let the reads that the login began (the popup's word, the
		// window's focus) end, so that the next one is a request of its own.
		time.Sleep(1500 * time.Millisecond)
		f.slowReads(600 * time.Millisecond)
		reads := f.sessionReads()
		tab.step("read", 5*time.Second, chromedp.Evaluate[chromedp.Void](`window.staleRead = sgid.session()`))
		waitFor(t, "the read to reach the server", 5*time.Second, func() bool { return f.sessionReads() > reads })
		js[chromedp.Void](tab, `sgid.logout()`) // while the answer "active" is on its way
		if js[bool](tab, `staleRead.then((s) => s.active)`) {
			tab.fatalf("session() begun before the logout resolved to an active session after it")
		}
		if got := eventTypes(events(tab)); got != "login,logout" {
			tab.fatalf("onChange saw %q, want login,logout", got)
		}
	})

	t.Run("the list of sessions", func(t *testing.T) {
		f, srv := newFakeAPI(t, 0, time.Hour)
		tab := loggedIn(t, f, srv.URL, "/")
		f.newSession("u=TESTUSER1", "curl/8.5.0")
		f.newSession("u=SOMEONEELSE", "curl/8.5.0")

		type entry struct {
			Handle  string `json:"handle"`
			Device  string `json:"device"`
			Current bool   `json:"current"`
			Created int64  `json:"created"`
		}
		list := js[[]entry](tab, `sgid.sessions()`)
		if len(list) != 2 {
			tab.fatalf("sessions() = %+v, want this user's 2", list)
		}
		slices.SortFunc(list, func(a, b entry) int {
			if a.Current {
				return -1
			}
			if b.Current {
				return 1
			}
			return 0
		})
		if !list[0].Current || list[0].Device != "Headless Chrome on Linux" || list[1].Current || list[1].Device != "curl" || list[0].Created%60 != 0 {
			tab.fatalf("sessions() = %+v", list)
		}
		other, _ := json.Marshal(list[1].Handle)
		js[chromedp.Void](tab, `sgid.endSession(`+string(other)+`)`)
		if n := len(js[[]entry](tab, `sgid.sessions()`)); n != 1 {
			tab.fatalf("after ending the other session, %d are listed", n)
		}
		if got := eventTypes(events(tab)); got != "login" {
			tab.fatalf("ending another session made events %q", got)
		}
		mine, _ := json.Marshal(list[0].Handle)
		js[chromedp.Void](tab, `sgid.endSession(`+string(mine)+`)`)
		if got := eventTypes(events(tab)); got != "login,logout" {
			tab.fatalf("ending this session made events %q, want login,logout", got)
		}
		if got := js[string](tab, `sgid.sessions().then(() => "listed", (e) => e.code)`); got != "login_required" {
			tab.fatalf("sessions() signed out: %q, want login_required", got)
		}
	})
}

// waitFor polls cond every 20 ms until it holds, or fails the test after
// limit.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
