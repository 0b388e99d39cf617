package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// demoSite is how the demo SPA's tests reach a backend: where it is, how a
// person approves a login on the provider's page (in a tab or in the
// login window), how a session ends on the server (as an expiry or a
// revocation does), and who logs in.
type demoSite struct {
	origin  string
	approve func(b *chrome)
	endAll  func(t *testing.T)
	name    string // the name the logged-in page greets
}

// TestSessionClientExample walks the demo SPA of Caddyfile.example, which
// imports the browser client from /api/sgid.js, through the session's
// end and tab sync in headless Chromium, against the real handler with
// the built-in mock sgID:
//
//	(a) a session ended on the server while an order is half typed: the
//	    order's 401 shows "Log in again", which logs in in a popup; the
//	    form still holds what was typed and the order is sent again;
//	(sessions) the client's list of sessions shows this browser's one,
//	    labelled from its User-Agent;
//	(b) a logout in one tab shows in a second tab; the time it takes is
//	    logged.
//
// It needs the session routes of issue 28 (/api/sgid.js, /api/session,
// /api/login-popup, ...) and fails at once, saying so, without them.
func TestSessionClientExample(t *testing.T) {
	chromium := requireChromium(t)
	persona := sgidtest.DefaultPersonas()[0]
	artifacts := artifactDir(t)

	startExample(t)

	resp, err := http.Get(exampleOrigin + "/api/sgid.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("GET /api/sgid.js answered %d %q (%d bytes): the session routes of issue 28 are not served", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}

	site := demoSite{
		origin: exampleOrigin,
		name:   persona.Data["myinfo.name"],
		approve: func(b *chrome) {
			button := chromedp.CSS(fmt.Sprintf(`button.persona[name="sub"][value=%q]`, persona.Sub))
			b.step("choose the persona", 15*time.Second, chromedp.WaitVisible(button), chromedp.Click(button))
		},
		endAll: func(t *testing.T) {
			// The admin API ends the user's sessions on the server; the
			// browser keeps its cookie, as after an expiry.
			req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("http://localhost:%d/sgid/sessions?sub=%s", adminPort, url.QueryEscape(persona.Sub)), nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `"ended":0`) {
				t.Fatalf("revoke the sessions: %d %s", resp.StatusCode, b)
			}
		},
	}
	b := startBrowser(t, chromium, artifacts, 2*time.Minute)
	demoFlows(t, b, site)
}

// TestSessionClientDemoOnFake runs the same walk through the demo SPA
// against fakeAPI, which serves example/ and the route contract: it checks
// the demo and the client today, before and apart from the handler's
// routes.
func TestSessionClientDemoOnFake(t *testing.T) {
	chromium := requireChromium(t)
	f, srv := newFakeAPI(t, 0, time.Hour)
	f.site = "../example"
	b := startBrowser(t, chromium, artifactDir(t), 2*time.Minute)
	demoFlows(t, b, demoSite{
		origin: srv.URL,
		name:   "TEST PERSON",
		approve: func(b *chrome) {
			b.step("approve", 10*time.Second, chromedp.WaitVisible(chromedp.ID("approve")), chromedp.Click(chromedp.ID("approve")))
		},
		endAll: func(*testing.T) { f.endAll() },
	})
}

