package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/cluster"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestOfficerChoiceAcrossInstances: with two instances sharing a store,
// each reading it through its cache, a job chosen on A is what B forwards
// on the very next request, although B had cached the session while the
// choice was pending (a choice moves the session to a new id, which no
// cache holds); a switch on B is seen on A at once; and the id the choice
// replaced acts for nobody on A.
func TestOfficerChoiceAcrossInstances(t *testing.T) {
	for _, k := range storeKinds {
		if k.name != "storage" && k.name != "redis" {
			continue
		}
		t.Run(k.name, func(t *testing.T) { testOfficerChoiceAcross(t, k) })
	}
}

func testOfficerChoiceAcross(t *testing.T, k storeKind) {
	const goh = "sgidtest:goh-mei-ling" // three jobs
	p := cluster.NewProvider(t, sgidtest.Options{})
	if err := p.SelectPersona(goh); err != nil {
		t.Fatal(err)
	}
	shared, _ := k.setup(t)
	site := fmt.Sprintf(`	sgid {
		%s
		scopes openid myinfo.name pocdex.public_officer_details
		protect /private/*
		cache_ttl 1m
		%s
	}
	respond /logged-in "logged in" 200
	respond "job={http.auth.user.officer.work_email}" 200`, p.Subdirectives(), shared)
	folder := t.TempDir()
	a := cluster.Start(t, cluster.Options{Name: "A", Site: site, StorageDir: folder})
	b := cluster.Start(t, cluster.Options{Name: "B", Site: site, StorageDir: folder})

	br := cluster.NewBrowser(t)
	if loc := br.Login(a, a, ""); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	pending := br.Cookie(sessionCookie)
	// B reads the pending session, and keeps it in its cache for a minute.
	if resp, body := br.Get(b.URL("/private/x")); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "profile_required") {
		t.Fatalf("B before a choice: %d %s", resp.StatusCode, body)
	}

	choose := func(on cluster.Target, n int) string {
		t.Helper()
		resp, body := br.Get(on.URL("/api/profiles"))
		var list struct {
			Profiles []struct {
				ID        string `json:"id"`
				WorkEmail string `json:"work_email"`
			}
		}
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &list) != nil || len(list.Profiles) != 3 {
			t.Fatalf("profiles on %s: %d %s", on, resp.StatusCode, body)
		}
		if resp, body := br.Send(http.MethodPost, on.URL("/api/profiles/"+list.Profiles[n].ID), nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("choose on %s: %d %s", on, resp.StatusCode, body)
		}
		return list.Profiles[n].WorkEmail
	}
	wantJob := func(on cluster.Target, email string) {
		t.Helper()
		if resp, body := br.Get(on.URL("/private/x")); resp.StatusCode != http.StatusOK || body != "job="+email {
			t.Errorf("%s: %d %q, want job=%s at once", on, resp.StatusCode, body, email)
		}
	}
	first := choose(a, 1)
	wantJob(b, first)
	wantJob(a, first)
	second := choose(b, 0)
	wantJob(a, second)
	wantJob(b, second)
	if first == second || !strings.Contains(second, "@") {
		t.Errorf("jobs %q and %q", first, second)
	}
	if resp, body := cluster.GetWithCookies(t, a, "/private/x", pending); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the cookie from before the choice on A: %d %s, want 401", resp.StatusCode, body)
	}
}
