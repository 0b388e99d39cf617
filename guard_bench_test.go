package caddysgid

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/loginbench"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// BenchmarkGuardHooks measures the guard's own work per request in
// process, without network: the sgid handler passing a logged-in browser's
// API call on, without a guard and with the guard of BenchmarkGuardedProxy.
func BenchmarkGuardHooks(b *testing.B) {
	persona := sgidtest.DefaultPersonas()[0]
	for _, tc := range []struct {
		name  string
		guard *Guard
	}{
		{"unguarded", &Guard{ForwardCookie: true}},
		{"guarded", guardedBench()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := testGuardHandler(b, tc.guard)
			data := map[string]string{"myinfo.name": persona.Data["myinfo.name"], "myinfo.residentialstatus": persona.Data["myinfo.residentialstatus"]}
			id, err := testPut(h, session.Session{Sub: persona.Sub, Data: data, Expires: time.Now().Add(time.Hour)})
			if err != nil {
				b.Fatal(err)
			}
			runGuardHook(b, h, http.Header{
				"Accept":          {"*/*"},
				"Accept-Encoding": {"gzip, deflate, br"},
				"Accept-Language": {"en-SG,en;q=0.9"},
				"Connection":      {"keep-alive"},
				"Cookie":          {"theme=dark; " + DefaultCookieName + "=" + id + "; lang=en"},
				"Referer":         {"http://localhost:9080/app"},
				"Sec-Fetch-Dest":  {"empty"},
				"Sec-Fetch-Mode":  {"cors"},
				"Sec-Fetch-Site":  {"same-origin"},
				"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"},
			})
		})
	}
	// The requests of the loopback pair: only the session cookie, which the
	// guard cuts, and Sec-Fetch-Mode.
	b.Run("guarded-session-cookie-only", func(b *testing.B) {
		h := testGuardHandler(b, guardedBench())
		id, err := testPut(h, session.Session{Sub: persona.Sub, Data: map[string]string{"myinfo.name": persona.Data["myinfo.name"], "myinfo.residentialstatus": persona.Data["myinfo.residentialstatus"]}, Expires: time.Now().Add(time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		runGuardHook(b, h, http.Header{"Cookie": {DefaultCookieName + "=" + id}, "Sec-Fetch-Mode": {"cors"}})
	})
}

// guardedBench is the guard of BenchmarkGuardedProxy.
func guardedBench() *Guard {
	return &Guard{
		Protect:         []string{"/api/*"},
		LoginPage:       "/login",
		AllowFields:     []FieldRule{{"myinfo.residentialstatus", []string{"CITIZEN", "PR"}}},
		IdentityHeaders: map[string]string{"X-Sgid-Sub": "sub", "X-Sgid-Name": "myinfo.name", "X-Sgid-Status": "myinfo.residentialstatus"},
	}
}

// runGuardHook passes requests with header on through h and reports their
// CPU time.
func runGuardHook(b *testing.B, h *Handler, header http.Header) {
	ctx := caddyContext()
	w := httptest.NewRecorder()
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	b.ReportAllocs()
	// CPU time rather than wall time per request: on a shared
	// machine it counts this work and not the waits for a core.
	cpu := loginbench.CPUTime(b)
	for b.Loop() {
		r := (&http.Request{Method: http.MethodGet, URL: &urlAPIData, Header: header.Clone(), Host: "localhost:9080"}).WithContext(ctx())
		if err := h.ServeHTTP(w, r, next); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((loginbench.CPUTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

var urlAPIData = url.URL{Path: "/api/data"}

// caddyContext returns a maker of request contexts that hold what Caddy's
// server puts in each request's context before the handlers run, in its
// order: a replacer, the server, the request variables (with the
// trusted-proxy and client-IP entries), the route groups, the original
// request and the extra log fields. So the context lookups of the handler
// walk a chain as long as in Caddy, and its variables go into a map of
// their own per request, as there.
func caddyContext() func() context.Context {
	orig := http.Request{Method: http.MethodGet, URL: &urlAPIData}
	server := new(caddyhttp.Server)
	return func() context.Context {
		ctx := context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer())
		ctx = context.WithValue(ctx, caddyhttp.ServerCtxKey, server)
		ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.TrustedProxyVarKey: false, caddyhttp.ClientIPVarKey: "127.0.0.1"})
		ctx = context.WithValue(ctx, routeGroupKey, make(map[string]struct{}))
		ctx = context.WithValue(ctx, caddyhttp.OriginalRequestCtxKey, orig)
		return context.WithValue(ctx, caddyhttp.ExtraLogFieldsCtxKey, new(caddyhttp.ExtraLogFields))
	}
}

// routeGroupKey stands for Caddy's unexported key of the route groups.
var routeGroupKey caddy.CtxKey = "route_group"
