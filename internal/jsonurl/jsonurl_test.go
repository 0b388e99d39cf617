package jsonurl

import (
	"encoding/json"
	"strings"
	"testing"
)

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
			got := Answer(tc.url)
			defer got.Release()
			if string(got.body) != string(want) {
				t.Errorf("Answer(%q) = %s, want %s", tc.url, got.body, want)
			}
		})
	}
}

// TestURLAnswerReuse: an answer handed back and reused, longer or
// shorter than the one before, leaves the next one as encoding/json
// writes it.
func TestURLAnswerReuse(t *testing.T) {
	t.Parallel()
	for i, u := range []string{"https://api.id.gov.sg/v2/oauth/authorize?state=" + strings.Repeat("s", 300), "https://x/a", "https://x/<b>&c", "https://x/\u00e9" + strings.Repeat("q", 5000), "https://y/"} {
		want, _ := json.Marshal(struct {
			URL string `json:"url"`
		}{u})
		a := Answer(u)
		if string(a.body) != string(want) {
			t.Errorf("answer %d: %s\nwant %s", i+1, a.body, want)
		}
		a.Release()
	}
}
