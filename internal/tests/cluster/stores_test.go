package cluster

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testredis"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// The logout bound: how long an instance may still accept a session
// another instance logged out (the default cache lifetime of issue 10),
// and the slack the tests allow on top for requests and scheduling. Tests
// poll up to their sum and assert nothing about time below it.
const (
	logoutBound = 10 * time.Second
	boundSlack  = 5 * time.Second
)

// storeKind is one of issue 10's stores as the instance tests use it.
type storeKind struct {
	name string
	// setup returns the sgid subdirectives for the instances A and B that
	// share the store, and for an instance C with a store of the same
	// kind that shares nothing with them.
	setup func(t *testing.T) (shared, other string)
	// shared: A and B see each other's sessions and login cookies.
	// durable: sessions and the login cookie key outlive a restart.
	shared, durable bool
}

func redisStore(addr string) string {
	return fmt.Sprintf("store redis {\n\t\t\taddress %s\n\t\t}", addr)
}

// storeKinds are the stores: memory keeps today's behaviour (nothing
// shared, nothing kept across a restart, even with a shared storage
// folder), the others share and keep. "default" is no store line at all,
// which is Caddy's storage.
var storeKinds = []storeKind{
	{name: "memory", shared: false, durable: false,
		setup: func(*testing.T) (string, string) { return "store memory", "store memory" }},
	{name: "storage", shared: true, durable: true,
		setup: func(*testing.T) (string, string) { return "store storage", "store storage" }},
	{name: "default", shared: true, durable: true,
		setup: func(*testing.T) (string, string) { return "", "" }},
	{name: "redis", shared: true, durable: true,
		setup: func(t *testing.T) (string, string) {
			return redisStore(testredis.Start(t, testredis.Options{}).Addr), redisStore(testredis.Start(t, testredis.Options{}).Addr)
		}},
}

func TestStores(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) { testStore(t, k) })
	}
}

func testStore(t *testing.T, k storeKind) {
	p := cluster.NewProvider(t, sgidtest.Options{})
	sub := p.Personas()[0].Sub
	sharedStore, otherStore := k.setup(t)
	folder := t.TempDir()
	a := cluster.Start(t, cluster.Options{Name: "A", Site: sgidSite(p, sharedStore), StorageDir: folder})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: sgidSite(p, sharedStore), StorageDir: folder})
	c := cluster.Start(t, cluster.Options{Name: "C", Site: sgidSite(p, otherStore)})

	// A login started on A, its callback on B.
	lb := cluster.NewBalancer(t)
	br := cluster.NewBrowser(t)
	loc, _ := loginAcross(br, lb, a, b, "icecream=Pandan")
	if !k.shared {
		if reason := wantErrorRedirect(t, loc); reason == "server_error" {
			t.Errorf("a login cookie from another instance's memory store is bad input, not a server error")
		}
		if br.Cookie(sessionCookie) != nil {
			t.Fatal("a failed callback set a session cookie")
		}
		// Log in on A alone to check the rest.
		loc = br.Login(a, a, "icecream=Pandan")
	}
	if loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	session := br.Cookie(sessionCookie)
	if session == nil {
		t.Fatal("no session cookie after the login")
	}

	// Userinfo and the guard on A and B.
	wantUser(t, br, a, sub, "Pandan")
	if k.shared {
		wantUser(t, br, b, sub, "Pandan")
		if resp, body := br.Get(b.URL("/private/x")); resp.StatusCode != http.StatusOK || !strings.Contains(body, "user="+sub) {
			t.Errorf("guarded path on B: %d %q", resp.StatusCode, body)
		}
	} else {
		wantLoggedOut(t, b, session)
	}

	// A reload that changes a bound keeps the session, with every store.
	a.Reload(sgidSite(p, sharedStore+"\n\t\tcache_ttl 5s"))
	wantUser(t, br, a, sub, "Pandan")

	// The session cookie copied to an instance with another store.
	wantLoggedOut(t, c, session)
	if resp, body := cluster.GetWithCookies(t, c, "/private/x", session); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("guarded path on C with a copied cookie: %d %q", resp.StatusCode, body)
	}

	// Restart both, with a second login in flight across the restart.
	late := cluster.NewBrowser(t)
	lb.Send(a)
	lateAuth := late.StartLogin(lb, "icecream=Gula")
	a.Restart()
	b.Restart()
	if k.durable {
		wantUser(t, br, a, sub, "Pandan")
		wantUser(t, br, b, sub, "Pandan")
		lb.Send(b)
		if loc := late.Callback(lb, late.AtProvider(lateAuth)); loc != "/logged-in" {
			t.Errorf("a login started before the restart ended at %q", loc)
		}
	} else {
		wantLoggedOut(t, a, session)
		if reason := wantErrorRedirect(t, late.Callback(lb, late.AtProvider(lateAuth))); reason == "server_error" {
			t.Errorf("a login cookie sealed before a memory store's restart is bad input, not a server error")
		}
		return
	}

	// Logout on B, seen on A within the bound. A has the session in its
	// cache (it just answered userinfo); the copied cookie keeps asking
	// after the browser dropped it.
	br.Logout(b)
	wantLoggedOut(t, b, session)
	waitLoggedOut(t, a, session, "the logout on B")
}

