package caddysgid

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// The fuzz targets of the parsers that take bytes from a browser or an
// operator. Their seed corpora are under testdata/fuzz/<FuzzName>/. The
// session package fuzzes the opening of login cookies and session ids.

// FuzzUnmarshalCaddyfile feeds arbitrary Caddyfile text to the sgid
// directive's parser. It must never panic; what it accepts encodes to JSON,
// and parsing the same text again gives the same config.
func FuzzUnmarshalCaddyfile(f *testing.F) {
	f.Add("sgid")
	f.Add("sgid {\n}")
	f.Add("sgid {\n\tstore redis {\n\t\taddress redis.internal:6379\n\t}\n\tidentity_header\n}")
	f.Fuzz(func(t *testing.T, input string) {
		var h Handler
		if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			return
		}
		first, err := json.Marshal(h)
		if err != nil {
			t.Fatalf("accepted %q into a config that does not encode: %v", input, err)
		}
		var again Handler
		if err := again.UnmarshalCaddyfile(caddyfile.NewTestDispenser(input)); err != nil {
			t.Fatalf("accepted %q once, then refused it: %v", input, err)
		}
		if second, _ := json.Marshal(again); string(second) != string(first) {
			t.Fatalf("%q parsed to %s, then to %s", input, first, second)
		}
	})
}

// FuzzStripSessionCookies feeds arbitrary Cookie headers (two lines) to
// the guard's stripping. As Go's cookie parser reads the result, neither
// the session cookie nor a login cookie is left, under its plain or its
// __Host- name, and every other cookie is passed on as it came.
func FuzzStripSessionCookies(f *testing.F) {
	f.Add("sgid_session=abc; theme=dark", "")
	f.Add(" sgid_session = x ;a=1", "sgid_session_login_AAAAAAAAAAAA=v")
	f.Add("sgid_session", "b=2; sgid_session=\"q\"")
	f.Add("__Host-sgid_session=abc; __Secure-sgid_session=x", "__Host-sgid_session_login_AAAAAAAAAAAA=v")
	ours := func(n string) bool {
		base := strings.TrimPrefix(n, hostPrefix)
		return base == DefaultCookieName || isLoginCookieName(base, DefaultCookieName)
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		in := http.Header{"Cookie": {line1, line2}}
		out := in.Clone()
		stripSessionCookies(out, DefaultCookieName)
		var want []string
		for _, c := range (&http.Request{Header: in}).Cookies() {
			if !ours(c.Name) {
				want = append(want, c.String())
			}
		}
		var got []string
		for _, c := range (&http.Request{Header: out}).Cookies() {
			if ours(c.Name) {
				t.Fatalf("Cookie %q still passes on %s after stripping: %q", in["Cookie"], c.Name, out["Cookie"])
			}
			got = append(got, c.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Cookie %q became %q: the other cookies went from %q to %q", in["Cookie"], out["Cookie"], want, got)
		}
	})
}

// FuzzLoginCookieName: every login cookie's name is recognised as one,
// and the session cookie's name never is.
func FuzzLoginCookieName(f *testing.F) {
	f.Add(DefaultCookieName, "fuzz-state-0123456789abcdefghijklmnopqrstuvw")
	f.Add("a", "")
	f.Fuzz(func(t *testing.T, name, state string) {
		if !isLoginCookieName(loginCookieName(name, state), name) {
			t.Fatalf("the login cookie of state %q under %q is not recognised", state, name)
		}
		if isLoginCookieName(name, name) {
			t.Fatalf("the session cookie %q is taken for a login cookie", name)
		}
	})
}
