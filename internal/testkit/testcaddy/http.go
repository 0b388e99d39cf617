package testcaddy

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ResponseCookie is the cookie by that name that resp sets, or nil.
func ResponseCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// QueryValue is the value of key in the query of the URL raw; a URL that
// does not parse fails the test.
func QueryValue(tb testing.TB, raw, key string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("URL %q: %v", raw, err)
	}
	return u.Query().Get(key)
}

// The request headers of the kinds of request a browser sends, which the
// guard tells apart: a script's fetch, a navigation, and a navigation by a
// browser too old to send Sec-Fetch-*.
var (
	FetchHeaders    = http.Header{"Sec-Fetch-Mode": {"cors"}, "Sec-Fetch-Dest": {"empty"}, "Sec-Fetch-Site": {"same-origin"}, "Accept": {"*/*"}}
	NavigateHeaders = http.Header{"Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"}, "Sec-Fetch-Site": {"none"}, "Accept": {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}}
	OldNavHeaders   = http.Header{"Accept": {"text/html,application/xhtml+xml,*/*;q=0.8"}}
)

// CheckIdentityEncoding fails the test unless enc, the encoding of in for
// an identity header, is a valid header value that the usual decoders turn
// back into in.
func CheckIdentityEncoding(tb testing.TB, in, enc string) {
	tb.Helper()
	for i := 0; i < len(enc); i++ {
		if enc[i] < 0x20 || enc[i] > 0x7e {
			tb.Fatalf("encode(%q) = %q has byte %#x", in, enc, enc[i])
		}
	}
	if strings.TrimSpace(enc) != enc {
		tb.Fatalf("encode(%q) = %q has white space a header parser would trim", in, enc)
	}
	if dec, err := url.PathUnescape(enc); err != nil || dec != in {
		tb.Fatalf("PathUnescape(%q) = %q, %v; want %q", enc, dec, err, in)
	}
	if dec, err := url.QueryUnescape(enc); err != nil || dec != in {
		tb.Fatalf("QueryUnescape(%q) = %q, %v; want %q", enc, dec, err, in)
	}
}