func demoFlows(t *testing.T, b *chrome, site demoSite) {
	// 1. Log in from the home page, as a person does (the whole page goes
	// to the provider and back).
	b.step("open home page", 15*time.Second,
		chromedp.Navigate(site.origin+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.Click(chromedp.CSS(`input[name="icecream"][value="Chocolate"]`)),
		chromedp.Click(chromedp.ID("login")),
	)
	site.approve(b)
	b.step("logged in", 15*time.Second, chromedp.WaitVisible(chromedp.ID("user-name")))
	if got := textOf(b, chromedp.ID("user-name")); got != site.name {
		b.fatalf("#user-name = %q, want %q", got, site.name)
	}

	t.Run("a", func(t *testing.T) {
		b.t = t
		const note = "two scoops, no"
		b.step("type half an order", 10*time.Second,
			chromedp.SetValue(chromedp.ID("order-flavour"), "Strawberry"),
			chromedp.SendKeys(chromedp.ID("order-note"), note),
		)
		site.endAll(t)
		b.step("send the order", 10*time.Second,
			chromedp.Click(chromedp.ID("order-submit")),
			chromedp.WaitVisible(chromedp.ID("log-in-again")),
		)
		if got := textOf(b, chromedp.ID("session-banner-text")); !strings.Contains(got, "Your session has ended") {
			b.fatalf("the banner says %q", got)
		}
		b.screenshot("session-01-ended.png")
		pop := b.popup("log in again", chromedp.Click(chromedp.ID("log-in-again")))
		site.approve(pop)
		b.waitJS("the order is sent again", `document.getElementById("order-result").textContent.startsWith("The API answered")`, 15*time.Second)
		b.screenshot("session-02-sent.png")

		if got := js[string](b, `document.getElementById("order-note").value`); got != note {
			b.fatalf("the note holds %q after the login, want %q", got, note)
		}
		if got := js[string](b, `document.getElementById("order-flavour").value`); got != "Strawberry" {
			b.fatalf("the flavour is %q after the login, want Strawberry", got)
		}
		if !js[bool](b, `document.getElementById("session-banner").hidden`) {
			b.fatalf("the banner is still shown")
		}
		if p := b.path(); p != "/logged-in" {
			b.fatalf("the page is %q, want /logged-in", p)
		}
		if got := textOf(b, chromedp.ID("user-icecream")); got != "Chocolate" {
			b.fatalf("#user-icecream = %q, want Chocolate", got)
		}
		waitFor(t, "the login window to close", 5*time.Second, func() bool { return targetsAt(b, "/api/login-popup") == 0 })
		b.checkConsole()
	})

	// The client's list of sessions against the routes: after the new
	// login of (a), this browser's session alone, labelled from its
	// User-Agent.
	t.Run("sessions", func(t *testing.T) {
		b.t = t
		type entry struct {
			Handle   string `json:"handle"`
			Created  int64  `json:"created"`
			LastSeen int64  `json:"last_seen"`
			Device   string `json:"device"`
			Current  bool   `json:"current"`
		}
		list := js[[]entry](b, `import("/api/sgid.js").then((m) => m.sessions())`)
		if len(list) != 1 || !list[0].Current || list[0].Handle == "" || list[0].Device != "Headless Chrome on Linux" ||
			list[0].Created == 0 || list[0].Created%60 != 0 || list[0].LastSeen < list[0].Created {
			b.fatalf("sessions() = %+v, want this browser's one session", list)
		}
	})

	t.Run("b", func(t *testing.T) {
		b.t = t
		other := b.tab(t) // a second tab of the same browser
		other.step("open the logged-in page in a second tab", 15*time.Second,
			chromedp.Navigate(site.origin+"/logged-in"),
			chromedp.WaitVisible(chromedp.ID("user-name")),
		)
		// The second tab notes when it hears of the logout (the module is
		// the page's own instance: one URL, one module).
		other.step("listen", 5*time.Second, chromedp.Evaluate[chromedp.Void](
			`import("/api/sgid.js").then((m) => m.onChange((e) => { if (e.type === "logout") window.logoutSeen = Date.now(); }))`,
			chromedp.EvalAwaitPromise))
		start := time.Now()
		clicked := js[float64](b, `window.clickedAt = Date.now(); document.getElementById("logout").click(); window.clickedAt`)
		other.step("the second tab shows the logout", 10*time.Second, chromedp.WaitVisible(chromedp.ID("signed-out")))
		shown := time.Since(start)
		seen := js[float64](other, `window.logoutSeen`)
		if got := textOf(other, chromedp.ID("signed-out-detail")); got != "You logged out in another tab." {
			other.fatalf("#signed-out-detail = %q", got)
		}
		t.Logf("logout in one tab: the other tab's client heard of it after %.0f ms; its page showed it within %v of the click (with the test's polling)",
			seen-clicked, shown.Round(time.Millisecond))
		other.screenshot("session-03-other-tab.png")
		b.step("the first tab goes home", 10*time.Second, chromedp.WaitVisible(chromedp.ID("login")))
		other.checkConsole()
	})
}

// TestSessionClientDemoWarning checks the demo's banner a minute before
// the idle end, and its "Stay logged in", against fakeAPI with an idle
// timeout of 62 s (Caddyfile.example sets none).
func TestSessionClientDemoWarning(t *testing.T) {
	chromium := requireChromium(t)
	f, srv := newFakeAPI(t, 62*time.Second, time.Hour)
	f.site = "../example"
	b := startBrowser(t, chromium, artifactDir(t), time.Minute)
	b.step("log in", 15*time.Second,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("approve")),
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.ID("user-name")),
	)
	b.step("the warning", 10*time.Second, chromedp.WaitVisible(chromedp.ID("stay-logged-in")))
	if got := textOf(b, chromedp.ID("session-banner-text")); !strings.HasPrefix(got, "You will be logged out for inactivity in ") {
		b.fatalf("the banner says %q", got)
	}
	if js[bool](b, `!document.getElementById("log-in-again").hidden`) {
		b.fatalf("an idle session's warning offers a new login instead of extending it")
	}
	b.screenshot("session-04-warning.png")
	b.step("stay logged in", 10*time.Second,
		chromedp.Click(chromedp.ID("stay-logged-in")),
		chromedp.WaitNotVisible(chromedp.ID("session-banner")),
	)
	b.checkConsole()
}
