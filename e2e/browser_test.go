// Package e2e drives the shipped example through a real browser. It is a
// module of its own so that the plugin's go.mod, which every xcaddy build
// merges into its module graph, does not require chromedp.
package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddytest"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	_ "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// The example configuration's site and stand-in API; Caddyfile.example
// fixes both ports. The plugin's own tests use them too, but this module is
// run by a go test invocation of its own, after the plugin's (see .ci/run),
// never at the same time.
const (
	exampleOrigin  = "http://localhost:5001"
	exampleSite    = 5001
	exampleAPIPort = 5002
)

// adminPort is the test Caddy's admin endpoint; no other package's tests
// use it (the plugin's use 2999, the conformance tests 2998).
const adminPort = 2997

// TestBrowserExampleLogin runs Caddyfile.example (the demo SPA with the
// built-in mock sgID) in-process and walks the whole login in headless
// Chromium: pick a flavour, log in as a mock persona, see the name, reload,
// log out. Each step leaves a PNG screenshot in the artifact directory (env
// SGID_ARTIFACTS, else t.ArtifactDir, which `go test -artifacts` keeps).
//
// It needs Debian's chromium package. Without it the test skips, except
// under CI (env CI set), where it fails.
func TestBrowserExampleLogin(t *testing.T) {
	chromium := requireChromium(t)
	persona := sgidtest.DefaultPersonas()[0]
	wantName := persona.Data["myinfo.name"]
	wantNRIC := persona.Data["myinfo.nric_number"]
	if wantName == "" || wantNRIC == "" {
		t.Fatalf("persona %s lacks myinfo.name or myinfo.nric_number", persona.Sub)
	}
	artifacts := artifactDir(t)

	startExample(t)

	b := startBrowser(t, chromium, artifacts, 60*time.Second)
	start := time.Now()

	// 1. Home: pick Chocolate and start the login.
	b.step("open home page", 15*time.Second,
		chromedp.Navigate(exampleOrigin+"/"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.Click(chromedp.CSS(`input[name="icecream"][value="Chocolate"]`)),
	)
	if !b.eval(`document.querySelector('input[name="icecream"][value="Chocolate"]').checked`) {
		b.fatalf("Chocolate is not selected after clicking it")
	}
	b.screenshot("01-home.png")
	b.step("click login", 15*time.Second,
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(".banner")),
	)

	// 2. The mock's login page: pick the first default persona.
	if p := b.path(); !strings.HasPrefix(p, "/sgid-mock/") {
		b.fatalf("login went to %q, want the mock under /sgid-mock/", p)
	}
	if banner := textOf(b, chromedp.CSS(".banner")); !strings.Contains(banner, "Mock sgID") {
		b.fatalf("mock login page banner = %q, want it to contain %q", banner, "Mock sgID")
	}
	personaButton := chromedp.CSS(fmt.Sprintf(`button.persona[name="sub"][value=%q]`, persona.Sub))
	b.step("find persona", 10*time.Second, chromedp.WaitVisible(personaButton))
	b.screenshot("02-mock-login.png")
	b.step("choose persona", 15*time.Second,
		chromedp.Click(personaButton),
		chromedp.WaitVisible(chromedp.ID("user-name")),
	)

	// 3. Back in the SPA, logged in.
	if p := b.path(); p != "/logged-in" {
		b.fatalf("after login the page is %q, want /logged-in", p)
	}
	if got := textOf(b, chromedp.ID("user-name")); got != wantName {
		b.fatalf("#user-name = %q, want %q", got, wantName)
	}
	if got := textOf(b, chromedp.ID("user-icecream")); got != "Chocolate" {
		b.fatalf("#user-icecream = %q, want Chocolate", got)
	}
	if got := textOf(b, chromedp.ID("user-fields")); !strings.Contains(got, wantNRIC) {
		b.fatalf("#user-fields does not show the NRIC %s:\n%s", wantNRIC, got)
	}
	b.screenshot("03-logged-in.png")

	// 4. A reload keeps the session: it lives server-side, behind a cookie.
	b.step("reload", 15*time.Second,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("user-name")),
	)
	if got := textOf(b, chromedp.ID("user-name")); got != wantName {
		b.fatalf("after reload #user-name = %q, want %q", got, wantName)
	}
	b.screenshot("04-reloaded.png")

	// Phone-size layout of the logged-in page, once.
	b.step("phone layout", 15*time.Second,
		chromedp.EmulateViewport(375, 800, chromedp.EmulateMobile),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("user-name")),
	)
	b.viewportScreenshot("06-phone.png")
	b.step("desktop layout", 10*time.Second, clearEmulation())

	// 5. Log out: back home, and /logged-in shows no one.
	b.step("log out", 15*time.Second,
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("login")),
	)
	if p := b.path(); p != "/" {
		b.fatalf("after logout the page is %q, want /", p)
	}
	b.step("open /logged-in signed out", 15*time.Second,
		chromedp.Navigate(exampleOrigin+"/logged-in"),
		chromedp.WaitVisible(chromedp.ID("signed-out")),
	)
	if b.eval(`document.getElementById('user-name') !== null`) {
		b.fatalf("#user-name is still shown after logout")
	}
	if status := b.evalInt(`fetch('/api/userinfo', {credentials: 'include'}).then(r => r.status)`); status != 401 {
		b.fatalf("after logout /api/userinfo answers %d, want 401", status)
	}
	b.screenshot("05-logged-out.png")

	b.checkConsole()
	t.Logf("browser flow took %v; screenshots in %s", time.Since(start).Round(time.Millisecond), artifacts)
	if os.Getenv("SGID_ARTIFACTS") == "" && !artifactsFlag() {
		t.Log("(that directory is removed after the test; keep the screenshots with go test -artifacts, or set SGID_ARTIFACTS=dir)")
	}
}

