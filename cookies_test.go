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
		{[]string{"sgid_session=abc; sgid_session_login_AAAAAAAAAAAA=def"}, nil},
		{[]string{"theme=dark; sgid_session=abc; lang=en"}, []string{"theme=dark; lang=en"}},
		{[]string{"sgid_session_login_AAAAAAAAAAAA=x;theme=dark; sgid_session_login_-_-_-_-_-_-_=y"}, []string{"theme=dark"}},
		// Names that only start with ours, and values that contain them, stay.
		{[]string{"sgid_session2=a; x=sgid_session; sgid_session_login_x=b; sgid_session_loginAAAAAAAAAAAAA=c"}, []string{"sgid_session2=a; x=sgid_session; sgid_session_login_x=b; sgid_session_loginAAAAAAAAAAAAA=c"}},
		// HTTP/2 may split cookies over several header lines.
		{[]string{"a=1", "sgid_session=abc", "b=2; sgid_session=dup"}, []string{"a=1", "b=2"}},
		{[]string{" sgid_session = abc ; a=1"}, []string{"a=1"}},
		// Our names are found behind any space; other cookies keep theirs,
		// so a part that was no cookie does not become one.
		{[]string{"\u00a0sgid_session=abc; \u00a0foo=bar; a=1"}, []string{"\u00a0foo=bar; a=1"}},
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
