package caddysgid

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// BenchmarkUserinfoFromSession: /api/userinfo answered from the session.
func BenchmarkUserinfoFromSession(b *testing.B) {
	h, cookie := benchHandler(b)
	req := httptest.NewRequest(http.MethodGet, "/api/userinfo", nil)
	req.AddCookie(cookie)
	b.ReportAllocs()
	for b.Loop() {
		if serve(b, h, req, okNext) != http.StatusOK {
			b.Fatal("not 200")
		}
	}
}

// BenchmarkPassThrough: a request for another path, without and with a
// logged-in cookie (the latter sets the identity placeholders).
func BenchmarkPassThrough(b *testing.B) {
	h, cookie := benchHandler(b)
	for _, loggedIn := range []bool{false, true} {
		b.Run(fmt.Sprintf("logged_in=%v", loggedIn), func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/app/page", nil)
			// The next handler checks that the user was recognised, so the
			// logged-in case cannot quietly measure an anonymous request.
			next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
				if id, _ := repl.GetString("http.auth.user.id"); (id != "") != loggedIn {
					b.Fatalf("user id %q with logged_in=%v", id, loggedIn)
				}
				w.WriteHeader(http.StatusNoContent)
				return nil
			})
			b.ReportAllocs()
			for b.Loop() {
				// The handler cuts its cookie from requests it passes on,
				// so each request gets its own, as from a browser.
				if loggedIn {
					req.Header.Set("Cookie", cookie.String())
				}
				if serve(b, h, req, next) != http.StatusNoContent {
					b.Fatal("not passed on")
				}
			}
		})
	}
}

// BenchmarkLoginMemory reports the heap bytes the server keeps per login
// started with auth-url (none: a login travels sealed in its cookie) and
// per session in the memory store, at 100,000 of each.
func BenchmarkLoginMemory(b *testing.B) {
	const n = 100_000
	measure := func(fill func()) float64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fill()
		runtime.GC()
		runtime.ReadMemStats(&after)
		return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	}
	for b.Loop() {
		h, _ := benchHandler(b)
		h.AppParams = map[string]string{"icecream": "iceCream"}
		_, key := testKey(b)
		client, err := sgid.New(sgid.Config{ClientID: "c", ClientSecret: "s", PrivateKey: key, Host: "https://id.example"})
		if err != nil {
			b.Fatal(err)
		}
		h.client = client
		perPending := measure(func() {
			for i := 0; i < n; i++ {
				req := httptest.NewRequest(http.MethodGet, "http://localhost:9080"+h.AuthURLPath+"?icecream=Chocolate", nil)
				if code := serve(b, h, req, okNext); code != http.StatusOK {
					b.Fatalf("auth-url answered %d", code)
				}
			}
		})
		exp := time.Now().Add(time.Hour)
		// Every 1000th id is kept (too few to weigh on the figure) to check
		// afterwards that the store still holds what it was given: a store
		// that dropped sessions (a bound below n) would show a cost per
		// session far too low.
		sample := make([]string, 0, n/1000)
		perSession := measure(func() {
			for i := 0; i < n; i++ {
				id, err := testPut(h, session.Session{Sub: "sgidtest:0000000000000000000000000000", Expires: exp})
				if err != nil {
					b.Fatal(err)
				}
				if i%1000 == 0 {
					sample = append(sample, id)
				}
			}
		})
		for _, id := range sample {
			if _, err := h.st.Get(context.Background(), session.Key(id)); err != nil {
				b.Fatalf("a session put in the store is not there after %d: %v", n, err)
			}
		}
		runtime.KeepAlive(h)
		b.ReportMetric(perPending, "B/pending")
		b.ReportMetric(perSession, "B/session")
	}
}
