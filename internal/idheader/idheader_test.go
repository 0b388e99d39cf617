package idheader_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

func TestEncodeIdentityValue(t *testing.T) {
	t.Parallel()
	personas := sgidtest.DefaultPersonas()
	tests := []struct{ in, want string }{
		{"", ""},
		{"sgidtest:tan-wei-ming", "sgidtest:tan-wei-ming"},
		{"NUR AISYAH BINTE RAHMAT", "NUR AISYAH BINTE RAHMAT"},
		{`[{"a":"b, c;d"}]`, `[{"a":"b, c;d"}]`},
		{"100%", "100%25"},
		{"%41", "%2541"},
		{"+6580000001", "%2B6580000001"},
		{"a b", "a b"},
		{" a ", "%20a%20"},
		{" ", "%20"},
		{"tab\there", "tab%09here"},
		{"del\x7f", "del%7F"},
		{"nul\x00", "nul%00"},
		{"TAN WEI MING (陈伟明)", "TAN WEI MING (%E9%99%88%E4%BC%9F%E6%98%8E)"},
		{"RENÉE", "REN%C3%89E"},
		{"BLK 101\n#05-123\r\nSG", "BLK 101%0A#05-123%0D%0ASG"},
		{"\xff\xfe", "%FF%FE"}, // not UTF-8: still byte-exact
	}
	for _, p := range personas {
		for _, v := range p.Data {
			tests = append(tests, struct{ in, want string }{v, ""})
		}
	}
	for _, tc := range tests {
		got := idheader.Encode(tc.in)
		if tc.want != "" && got != tc.want {
			t.Errorf("encode(%q) = %q, want %q", tc.in, got, tc.want)
		}
		testcaddy.CheckIdentityEncoding(t, tc.in, got)
	}
}

func FuzzEncodeIdentityValue(f *testing.F) {
	for _, s := range []string{"", "a", " x ", "%+", "陈伟明", "a\nb", "\x00\x7f\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		testcaddy.CheckIdentityEncoding(t, s, idheader.Encode(s))
	})
}

func TestScrubIdentity(t *testing.T) {
	t.Parallel()
	// The names the guard scrubs for identity_headers {"x-sgid-sub": "sub",
	// "X-Sgid-Name": "myinfo.name"}.
	scrubbed := idheader.NewNames("x-sgid-sub", "X-Sgid-Name")
	r := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("body"))
	r.Header = http.Header{
		"X-Sgid-Sub":  {"a", "b"},
		"x-sgid-sub":  {"c"}, // as a non-Go front end might hand it over
		"X_sgid_sub":  {"d"},
		"X-SGID_NAME": {"e"},
		"X-Sgid-Subx": {"keep"},
		"X-Other":     {"keep"},
		"Connection":  {"keep-alive, X-Sgid-Sub", "x_sgid_name"},
	}
	r.Trailer = http.Header{"X-Sgid-Name": nil, "X-Checksum": nil}
	scrubbed.Scrub(r)
	want := http.Header{"X-Sgid-Subx": {"keep"}, "X-Other": {"keep"}, "Connection": {"keep-alive"}}
	if fmt.Sprint(r.Header) != fmt.Sprint(want) {
		t.Errorf("headers = %v, want %v", r.Header, want)
	}
	if _, ok := r.Trailer["X-Sgid-Name"]; ok || len(r.Trailer) != 1 {
		t.Errorf("declared trailers = %v", r.Trailer)
	}
	// The values of trailers arrive with the end of the body.
	r.Trailer["X-Sgid-Sub"] = []string{"late"}
	io.ReadAll(r.Body)
	if _, ok := r.Trailer["X-Sgid-Sub"]; ok {
		t.Errorf("trailer set at EOF survived: %v", r.Trailer)
	}

	r.Header = http.Header{"Connection": {"X-Sgid-Sub"}}
	scrubbed.Scrub(r)
	if _, ok := r.Header["Connection"]; ok {
		t.Errorf("empty Connection header left: %q", r.Header["Connection"])
	}
}

