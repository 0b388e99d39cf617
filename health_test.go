package caddysgid

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

// hangingStore answers nothing until the test ends, as a store behind a
// dropped network path would.
type hangingStore struct {
	failingStore
	release <-chan struct{}
}

func (s hangingStore) Put(context.Context, string, []byte, time.Duration) error {
	<-s.release
	return errUnreachable
}

func (s hangingStore) PutIfAbsent(context.Context, string, []byte, time.Duration) ([]byte, error) {
	<-s.release
	return nil, errUnreachable
}

func (s hangingStore) Get(context.Context, string) ([]byte, error) {
	<-s.release
	return nil, errUnreachable
}

// TestHealthAnswer checks the JSON of GET /sgid/health and the readiness
// gauge for healthy and failing sites, without Caddy.
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
	// site is a group of one handler on st (a fresh memory scope when
	// nil) whose client talks to host, served by servers.
	site := func(st store.Store, host string, servers ...string) *siteGroup {
		h := unitHandler(t, &Handler{}, st, nil)
		h.client = client(host)
		return &siteGroup{scope: storetest.RandomKey(t), servers: servers, handlers: []*Handler{h}}
	}
	ok := map[string]any{"store": "ok", "keys": "ok", "provider": "ok"}
	// Server names are the test's own, so that the gauge is not shared
	// with another test.
	for _, tc := range []struct {
		name     string
		groups   func() []*siteGroup
		canceled bool
		want     map[string]any // the JSON answer
		ready    map[string]float64
	}{
		{"healthy", func() []*siteGroup { return []*siteGroup{site(nil, p.URL, "h-ok")} }, false,
			map[string]any{"status": "ok", "sites": map[string]any{"h-ok": map[string]any{"status": "ok", "checks": ok}}},
			map[string]float64{"h-ok": 1}},
		{"store down", func() []*siteGroup { return []*siteGroup{site(failingStore{}, p.URL, "h-store")} }, false,
			map[string]any{"status": "unavailable", "sites": map[string]any{"h-store": map[string]any{"status": "unavailable", "checks": map[string]any{
				"store":    "failed: writing: store unreachable",
				"keys":     "failed: loading the session index key: store unreachable",
				"provider": "ok",
			}}}},
			map[string]float64{"h-store": 0}},
		{"provider down", func() []*siteGroup { return []*siteGroup{site(nil, gone.URL, "h-provider")} }, false,
			nil, // the reason names the network error; checked below
			map[string]float64{"h-provider": 0}},
		{"one of two sites down, one server for both", func() []*siteGroup {
			return []*siteGroup{site(nil, p.URL, "h-two", "h-two-b"), site(failingStore{}, p.URL, "h-two")}
		}, false, nil, map[string]float64{"h-two": 0, "h-two-b": 1}},
		{"no answer in time", func() []*siteGroup { return []*siteGroup{site(hangingStore{release: release}, p.URL, "h-hang")} }, true,
			map[string]any{"status": "unavailable", "sites": map[string]any{"h-hang": map[string]any{"status": "unavailable", "checks": map[string]any{
				"store": "failed: timed out", "keys": "failed: timed out", "provider": "failed: timed out",
			}}}},
			map[string]float64{"h-hang": 0}},
		{"no sites", func() []*siteGroup { return nil }, false, map[string]any{"status": "ok", "sites": map[string]any{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.canceled {
				cancel()
			}
			raw, err := json.Marshal(checkHealth(ctx, tc.groups()))
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
			for srv, want := range tc.ready {
				if v := readyValue(t, srv); v != want {
					t.Errorf("caddy_sgid_ready{server=%q} = %v, want %v", srv, v, want)
				}
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

	// The provider check fails with the reason, and the other checks
	// still pass.
	var got healthAnswer
	raw, _ := json.Marshal(checkHealth(t.Context(), []*siteGroup{site(nil, gone.URL, "h-provider")}))
	json.Unmarshal(raw, &got)
	s := got.Sites["h-provider"]
	if got.Status != "unavailable" || s.Status != "unavailable" || s.Checks["store"] != "ok" || s.Checks["keys"] != "ok" ||
		!strings.HasPrefix(s.Checks["provider"], "failed: provider request failed: discovery request:") {
		t.Errorf("provider down: %s", raw)
	}

	// Two sites of one server are both answered, under distinct names,
	// and the server is ready only when both are.
	g1, g2 := site(nil, p.URL, "h-dup"), site(failingStore{}, p.URL, "h-dup")
	raw, _ = json.Marshal(checkHealth(t.Context(), []*siteGroup{g1, g2}))
	got = healthAnswer{}
	json.Unmarshal(raw, &got)
	if len(got.Sites) != 2 || got.Sites["h-dup"].Status != "ok" || got.Sites["h-dup/"+g2.scope[:12]].Status != "unavailable" {
		t.Errorf("two sites of one server: %s", raw)
	}
	if v := readyValue(t, "h-dup"); v != 0 {
		t.Errorf("caddy_sgid_ready{server=h-dup} = %v with one of its sites down, want 0", v)
	}
}

// readyValue is the value of caddy_sgid_ready for server.
func readyValue(t *testing.T, server string) float64 {
	t.Helper()
	var m dto.Metric
	if err := readyGauge.WithLabelValues(server).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
