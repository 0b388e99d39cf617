package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// Through a real Caddy: X-Forwarded-Proto https from one of the server's
// trusted_proxies makes the cookies Secure and __Host-, and the derived
// redirect URI https; from any other client it changes nothing.
func TestSecureBehindTrustedProxyInCaddy(t *testing.T) {
	for _, tc := range []struct {
		trusted string
		secure  bool
	}{
		{"127.0.0.1/32 ::1/128", true},
		{"192.0.2.1/32", false},
	} {
		startCaddy(t, `{
	servers {
		trusted_proxies static `+tc.trusted+`
	}
}
http://localhost:9080 {
	sgid {
		mock
	}
	respond "next"
}`)
		b := newBrowser(t)
		resp, body := b.Get(testOrigin+"/api/auth-url", "X-Forwarded-Proto", "https")
		var start struct{ URL string }
		if err := json.Unmarshal([]byte(body), &start); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("auth-url: %d %s", resp.StatusCode, body)
		}
		prefix, scheme := "", "http"
		if tc.secure {
			prefix, scheme = "__Host-", "https"
		}
		if c := loginCookieOf(resp); c == nil || !strings.HasPrefix(c.Name, prefix+loginCookiePrefix) || c.Secure != tc.secure {
			t.Errorf("trusted %s: cookies %v, want a login cookie %s%s... with Secure %v", tc.trusted, resp.Cookies(), prefix, loginCookiePrefix, tc.secure)
		}
		if got, want := testcaddy.QueryValue(t, start.URL, "redirect_uri"), scheme+"://localhost:9080/api/redirect"; got != want {
			t.Errorf("trusted %s: redirect_uri %q, want %q", tc.trusted, got, want)
		}
	}
}