// NewNames keeps each name it is given, canonical or not, and nothing
// else; a nil set holds none and scrubs nothing.
func TestNewNames(t *testing.T) {
	t.Parallel()
	n := idheader.NewNames("x-sgid-sub", "X-SGID-NAME", "X_Sgid_Dob")
	for _, name := range []string{"X-Sgid-Sub", "x-sgid-name", "X-Sgid-Dob"} {
		if !n.Has(name) {
			t.Errorf("NewNames(...).Has(%q) = false", name)
		}
	}
	for _, name := range []string{"X-Sgid", "X-Sgid-Subject", "X-Other", ""} {
		if n.Has(name) {
			t.Errorf("NewNames(...).Has(%q) = true", name)
		}
	}
	if idheader.NewNames().Has("X-Sgid-Sub") {
		t.Error("an empty set holds X-Sgid-Sub")
	}
	var none *idheader.Names
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Sgid-Sub", "a")
	none.Scrub(r)
	if r.Header.Get("X-Sgid-Sub") != "a" {
		t.Error("a nil set scrubbed a header")
	}
}

// Has ignores ASCII case and takes '_' and '-' as equal, and nothing
// more: a name of another length, or with another letter, is not in the
// set, including names of 64 bytes and more, which skip the length bits.
func TestNamesHas(t *testing.T) {
	t.Parallel()
	long := "X-" + strings.Repeat("a", 70)
	n := idheader.NewNames("X-Sgid-Sub", long)
	tests := []struct {
		name string
		want bool
	}{
		{"X-Sgid-Sub", true},
		{"x-sgid-sub", true},
		{"X_SGID_SUB", true},
		{"x_sgid-Sub", true},
		{"X-Sgid-Sux", false},
		{"X-Sgid-Su", false},
		{"X-Sgid-Subb", false},
		{"X.Sgid.Sub", false},
		{strings.ToUpper(strings.ReplaceAll(long, "-", "_")), true},
		{long[:len(long)-1] + "b", false},
	}
	for _, tc := range tests {
		if got := n.Has(tc.name); got != tc.want {
			t.Errorf("Has(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Same compares two names of equal length the way an upstream that maps
// them to CGI-style variables does.
func TestSame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"X-Sgid-Sub", "X-Sgid-Sub", true},
		{"X-Sgid-Sub", "x-SGID-sub", true},
		{"X-Sgid-Sub", "X_Sgid_Sub", true},
		{"X_Sgid_Sub", "x-sgid-sub", true},
		{"X-Sgid-Sub", "X-Sgid-Sux", false},
		{"X-Sgid-Sub", "X.Sgid-Sub", false},
		{"a", "@", false}, // '@' is 'A'-1: not a letter to fold
		{"[", "{", false}, // '[' is 'Z'+1, '{' is 'z'+1
		{"", "", true},
	}
	for _, tc := range tests {
		if got := idheader.Same(tc.a, tc.b); got != tc.want {
			t.Errorf("Same(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// IsToken accepts RFC 9110 tokens and nothing else.
func TestIsToken(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"X-Sgid-Sub", "x_sgid_sub", "a", "0", "!#$%&'*+-.^_`|~"} {
		if !idheader.IsToken(s) {
			t.Errorf("IsToken(%q) = false", s)
		}
	}
	for _, s := range []string{"", "X Sgid", "X-Sgid:", "X-Sgid\n", "(a)", "a,b", "a;b", `"a"`, "a/b", "X-Sgíd", "a\x00", "a\x7f"} {
		if idheader.IsToken(s) {
			t.Errorf("IsToken(%q) = true", s)
		}
	}
}

// Forbidden refuses the headers that cannot carry an identity and allows
// others.
func TestForbidden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Cookie",
		"Content-Length", "Content-Type", "Expect", "Forwarded", "Authorization",
		"X-Forwarded-For", "X-Forwarded-User"} {
		if !idheader.Forbidden(name) {
			t.Errorf("Forbidden(%q) = false", name)
		}
	}
	for _, name := range []string{"X-Sgid-Sub", "X-User", "Remote-User", "X-Forwarded", "X-Auth-Request-User"} {
		if idheader.Forbidden(name) {
			t.Errorf("Forbidden(%q) = true", name)
		}
	}
}
