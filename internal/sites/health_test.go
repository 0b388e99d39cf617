package sites

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// TestHealthAnswer checks the JSON of GET /sgid/health and the readiness
// told of each server for healthy and failing sites, with a real sgID
// client for the provider check.
func TestHealthAnswer(t *testing.T) {
	t.Parallel()
	p := sgidtest.NewServer(sgidtest.Options{})
	t.Cleanup(p.Close)
	gone := sgidtest.NewServer(sgidtest.Options{})
	gone.Close()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })

	client := func(host string) *sgid.Client {
		c, err := sgid.New(sgid.Config{ClientID: p.ClientID(), ClientSecret: p.ClientSecret(), PrivateKey: p.ClientPrivateKeyPEM(), Host: host, HTTPClient: p.Client()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// site is a group of one site on st (a fresh memory scope when nil)
	// whose client talks to host, served by servers.
	site := func(st store.Store, host string, servers ...string) *group {
		s := Site{Scope: storetest.RandomKey(t), Server: servers[0], Sessions: newManager(t, st, nil), Provider: client(host).CheckDiscovery}
		return &group{scope: s.Scope, servers: servers, sites: []Site{s}}
	}
	ok := map[string]any{"store": "ok", "keys": "ok", "provider": "ok"}
	for _, tc := range []struct {
		name     string
		groups   func() []*group
		canceled bool
		want     map[string]any // the JSON answer
		ready    map[string]bool
	}{
		{"healthy", func() []*group { return []*group{site(nil, p.URL, "h-ok")} }, false,
			map[string]any{"status": "ok", "sites": map[string]any{"h-ok": map[string]any{"status": "ok", "checks": ok}}},
			map[string]bool{"h-ok": true}},
		{"store down", func() []*group { return []*group{site(failingStore{}, p.URL, "h-store")} }, false,
			map[string]any{"status": "unavailable", "sites": map[string]any{"h-store": map[string]any{"status": "unavailable", "checks": map[string]any{
				"store":    "failed: writing: store unreachable",
				"keys":     "failed: loading the session index key: store unreachable",
				"provider": "ok",
			}}}},
			map[string]bool{"h-store": false}},
		{"provider down", func() []*group { return []*group{site(nil, gone.URL, "h-provider")} }, false,
			nil, // the reason names the network error; checked below
			map[string]bool{"h-provider": false}},
		{"one of two sites down, one server for both", func() []*group {
			return []*group{site(nil, p.URL, "h-two", "h-two-b"), site(failingStore{}, p.URL, "h-two")}
		}, false, nil, map[string]bool{"h-two": false, "h-two-b": true}},
		{"one of two sites down, the other server first", func() []*group {
			return []*group{site(failingStore{}, p.URL, "h-two"), site(nil, p.URL, "h-two", "h-two-b")}
		}, false, nil, map[string]bool{"h-two": false, "h-two-b": true}},
		{"no answer in time", func() []*group { return []*group{site(hangingStore{release: release}, p.URL, "h-hang")} }, true,
			map[string]any{"status": "unavailable", "sites": map[string]any{"h-hang": map[string]any{"status": "unavailable", "checks": map[string]any{
				"store": "failed: timed out", "keys": "failed: timed out", "provider": "failed: timed out",
			}}}},
			map[string]bool{"h-hang": false}},
		{"no sites", func() []*group { return nil }, false, map[string]any{"status": "ok", "sites": map[string]any{}}, map[string]bool{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.canceled {
				cancel()
			}
			rec := newRecorder()
			var reg Registry
			groups := tc.groups()
			for _, g := range groups {
				g.sites[len(g.sites)-1].Hooks = rec.hooks()
			}
			raw, err := json.Marshal(reg.checkHealth(ctx, groups))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("answer %s\nwant %v", raw, tc.want)
			}
			if !reflect.DeepEqual(rec.ready, tc.ready) {
				t.Errorf("ready %v, want %v", rec.ready, tc.ready)
			}
			for _, secret := range append([]string{p.ClientSecret()}, strings.Split(p.ClientPrivateKeyPEM(), "\n")[1:4]...) {
				if strings.Contains(string(raw), secret) {
					t.Errorf("the answer holds a secret: %s", raw)
				}
			}
			if t.Failed() {
				t.Logf("answer: %s", raw)
			}
		})
	}

	var reg Registry
	// The provider check fails with the reason, and the other checks
	// still pass.
	var got healthAnswer
	raw, _ := json.Marshal(reg.checkHealth(t.Context(), []*group{site(nil, gone.URL, "h-provider")}))
	json.Unmarshal(raw, &got)
	s := got.Sites["h-provider"]
	if got.Status != "unavailable" || s.Status != "unavailable" || s.Checks["store"] != "ok" || s.Checks["keys"] != "ok" ||
		!strings.HasPrefix(s.Checks["provider"], "failed: provider request failed: discovery request:") {
		t.Errorf("provider down: %s", raw)
	}

	// Two sites of one server are both answered, under distinct names.
	g1, g2 := site(nil, p.URL, "h-dup"), site(failingStore{}, p.URL, "h-dup")
	raw, _ = json.Marshal(reg.checkHealth(t.Context(), []*group{g1, g2}))
	got = healthAnswer{}
	json.Unmarshal(raw, &got)
	if len(got.Sites) != 2 || got.Sites["h-dup"].Status != "ok" || got.Sites["h-dup/"+g2.scope[:12]].Status != "unavailable" {
		t.Errorf("two sites of one server: %s", raw)
	}
}

// TestServeHealth: GET /sgid/health answers the registered sites, 200 when
// all are ready and 503 otherwise, never from a cache; a site without a
// provider check is not ready.
func TestServeHealth(t *testing.T) {
	t.Parallel()
	fine := func(context.Context, time.Duration) error { return nil }
	for _, tc := range []struct {
		name     string
		provider func(context.Context, time.Duration) error
		status   int
		check    string
	}{
		{"ready", fine, http.StatusOK, "ok"},
		{"provider failing", func(context.Context, time.Duration) error { return errors.New("sgid: no answer") }, http.StatusServiceUnavailable, "failed: no answer"},
		{"no provider check", nil, http.StatusServiceUnavailable, "failed: no sgID client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var reg Registry
			reg.Register(Site{Scope: "s", Server: "srv", Sessions: newManager(t, nil, nil), Provider: tc.provider})
			status, w, msg := call(t, &reg, http.MethodGet, "/sgid/health")
			if status != tc.status || msg != "" {
				t.Fatalf("%d %q, want %d", status, msg, tc.status)
			}
			if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", w.Header())
			}
			var got healthAnswer
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if c := got.Sites["srv"].Checks; len(got.Sites) != 1 || c["provider"] != tc.check || c["store"] != "ok" || c["keys"] != "ok" {
				t.Errorf("answer %s, want the provider check %q", w.Body, tc.check)
			}
		})
	}
}

