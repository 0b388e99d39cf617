package caddysgid

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/cookie"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/badcookies"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// badCookieRequests is how many requests with bad cookies the in-process
// flood sends: issue 13's 100,000.
const badCookieRequests = 100_000

// 100,000 requests with random and malformed cookies get the answer each
// route gives a stranger (never a 5xx), and the only store reads are for
// session cookies that look like ids the handler makes: the store never
// sees a cookie that cannot be ours. Login cookies, however forged, cost no
// store access but the one-time creation of a sealing key.
func TestBadCookiesCostNoStoreLookups(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood: skipped with -short; run in full by go test and .ci/run")
	}
	t.Parallel()
	_, keyPEM := testKey(t)
	client, err := sgid.New(sgid.Config{ClientID: "c", ClientSecret: "s", PrivateKey: keyPEM, Host: "https://id.example"})
	if err != nil {
		t.Fatal(err)
	}
	counted := &countingStore{Store: memoryScope(t)}
	h := unitHandler(t, &Handler{Guard: &Guard{Protect: caddyhttp.MatchPath{"/private/*"}}}, counted, nil)
	h.client = client

	// The epochs whose login cookies are accepted now: the keyring numbers
	// them by rotation periods since the Unix epoch.
	epoch := uint64(time.Now().UnixNano() / int64(DefaultKeyRotation))
	epochs := []uint64{epoch, epoch + 1}
	logins := make([]badcookies.Login, 32)
	for k := range logins {
		state := session.NewID()
		logins[k] = badcookies.Login{State: state, CookieName: cookie.LoginName(h.CookieName, state)}
	}
	passedOn := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusTeapot)
		return nil
	})

	rng := rand.New(rand.NewPCG(13, 13))
	var lookups, logoutLookups int64
	for n := range badCookieRequests {
		br := badcookies.New(rng, h.CookieName, logins, epochs)
		req := httptest.NewRequest(http.MethodGet, br.Path, nil)
		if br.Cookie != "" {
			req.Header.Set("Cookie", br.Cookie)
		}
		w := httptest.NewRecorder()
		err := h.ServeHTTP(w, withReplacer(req), passedOn)
		status := w.Code
		var he caddyhttp.HandlerError
		if errors.As(err, &he) {
			status = he.StatusCode
		} else if err != nil {
			t.Fatalf("request %d (%s, Cookie %q): %v", n, br.Path, br.Cookie, err)
		}
		want := br.Status
		if want == badcookies.PassedOn {
			want = http.StatusTeapot
		}
		if status != want {
			t.Fatalf("request %d (%s, Cookie %q) answered %d, want %d", n, br.Path, br.Cookie, status, want)
		}
		if br.SessionLookup {
			lookups++
			if br.Logout {
				logoutLookups++
			}
		}
	}
	t.Logf("%d requests, %d with a session cookie shaped like an id", badCookieRequests, lookups)
	if lookups == 0 || lookups == badCookieRequests {
		t.Fatalf("the requests hold %d well-formed session ids of %d; the flood needs both kinds", lookups, badCookieRequests)
	}
	if got := counted.get.Load(); got != lookups {
		t.Errorf("the store was read %d times, want %d: once for each session cookie shaped like an id, never for another cookie", got, lookups)
	}
	if got := counted.del.Load(); got != 0 {
		t.Errorf("the store had %d deletions for %d logouts naming well-formed ids of no session; a logout of no session costs nothing", got, logoutLookups)
	}
	if got := counted.put.Load(); got != 0 {
		t.Errorf("the store was written %d times; no bad cookie may create a session", got)
	}
	// The sealing keys of the epochs accepted now, each created once (by
	// the auth-url calls or by forged login cookies naming the next epoch)
	// and cached.
	if got := counted.putIfAbsent.Load(); got > int64(len(epochs)) {
		t.Errorf("the store was asked for sealing keys %d times, want at most once per epoch (%d)", got, len(epochs))
	}
}