// clearEmulation undoes EmulateViewport: it clears the device metrics
// override. (chromedp.ResetViewport, which sets a 0x0 override, left the
// page at 375x800 here.)
func clearEmulation() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: false})
		return err
	})
}

// findChromium returns the path of Debian's chromium, or "".
func findChromium() string {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	return ""
}

// artifactDir is where the screenshots go: SGID_ARTIFACTS if set, else the
// test's artifact directory (kept by `go test -artifacts`, else removed).
func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("SGID_ARTIFACTS"); d != "" {
		// Absolute, since the test changes its working directory.
		d, err := filepath.Abs(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// artifactsFlag reports whether go test ran with -artifacts.
func artifactsFlag() bool {
	f := flag.Lookup("test.artifacts")
	return f != nil && f.Value.String() == "true"
}

// chrome is one headless Chromium tab with the test's helpers.
type chrome struct {
	t   *testing.T
	ctx context.Context
	dir string // artifacts

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// startBrowser starts Chromium with a fresh profile; everything it does must
// end within limit. The browser is closed when the test ends, also on
// failure.
func startBrowser(t *testing.T, execPath, artifacts string, limit time.Duration) *chrome {
	t.Helper()
	profile := t.TempDir()
	timeoutCtx, cancelTimeout := context.WithTimeout(context.Background(), limit)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(timeoutCtx,
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(func(string, ...any) {}),
	)
	b := &chrome{t: t, ctx: ctx, dir: artifacts}
	consoleDone := make(chan struct{})
	t.Cleanup(func() {
		// Close the browser gracefully, but never wait long for it.
		closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = chromedp.Cancel(closeCtx)
		cancel()
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
		cancelTimeout()
		<-consoleDone
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		close(consoleDone)
		t.Fatalf("start Chromium %s: %v", execPath, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// step runs actions with a time limit; on failure it saves a screenshot of
// the page as it is and fails the test.
func (b *chrome) step(name string, limit time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not done within %v: %w", limit, err)
		}
		b.fatalf("step %q: %v", name, err)
	}
}

// fatalf saves a screenshot of the failing page, logs the page's URL and
// console, and fails the test.
func (b *chrome) fatalf(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(b.dir, "failed.png")
		if os.WriteFile(p, png, 0o644) == nil {
			b.t.Logf("screenshot of the failure: %s", p)
		}
	}
	b.logConsole()
	b.t.Fatalf("at %s: %s", loc, fmt.Sprintf(format, args...))
}

func (b *chrome) screenshot(name string) {
	b.t.Helper()
	b.save(name, chromedp.FullScreenshot(100)) // quality 100 means PNG
}

func (b *chrome) viewportScreenshot(name string) {
	b.t.Helper()
	b.save(name, chromedp.CaptureScreenshot())
}

func (b *chrome) save(name string, shot chromedp.Action[[]byte]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// path is the path of the page's URL.
func (b *chrome) path() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.fatalf("read location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.fatalf("location %q: %v", loc, err)
	}
	return u.Path
}

// textOf is the trimmed textContent of the element, as the DOM has it
// (no CSS text-transform).
func textOf[S chromedp.Selectable](b *chrome, sel S) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(sel))
	if err != nil {
		b.fatalf("read text of %v: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *chrome) eval(expr string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *chrome) evalInt(expr string) int {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *chrome) messages() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.console...)
}

func (b *chrome) logConsole() {
	b.t.Helper()
	for _, m := range b.messages() {
		b.t.Logf("console: %v", m)
	}
}

// checkConsole fails on an uncaught exception or a console error other
// than a failed request (the signed-out page's 401 from /api/userinfo is
// expected); a CSP violation in the SPA shows up here.
func (b *chrome) checkConsole() {
	b.t.Helper()
	b.logConsole()
	for _, m := range b.messages() {
		if m.IsException() || (m.Type == chromedp.ConsoleError && m.Source != "network") {
			b.t.Errorf("browser console: %v", m)
		}
	}
}

// examplePorts is the check of the example's ports, made once per test
// process: caddytest keeps one Caddy for the process, so after the first
// test that loads the example, its own listeners hold the ports, and the
// next test's config replaces them through the admin API rather than
// starting a second server beside them.
var examplePorts struct {
	once sync.Once
	err  error
}

// requireExamplePortsFree stops the test when, before this process's first
// Caddy, another process holds a port the example uses.
func requireExamplePortsFree(t *testing.T) {
	t.Helper()
	examplePorts.once.Do(func() { examplePorts.err = testcaddy.PortsFree(adminPort, exampleSite, exampleAPIPort) })
	if examplePorts.err != nil {
		t.Fatal(examplePorts.err)
	}
}

// startExample runs Caddyfile.example as it is, with test admin settings
// and storage of the test's own, in this process's Caddy. Its paths (root
// * example) are relative to the repository root, so the test moves there.
func startExample(t *testing.T) {
	t.Helper()
	t.Chdir("..")
	raw, err := os.ReadFile("Caddyfile.example")
	if err != nil {
		t.Fatal(err)
	}
	requireExamplePortsFree(t)
	cfg := testcaddy.WithGlobalOptions(string(raw),
		fmt.Sprintf("admin localhost:%d", adminPort),
		"grace_period 1ns",
		"skip_install_trust",
		testcaddy.StorageOption(t),
	)
	caddytest.NewTester(t).
		WithDefaultOverrides(caddytest.Config{AdminPort: adminPort}).
		InitServer(cfg, "caddyfile")
}