// TestReadyToldThroughNewest: readiness is told to the hooks of the newest
// site of a scope, for every server of the scope, and not to an older
// site's.
func TestReadyToldThroughNewest(t *testing.T) {
	t.Parallel()
	fine := func(context.Context, time.Duration) error { return nil }
	rec, stale := newRecorder(), newRecorder()
	var reg Registry
	reg.Register(Site{Scope: "s", Server: "old", Sessions: newManager(t, nil, nil), Provider: fine, Hooks: stale.hooks()})
	reg.Register(Site{Scope: "s", Server: "new", Sessions: newManager(t, nil, nil), Provider: fine, Hooks: rec.hooks()})
	if status, _, msg := call(t, &reg, http.MethodGet, "/sgid/health"); status != http.StatusOK {
		t.Fatalf("%d %q, want 200", status, msg)
	}
	if want := map[string]bool{"old": true, "new": true}; !reflect.DeepEqual(rec.ready, want) {
		t.Errorf("the newest site's hooks were told %v, want %v", rec.ready, want)
	}
	if len(stale.ready) != 0 {
		t.Errorf("the older site's hooks were told %v, want nothing", stale.ready)
	}
}

// TestProviderMaxAge: the provider check accepts a discovery document
// fetched within discoveryMaxAge, so that frequent probes spare sgID.
func TestProviderMaxAge(t *testing.T) {
	t.Parallel()
	var asked time.Duration
	s := Site{Sessions: newManager(t, nil, nil), Provider: func(_ context.Context, maxAge time.Duration) error {
		asked = maxAge
		return nil
	}}
	if got := checkSite(t.Context(), s); got.Status != healthOK || asked != 5*time.Minute {
		t.Errorf("status %q with max age %v, want ok with 5m", got.Status, asked)
	}
}

// TestCheckOutcome: a check's outcome is "ok" or a failure with a short,
// one-line reason, a timeout named as such.
func TestCheckOutcome(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	// A reason of 199 bytes then a 3-byte rune is cut before the rune.
	runes := strings.Repeat("a", maxReason-1) + "€€"
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"passed", t.Context(), nil, "ok"},
		{"passed as ctx ended", canceled, nil, "ok"},
		{"a deadline", t.Context(), fmt.Errorf("dialing: %w", context.DeadlineExceeded), "failed: timed out"},
		{"ctx ended", canceled, errors.New("whatever"), "failed: timed out"},
		{"the client's prefix dropped", t.Context(), errors.New("sgid: discovery request: refused"), "failed: discovery request: refused"},
		{"one line", t.Context(), errors.New("first\n\tsecond  third "), "failed: first second third"},
		{"at the bound", t.Context(), errors.New(strings.Repeat("b", maxReason)), "failed: " + strings.Repeat("b", maxReason)},
		{"cut short", t.Context(), errors.New(strings.Repeat("b", maxReason+1)), "failed: " + strings.Repeat("b", maxReason) + "..."},
		{"cut on a rune", t.Context(), errors.New(runes), "failed: " + strings.Repeat("a", maxReason-1) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkOutcome(tc.ctx, tc.err); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}
