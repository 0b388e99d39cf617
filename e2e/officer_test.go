package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserOfficerPicker logs in to the shipped example as the mock's
// officer with three jobs: the logged-in page shows the picker with none
// chosen, the API refuses an order until a job is chosen (409), and after
// a pick the order goes through with that job's work email reaching the
// API behind the guard; a switch to another job then sends the other
// email, with no new login.
func TestBrowserOfficerPicker(t *testing.T) {
	chromium := requireChromium(t)
	const goh = "sgidtest:goh-mei-ling"
	artifacts := artifactDir(t)
	startExample(t)
	b := startBrowser(t, chromium, artifacts, 90*time.Second)

	b.step("log in as the officer", 30*time.Second,
		chromedp.Navigate(exampleOrigin+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(`button.persona[name="sub"][value="`+goh+`"]`)),
		chromedp.Click(chromedp.CSS(`button.persona[name="sub"][value="`+goh+`"]`)),
		chromedp.WaitVisible(chromedp.ID("user-name")),
		chromedp.WaitVisible(chromedp.ID("officer")),
	)
	b.waitJS("three jobs listed", `document.querySelectorAll('#officer-options button').length === 3`, 5*time.Second)
	if got := textOf(b, chromedp.ID("officer-status")); !strings.Contains(got, "Choose the one you act as") {
		b.fatalf("#officer-status = %q, want a request to choose", got)
	}
	if b.eval(`document.querySelector('#officer-options [aria-pressed="true"]') !== null`) {
		b.fatalf("a job is shown as chosen before any choice")
	}
	b.screenshot("officer-01-picker.png")

	// Before a choice the API refuses the order.
	b.step("order before a choice", 10*time.Second, chromedp.Click(chromedp.ID("order-submit")))
	b.waitJS("order refused", `document.getElementById('order-result').textContent.includes('choose the profile')`, 5*time.Second)

	// The second job, then the first: a switch needs no new login.
	for step, n := range []int{2, 1} {
		email := js[string](b, fmt.Sprintf(`document.querySelectorAll('#officer-options .officer__email')[%d].textContent`, n-1))
		if !strings.Contains(email, "@") {
			b.fatalf("job %d shows no work email: %q", n, email)
		}
		job := fmt.Sprintf(`#officer-options li:nth-child(%d) button`, n)
		b.step("choose a job", 10*time.Second, chromedp.Click(chromedp.CSS(job)))
		b.waitJS("job chosen", `document.querySelector('`+job+`[aria-pressed="true"]') !== null`, 5*time.Second)
		b.step("order", 10*time.Second, chromedp.Click(chromedp.ID("order-submit")))
		b.waitJS("order sent", `document.getElementById('order-result').textContent.includes('The API answered')`, 5*time.Second)
		if got := textOf(b, chromedp.ID("order-result")); !strings.Contains(got, "for "+email) {
			b.fatalf("after choosing job %d the API answered %q, want it for %s", n, got, email)
		}
		b.screenshot(fmt.Sprintf("officer-%02d-job-%d.png", step+2, n))
	}
	if p := b.path(); p != "/logged-in" {
		b.fatalf("the switch left the page for %q", p)
	}
	b.checkConsole()
}
