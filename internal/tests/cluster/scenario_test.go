package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
)

// sessionCookie is the sgid handler's default session cookie name.
const sessionCookie = "sgid_session"

// sgidSite is a site body with the sgid handler pointed at p, a protected
// path and routes that show where a login ended. store is more sgid
// subdirectives (the store, for the store scenarios), maybe empty.
func sgidSite(p *cluster.Provider, store string) string {
	return fmt.Sprintf(`	sgid {
		%s
		scopes openid myinfo.name myinfo.email
		app_param icecream iceCream
		protect /private/*
		%s
	}
	respond /logged-in "logged in as {http.auth.user.id}" 200
	respond /error "error {query.reason}" 200
	respond "next: {path} user={http.auth.user.id}" 200`, p.Subdirectives(), store)
}

// wantUser fails unless the browser is logged in on i as persona sub, with
// the app value given at auth-url.
func wantUser(t *testing.T, b *cluster.Browser, i cluster.Target, sub, iceCream string) {
	t.Helper()
	status, body := b.Userinfo(i)
	var got struct {
		Sub  string
		Data map[string]string
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil || got.Sub != sub || got.Data["iceCream"] != iceCream {
		t.Fatalf("userinfo on %s: %d %s, want %s with iceCream %q", i, status, body, sub, iceCream)
	}
}

// wantLoggedOut fails unless i answers userinfo with 401 (logged out, not
// a store failure).
func wantLoggedOut(t *testing.T, i cluster.Target, cookies ...*http.Cookie) {
	t.Helper()
	resp, body := cluster.GetWithCookies(t, i, "/api/userinfo", cookies...)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("userinfo on %s: %d %s, want 401", i, resp.StatusCode, body)
	}
}

// wantErrorRedirect fails unless loc is the error path with a reason, and
// returns the reason.
func wantErrorRedirect(t *testing.T, loc string) string {
	t.Helper()
	reason, ok := strings.CutPrefix(loc, "/error?reason=")
	if !ok || reason == "" {
		t.Fatalf("callback redirected to %q, want /error?reason=...", loc)
	}
	return reason
}

// loginAcross starts a login on a and finishes it on b, both behind the
// balancer (one Host, so one redirect URI, as in production), and returns
// where the callback redirected and the callback URL sgID sent.
func loginAcross(br *cluster.Browser, lb *cluster.Balancer, a, b *cluster.Instance, query string) (loc, callback string) {
	br.TB.Helper()
	lb.Send(a)
	authURL := br.StartLogin(lb, query)
	callback = br.AtProvider(authURL)
	// sgID sends the browser back to the balancer: the redirect URI was
	// derived from the Host the balancer passed on.
	if !strings.HasPrefix(callback, lb.URL("/api/redirect?")) {
		br.TB.Fatalf("sgID sent the browser to %q, not to the balancer's callback", callback)
	}
	lb.Send(b)
	return br.Callback(lb, callback), callback
}
