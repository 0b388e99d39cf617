package caddysgid

import (
	"net/http"
	"strings"
	"testing"
)

func TestStripSessionCookies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []string // nil: no Cookie header left
	}{
		{nil, nil},
		{[]string{"theme=dark"}, []string{"theme=dark"}},
		{[]string{"sgid_session=abc"}, nil},
		{[]string{"sgid_session=abc; sgid_session_login=def"}, nil},
		{[]string{"theme=dark; sgid_session=abc; lang=en"}, []string{"theme=dark; lang=en"}},
		{[]string{"sgid_session_login=x;theme=dark"}, []string{"theme=dark"}},
		// Names that only start with ours, and values that contain them, stay.
		{[]string{"sgid_session2=a; x=sgid_session; sgid_session_loginx=b"}, []string{"sgid_session2=a; x=sgid_session; sgid_session_loginx=b"}},
		// HTTP/2 may split cookies over several header lines.
		{[]string{"a=1", "sgid_session=abc", "b=2; sgid_session=dup"}, []string{"a=1", "b=2"}},
		{[]string{" sgid_session = abc ; a=1"}, []string{"a=1"}},
		// The __Host- names of HTTPS are ours too; other prefixes are not.
		{[]string{"__Host-sgid_session=abc; __Host-sgid_session_login=def; a=1"}, []string{"a=1"}},
		{[]string{"__Secure-sgid_session=abc; __Host-sgid_session2=b"}, []string{"__Secure-sgid_session=abc; __Host-sgid_session2=b"}},
	} {
		h := http.Header{}
		if tc.in != nil {
			h["Cookie"] = append([]string(nil), tc.in...)
		}
		stripSessionCookies(h, DefaultCookieName)
		got, ok := h["Cookie"]
		if tc.want == nil {
			if ok {
				t.Errorf("%q: Cookie %q left, want none", tc.in, got)
			}
			continue
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: Cookie %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWireCookieName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base   string
		secure bool
		want   string
	}{
		{"sgid_session", false, "sgid_session"},
		{"sgid_session", true, "__Host-sgid_session"},
		{"sgid_session_login", true, "__Host-sgid_session_login"},
		{"app_sid_login_abc", true, "__Host-app_sid_login_abc"},
	} {
		if got := wireCookieName(tc.base, tc.secure); got != tc.want {
			t.Errorf("wireCookieName(%q, %v) = %q, want %q", tc.base, tc.secure, got, tc.want)
		}
	}
}
