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

// Plain takes the escaped form of a path: escapes of bytes that neither
// split nor escape a path read alike decoded any number of times, and a
// character outside ASCII is plain only when no router can make ASCII,
// a space or nothing of it.
func TestPlainEscapesAndUnicode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw   string
		plain bool
	}{
		{"/wiki/Foo_(bar)", true},
		{"/a|b[c]", true},
		{"/caf%c3%a9", true},
		{"/%E5%93%81/x", true},
		{"/my%20file.pdf", true},
		{"/%61pi/x", true},
		{"/a%2Fb", false},
		{"/a%5Cb", false},
		{"/a%3Bb", false},
		{"/a%2Eb", false},
		{"/a%25b", false},
		{"/ap%C4%B1/x", false},    // ı upper-cases to I
		{"/%C5%BFecret", false},   // ſ upper-cases to S
		{"/%E2%84%AAey", false},   // Kelvin sign lower-cases to k
		{"/%C4%B0d", false},       // İ lower-cases to i
		{"/%EF%BC%A1pi/x", false}, // fullwidth A
		{"/a%EF%BC%8Fb", false},   // fullwidth solidus
		{"/a%E2%80%A4b", false},   // one dot leader
		{"/a%C2%A0b", false},      // no-break space
		{"/a%E3%80%80b", false},   // ideographic space
		{"/a%E2%80%8Bb", false},   // zero-width space
		{"/a%C0%AFb", false},      // overlong '/'
		{"/a%FFb", false},         // not UTF-8
		{"/api%09/x", false},
		{"/a%C3%9F", true}, // ß: no router we know folds it fully (to ss)
	} {
		if got := Plain(rawRequest(t, tc.raw).URL); got != tc.plain {
			t.Errorf("%s: plain = %v, want %v", tc.raw, got, tc.plain)
		}
	}
	if Plain(&url.URL{Opaque: "api/x"}) {
		t.Error("an opaque URL is plain")
	}
}

// The readings added for Unicode routers, overlong UTF-8 and optional
// trailing slashes.
func TestUnicodeReadings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		read     func(string) string
		in, want string
	}{
		{"dotless i", foldToASCII, "/ap\u0131/x", "/apI/x"},
		{"long s", foldToASCII, "/\u017fecret", "/secret"},
		{"kelvin", foldToASCII, "/\u212aey", "/Key"},
		{"fullwidth", foldToASCII, "/\uff21pi\uff0fx", "/Api/x"},
		{"one dot leader", foldToASCII, "/api/\u2024\u2024/x", "/api/../x"},
		{"overlong slash", foldToASCII, "/api\xc0\xafx", "/api/x"},
		{"overlong 3 bytes", foldToASCII, "/api\xe0\x80\xafx", "/api/x"},
		{"other letters stay", foldToASCII, "/caf\u00e9/\u54c1", "/caf\u00e9/\u54c1"},
		{"trim whitespace", trimSegmentDots, "/api\t/x\u3000/y", "/api/x/y"},
		{"trailing slash", dropTrailingSlash, "/secret/", "/secret"},
		{"root slash stays", dropTrailingSlash, "/", "/"},
	} {
		if got := tc.read(tc.in); got != tc.want {
			t.Errorf("%s: %q -> %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestLiteral(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{"/login": true, "/a-b_c.d~e/f:g@h": true, "/%6cogin": false, "/caf%C3%A9": false, "/a%20b": false, "/a(b)": false} {
		if got := Literal(rawRequest(t, raw).URL); got != want {
			t.Errorf("%s: %v, want %v", raw, got, want)
		}
	}
}

// Views reads a path longer than MaxReadLen not at all, and no reading
// grows past its bound.
func TestViewsBounded(t *testing.T) {
	t.Parallel()
	long := "/" + strings.Repeat("%2e", MaxReadLen)
	if views, complete := Views(rawRequest(t, long).URL); complete || len(views) != 0 {
		t.Errorf("long path: %d views, complete %v", len(views), complete)
	}
	// U+FDFA, 3 bytes sent as they are, grows to 33 under NFKC.
	wide := "/" + strings.Repeat("\uFDFA", MaxReadLen/3-2) + "/%2e"
	views, complete := Views(rawRequest(t, wide).URL)
	for _, v := range views {
		if len(v) > 4*MaxReadLen {
			t.Fatalf("a reading of %d bytes", len(v))
		}
	}
	if complete {
		t.Error("a path whose reading outgrows the bound is complete")
	}
}

// A Reading makes the views of a path once, however often asked, and
// none for a plain path until asked.
func TestReadingReadsOnce(t *testing.T) {
	t.Parallel()
	r := Read(rawRequest(t, "/public/%2e%2e/x").URL)
	if r.Plain || r.read {
		t.Fatalf("plain %v, read before asked %v", r.Plain, r.read)
	}
	first, _ := r.Views()
	again, _ := r.Views()
	if len(first) == 0 || &first[0] != &again[0] {
		t.Error("the views were made again")
	}
	if p := Read(rawRequest(t, "/public/x").URL); !p.Plain || p.read {
		t.Errorf("plain path: %+v", p)
	}
}
