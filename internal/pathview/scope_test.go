package pathview

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// matcherAnswer is what Matches answers for a plain path through Caddy's
// path matcher alone: the path, or the path without its trailing slash.
func matcherAnswer(t testing.TB, patterns caddyhttp.MatchPath, r *http.Request) bool {
	if ok, err := patterns.MatchWithError(r); ok || err != nil {
		return true
	}
	if p := r.URL.Path; len(p) > 1 && p[len(p)-1] == '/' {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = p[:len(p)-1], ""
		ok, err := patterns.MatchWithError(r2)
		return ok || err != nil
	}
	return false
}

func withReplacer(r *http.Request) *http.Request {
	repl := caddy.NewReplacer()
	repl.Set("site", "shop")
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
}

func provisioned(t testing.TB, patterns ...string) caddyhttp.MatchPath {
	m := caddyhttp.MatchPath(append([]string(nil), patterns...))
	if err := m.Provision(caddy.Context{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMatchPlainAgreesWithTheMatcher: the short way for a plain path
// answers as Caddy's path matcher does, and it leaves to the matcher
// what it cannot answer the same way: upper case, non-ASCII, placeholders,
// escapes and runs of slashes in patterns.
func TestMatchPlainAgreesWithTheMatcher(t *testing.T) {
	patterns := [][]string{
		{"/api/*"}, {"/API/*"}, {"/api"}, {"/api/"}, {"*.json"}, {"*/admin/*"}, {"/a*/b"},
		{"/api/*", "/admin"}, {"*"}, {"/{site}/*"}, {"/a%2fb"}, {"/x//y"}, {"/[ab]pi/*"},
		{"/api/orders"}, {"/apı/*"},
	}
	paths := []string{
		"/api/orders", "/api/", "/api", "/API/orders", "/Api", "/admin", "/admin/",
		"/x/admin/y", "/data.json", "/app/page", "/shop/cart", "/a/b", "/abc/b", "/bpi/x",
		"/api/orders/", "/caf%C3%A9/api/x", "/a%41pi/orders", "/", "/apı/x", "/x/y",
	}
	sure := 0
	for _, ps := range patterns {
		m := provisioned(t, ps...)
		for _, raw := range paths {
			r := withReplacer(rawRequest(t, raw))
			reading := Read(r.URL)
			if !reading.Plain {
				continue
			}
			want := matcherAnswer(t, m, r)
			got, ok := matchPlain(m, r.URL.Path)
			if ok {
				sure++
				if got != want {
					t.Errorf("patterns %q, path %q: short way %v, matcher %v", ps, raw, got, want)
				}
			}
			if Matches(m, r, &reading) != want {
				t.Errorf("patterns %q, path %q: Matches is not %v", ps, raw, want)
			}
		}
	}
	if sure == 0 {
		t.Fatal("the short way answered nothing")
	}
	// What it must leave to the matcher.
	for _, c := range []struct {
		patterns []string
		path     string
	}{
		{[]string{"/api/*"}, "/API/orders"},
		{[]string{"/api/*"}, "/café"},
		{[]string{"/{site}/*"}, "/shop/x"},
		{[]string{"/a%2fb"}, "/a/b"},
		{[]string{"/x//y"}, "/x/y"},
	} {
		if _, ok := matchPlain(provisioned(t, c.patterns...), c.path); ok {
			t.Errorf("patterns %q, path %q: answered without the matcher", c.patterns, c.path)
		}
	}
}

// FuzzMatchPlain: wherever the short way answers, the matcher agrees.
func FuzzMatchPlain(f *testing.F) {
	for _, s := range [][2]string{{"/api/*", "/api/x"}, {"*.js", "/a.js"}, {"/a*b", "/ab"}, {"*x*", "/yxz/"}, {"/a/[b-c]", "/a/b"}, {"/A", "/a/"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?# \t\r\n") {
			return
		}
		r, err := http.NewRequest(http.MethodGet, "http://x"+path, nil)
		if err != nil || r.URL.Path != path || !Plain(r.URL) {
			return
		}
		m := provisioned(t, pattern)
		got, ok := matchPlain(m, r.URL.Path)
		if ok && got != matcherAnswer(t, m, withReplacer(r)) {
			t.Fatalf("pattern %q, path %q: short way %v", pattern, path, got)
		}
	})
}