// waitLoggedOut polls i's userinfo with the session cookie until it
// answers 401, failing when it still answers 200 after the logout bound
// (and slack) since what happened elsewhere.
func waitLoggedOut(t *testing.T, i *cluster.Instance, session *http.Cookie, what string) {
	t.Helper()
	deadline := time.Now().Add(logoutBound + boundSlack)
	for {
		resp, body := cluster.GetWithCookies(t, i, "/api/userinfo", session)
		if resp.StatusCode == http.StatusUnauthorized {
			return
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("userinfo on %s after %s: %d %s", i, what, resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts the session %v after %s (bound %v)", i, logoutBound+boundSlack, what, logoutBound)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// wantJSON503 fails unless the answer is a 503 with a JSON body: the store
// is down, which is not the same as being logged out.
func wantJSON503(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !strings.HasPrefix(strings.TrimSpace(body), "{") {
		t.Errorf("%s with Redis down: %d %q %q, want 503 with a JSON error", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestRedisOutage(t *testing.T) {
	redis := testredis.Start(t, testredis.Options{Persist: true})
	p := cluster.NewProvider(t, sgidtest.Options{})
	sub := p.Personas()[0].Sub
	site := sgidSite(p, redisStore(redis.Addr))
	a := cluster.Start(t, cluster.Options{Name: "A", Site: site})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: site})

	// The session is made on B, so A has nothing of it in its cache and
	// must ask Redis.
	user := cluster.NewBrowser(t)
	if loc := user.Login(b, b, "icecream=Ondeh"); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	session := user.Cookie(sessionCookie)
	// A login in flight when Redis goes away: sgID already sent the code.
	pending := cluster.NewBrowser(t)
	callback := pending.AtProvider(pending.StartLogin(a, "icecream=Ondeh"))

	logBefore, err := os.Stat(a.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	redis.Stop()
	resp, body := cluster.GetWithCookies(t, a, "/api/userinfo", session)
	wantJSON503(t, "userinfo", resp, body)
	resp, body = cluster.GetWithCookies(t, a, "/private/x", session)
	wantJSON503(t, "the guard", resp, body)
	if loc := pending.Callback(a, callback); loc != "/error?reason=server_error" {
		t.Errorf("callback with Redis down ended at %q, want /error?reason=server_error", loc)
	}
	// The cause is logged, by the sgid handler, as a warning or worse.
	logAfter, err := os.ReadFile(a.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	warned := false
	for _, line := range strings.Split(string(logAfter[logBefore.Size():]), "\n") {
		if strings.Contains(line, `"logger":"http.handlers.sgid"`) && (strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`)) {
			warned = true
		}
	}
	if !warned {
		t.Errorf("A logged no warning from the sgid handler while Redis was down:\n%s", a.LogTail(20))
	}

	// Back without anyone touching Caddy.
	redis.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, body = cluster.GetWithCookies(t, a, "/api/userinfo", session)
		if resp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A still answers 503 %q 30s after Redis came back", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo on A after Redis came back: %d %q", resp.StatusCode, body)
	}
	again := cluster.NewBrowser(t)
	if loc, _ := loginAcross(again, cluster.NewBalancer(t), a, b, "icecream=Ondeh"); loc != "/logged-in" {
		t.Fatalf("login after Redis came back ended at %q", loc)
	}
	wantUser(t, again, a, sub, "Ondeh")
	wantUser(t, again, b, sub, "Ondeh")
}
