package caddysgid

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
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
	g := testGuardHandler(t, &Guard{IdentityHeaders: map[string]string{"x-sgid-sub": "sub", "X-Sgid-Name": "myinfo.name"}}).Guard
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
	g.scrubbed.Scrub(r)
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
	g.scrubbed.Scrub(r)
	if _, ok := r.Header["Connection"]; ok {
		t.Errorf("empty Connection header left: %q", r.Header["Connection"])
	}
}

// TestSgidRoutesScrubIdentity: the handler's own routes, which pass
// nothing on, also lose the client's identity headers.
func TestSgidRoutesScrubIdentity(t *testing.T) {
	t.Parallel()
	h := testGuardHandler(t, &Guard{IdentityHeaders: map[string]string{"X-Sgid-Sub": "sub"}})
	for _, path := range []string{h.UserinfoPath, h.LogoutPath, "/elsewhere"} {
		r := withReplacer(httptest.NewRequest(http.MethodGet, path, nil))
		r.Header["X-Sgid-Sub"] = []string{"evil"}
		r.Header["X_Sgid_Sub"] = []string{"evil"}
		h.ServeHTTP(httptest.NewRecorder(), r, guardNext)
		if len(r.Header) != 0 {
			t.Errorf("%s: headers left: %v", path, r.Header)
		}
	}
}

// The sub is the user's identity in {http.auth.user.id} even when the
// session's data holds an "id" key (Validate refuses such app keys; this is
// the second line of defence).
func TestSetIdentitySubWins(t *testing.T) {
	t.Parallel()
	for range 20 { // map order varies: try it more than once
		r := withReplacer(httptest.NewRequest(http.MethodGet, "/", nil))
		setPlaceholders(r, identityPlaceholders(session.Session{Sub: "sgidtest:real", Data: map[string]string{"id": "sgidtest:forged", "a": "1", "b": "2", "c": "3"}}))
		repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		if got, _ := repl.GetString("http.auth.user.id"); got != "sgidtest:real" {
			t.Fatalf("{http.auth.user.id} = %q, want the sub", got)
		}
	}
}
