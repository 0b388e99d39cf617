package pathview

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// rawRequest is the request a server reads from the request line
// "GET raw HTTP/1.1", with URL.Path and URL.RawPath as Caddy sees them.
func rawRequest(t *testing.T, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + raw + " HTTP/1.1\r\nHost: x\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPlainPath: the fast path takes only paths with a single reading;
// each thing a router reads in another way sends a path to the views.
func TestPlainPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw   string
		plain bool
	}{
		{"/api/acme/members", true},
		{"/", true},
		{"/index.html", true},
		{"/a.b/c", true},
		{"/caf%C3%A9", true},
		{"/.well-known/x", true},
		{"/api/%2e%2e/x", false}, // RawPath is set
		{"/api%252e", false},     // a '%' left after decoding
		{"/api;x", false},
		{`/api\x`, false},
		{"/api%3fx", false},
		{"/api%23x", false},
		{"/api%01x", false},
		{"/api%7fx", false},
		{"//api", false},
		{"/api/../x", false},
		{"/api/.", false},
		{"/api./x", false},
		{"/api%20", false},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			if got := Plain(rawRequest(t, tc.raw).URL); got != tc.plain {
				t.Errorf("plain = %v, want %v", got, tc.plain)
			}
		})
	}
}

// The readings each turn a path into what that kind of router sees.
func TestPathReadings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		read     func(string) string
		in, want string
	}{
		{"decode", percentDecode, "/a%2e%2E/%2fb", "/a..//b"},
		{"decode stray", percentDecode, "/a%zz%2e%", "/a%zz.%"},
		{"backslashes", backslashesAsSlashes, `/a\b\`, "/a/b/"},
		{"params", dropPathParams, "/a;x/b;y=1;z/c;", "/a/b/c"},
		{"params keep slashes", dropPathParams, "/;/a/", "//a/"},
		{"cut", cutAtDelimiter, "/a?b#c", "/a"},
		{"cut NUL", cutAtDelimiter, "/a\x00b", "/a"},
		{"merge", mergeSlashes, "//a///b/../c", "/a/b/../c"},
		{"trim", trimSegmentDots, "/a./b ./../.", "/a/b/../."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.read(tc.in); got != tc.want {
				t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestIsLocal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"/", true},
		{"/logged-in", true},
		{"/a/b?c=d#e", true},
		{"", false},
		{"logged-in", false},
		{"//evil.example", false},
		{"/\\evil.example", false},
		{"https://evil.example", false},
		{"/a\nb", false},
		{"/a\x7fb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, want := tc.name, tc.want
			if got := IsLocal(p); got != want {
				t.Errorf("IsLocal(%q) = %v, want %v", p, got, want)
			}
		})
	}
}

// FuzzIsLocal: whatever IsLocal accepts stays on this origin, also
// as a browser reads it (browsers drop tabs and newlines from URLs and read
// a backslash as a slash).
func FuzzIsLocal(f *testing.F) {
	for _, s := range []string{"/", "/logged-in?x=1", "//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "/%2F%2Fevil", "/..//evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/api/redirect")
	f.Fuzz(func(t *testing.T, p string) {
		if !IsLocal(p) {
			return
		}
		asBrowser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(p)
		ref, err := url.Parse(asBrowser)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", p, err)
		}
		if got := base.ResolveReference(ref); got.Scheme != "https" || got.Host != "app.example" {
			t.Errorf("accepted %q, which leads to %s", p, got)
		}
	})
}
