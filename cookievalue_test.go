package caddysgid

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestCookieValueMatchesNetHTTP checks that cookieValue finds the value
// r.Cookie finds, or none when it finds none, for headers that stress its
// rules: spaces, quotes, bad bytes, repeated and prefixed names, several
// header lines, and more cookies than cookieValue reads itself.
func TestCookieValueMatchesNetHTTP(t *testing.T) {
	// More than net/http reads by default (3000), so it finds none.
	many := strings.Repeat("x=1; ", 3000) + "sgid_session=late"
	tests := []struct {
		name   string
		header []string
		cookie string
	}{
		{"absent", []string{"theme=dark"}, "sgid_session"},
		{"no header", nil, "sgid_session"},
		{"plain", []string{"theme=dark; sgid_session=abc; lang=en"}, "sgid_session"},
		{"spaces", []string{"  sgid_session = abc ;x=1"}, "sgid_session"},
		{"tab around value", []string{"sgid_session=\tabc\t"}, "sgid_session"},
		{"quoted", []string{`sgid_session="abc"`}, "sgid_session"},
		{"lone quote", []string{`sgid_session="`}, "sgid_session"},
		{"inner quote", []string{`sgid_session=a"b; sgid_session=second`}, "sgid_session"},
		{"backslash", []string{`sgid_session=a\b`}, "sgid_session"},
		{"control byte", []string{"sgid_session=a\x01b; sgid_session=ok"}, "sgid_session"},
		{"non-ASCII", []string{"sgid_session=caf\xc3\xa9"}, "sgid_session"},
		{"no equals", []string{"sgid_session; sgid_session=v"}, "sgid_session"},
		{"empty value", []string{"sgid_session="}, "sgid_session"},
		{"first wins", []string{"sgid_session=one; sgid_session=two"}, "sgid_session"},
		{"prefix not counted", []string{"__Host-sgid_session=h; sgid_session=p"}, "sgid_session"},
		{"host name", []string{"sgid_session=p; __Host-sgid_session=h"}, "__Host-sgid_session"},
		{"second line", []string{"a=1", "sgid_session=two"}, "sgid_session"},
		{"name not a token", []string{"a b=1; sgid_session=ok"}, "a b"},
		{"empty parts", []string{";;sgid_session=v;;"}, "sgid_session"},
		{"many cookies", []string{many}, "sgid_session"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.header {
				h.Add("Cookie", v)
			}
			want, wantErr := (&http.Request{Header: h}).Cookie(tc.cookie)
			got, ok := cookieValue(h, tc.cookie)
			if ok != (wantErr == nil) || (ok && got != want.Value) {
				t.Fatalf("cookieValue = %q, %v; net/http found %v", got, ok, fmt.Sprint(want, wantErr))
			}
		})
	}
}
