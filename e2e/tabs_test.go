package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// requireChromium is the path of Chromium, or skips the test (fails it
// under CI) when there is none.
func requireChromium(t *testing.T) string {
	t.Helper()
	chromium := findChromium()
	if chromium == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("browser test cannot run: Chromium not found; install Debian's chromium package (CI is set, so this fails instead of skipping)")
		}
		t.Skip("browser test skipped: Chromium not found; install Debian's chromium package")
	}
	return chromium
}

// tab opens another tab in b's browser for the test t, closed when t
// ends. With chromedp.WithNewBrowserContext() it has a cookie jar and
// storage of its own (a fresh profile, as another person's browser);
// without, it shares b's, as a second tab of the same browser does.
func (b *chrome) tab(t *testing.T, opts ...chromedp.ContextOption) *chrome {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, opts...)
	return attach(t, b.dir, ctx, cancel)
}

// attach wraps a tab's context, collecting its console.
func attach(t *testing.T, dir string, ctx context.Context, cancel context.CancelFunc) *chrome {
	t.Helper()
	nb := &chrome{t: t, ctx: ctx, dir: dir}
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open a tab: %v", err)
	}
	done := make(chan struct{})
	messages := chromedp.Console(ctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			nb.mu.Lock()
			nb.console = append(nb.console, m)
			nb.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	return nb
}

// popup runs trigger in b and returns the window the page opened.
func (b *chrome) popup(name string, trigger ...chromedp.Action[chromedp.Void]) *chrome {
	b.t.Helper()
	ch := chromedp.WaitNewTarget(b.ctx, func(info *target.Info) bool { return info.Type == "page" })
	b.step(name, 10*time.Second, trigger...)
	select {
	case id, ok := <-ch:
		if !ok {
			b.fatalf("%s: the tab is gone", name)
		}
		ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(id))
		return attach(b.t, b.dir, ctx, cancel)
	case <-time.After(10 * time.Second):
		b.fatalf("%s: no window opened", name)
	}
	return nil
}

// waitJS waits until the expression is truthy in the page.
func (b *chrome) waitJS(name, expr string, limit time.Duration) {
	b.t.Helper()
	b.step(name, limit+2*time.Second, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(limit)))
}

// js evaluates an expression (awaiting a promise) and decodes its value.
func js[T any](b *chrome, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// targetsAt counts the browser's pages whose URL holds s.
func targetsAt(b *chrome, s string) int {
	b.t.Helper()
	infos, err := chromedp.Targets(b.ctx)
	if err != nil {
		b.fatalf("list targets: %v", err)
	}
	n := 0
	for _, info := range infos {
		if info.Type == "page" && strings.Contains(info.URL, s) {
			n++
		}
	}
	return n
}
