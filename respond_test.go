package caddysgid

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestIsLocalPath(t *testing.T) {
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
			if got := isLocalPath(p); got != want {
				t.Errorf("isLocalPath(%q) = %v, want %v", p, got, want)
			}
		})
	}
}

// FuzzIsLocalPath: whatever isLocalPath accepts stays on this origin, also
// as a browser reads it (browsers drop tabs and newlines from URLs and read
// a backslash as a slash).
func FuzzIsLocalPath(f *testing.F) {
	for _, s := range []string{"/", "/logged-in?x=1", "//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "/%2F%2Fevil", "/..//evil"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/api/redirect")
	f.Fuzz(func(t *testing.T, p string) {
		if !isLocalPath(p) {
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

// TestURLAnswer: auth-url's answer is byte for byte what encoding/json
// writes for {"url": u}, for URLs as sgID's are and for any string.
func TestURLAnswer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, url string }{
		{"authorization URL", "https://api.id.gov.sg/v2/oauth/authorize?client_id=a&redirect_uri=https%3A%2F%2Fx&scope=openid+myinfo.name"},
		{"empty", ""},
		{"html characters", `<a href="x">&amp;</a>`},
		{"backslash and quote", `a\b"c`},
		{"control characters", "a\x00b\nc\td\x1f\x7f"},
		{"non-ASCII", "https://x/é?q=中文\u2028\u2029"},
		{"invalid UTF-8", "a\xffb\xc3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(struct {
				URL string `json:"url"`
			}{tc.url})
			if err != nil {
				t.Fatal(err)
			}
			if got := urlAnswer(tc.url); string(got) != string(want) {
				t.Errorf("urlAnswer(%q) = %s, want %s", tc.url, got, want)
			}
		})
	}
}
