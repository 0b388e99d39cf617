package sites

import (
	"slices"
	"testing"
)

// TestRegistryGroups: sites are grouped by scope, in scope order, each
// group with its servers sorted once each and its sites in the order they
// were registered, so that calls act through the newest; a site taken
// back or without sessions is in no group.
func TestRegistryGroups(t *testing.T) {
	t.Parallel()
	type want struct {
		scope   string
		servers []string
		sites   []int // indexes into the sites registered
	}
	for _, tc := range []struct {
		name       string
		sites      []Site // Sessions are filled in unless noSessions
		noSessions []int
		unregister []int
		want       []want
	}{
		{"one site", []Site{{Scope: "s", Server: "a"}}, nil, nil,
			[]want{{"s", []string{"a"}, []int{0}}}},
		{"scopes in order, whatever the order of registration",
			[]Site{{Scope: "z", Server: "a"}, {Scope: "b", Server: "a"}, {Scope: "m", Server: "c"}}, nil, nil,
			[]want{{"b", []string{"a"}, []int{1}}, {"m", []string{"c"}, []int{2}}, {"z", []string{"a"}, []int{0}}}},
		{"a reload: the same scope twice, newest last",
			[]Site{{Scope: "s", Server: "srv"}, {Scope: "s", Server: "srv"}}, nil, nil,
			[]want{{"s", []string{"srv"}, []int{0, 1}}}},
		{"servers sorted and named once",
			[]Site{{Scope: "s", Server: "z"}, {Scope: "s", Server: "a"}, {Scope: "s", Server: "z"}}, nil, nil,
			[]want{{"s", []string{"a", "z"}, []int{0, 1, 2}}}},
		{"taken back", []Site{{Scope: "s", Server: "a"}, {Scope: "s", Server: "b"}}, nil, []int{0},
			[]want{{"s", []string{"b"}, []int{1}}}},
		{"without sessions", []Site{{Scope: "s", Server: "a"}, {Scope: "t", Server: "b"}}, []int{1}, nil,
			[]want{{"s", []string{"a"}, []int{0}}}},
		{"none", nil, nil, nil, []want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var reg Registry
			for i := range tc.sites {
				if !slices.Contains(tc.noSessions, i) {
					tc.sites[i].Sessions = newManager(t, nil, nil)
				}
				reg.Register(tc.sites[i])
			}
			for _, i := range tc.unregister {
				reg.Unregister(tc.sites[i].Sessions)
			}
			got := reg.groups()
			if len(got) != len(tc.want) {
				t.Fatalf("%d groups, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.scope != w.scope || !slices.Equal(g.servers, w.servers) || len(g.sites) != len(w.sites) {
					t.Fatalf("group %d: scope %q servers %v with %d sites, want %q %v with %d", i, g.scope, g.servers, len(g.sites), w.scope, w.servers, len(w.sites))
				}
				for j, k := range w.sites {
					if g.sites[j].Sessions != tc.sites[k].Sessions {
						t.Errorf("group %q: site %d is not site %d", g.scope, j, k)
					}
				}
				if g.newest().Sessions != tc.sites[w.sites[len(w.sites)-1]].Sessions {
					t.Errorf("group %q: newest is not the last registered", g.scope)
				}
			}
		})
	}
}

// TestRefreshHeld: the sessions held are told for a scope whose store
// counts them exactly, to its newest site's hooks under that site's
// server, and not at all for a store that cannot.
func TestRefreshHeld(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		uncount  bool
		sessions int
		want     map[string]int
	}{
		{"exact store", false, 2, map[string]int{"new": 2}},
		{"exact store, empty", false, 0, map[string]int{"new": 0}},
		{"no exact count", true, 2, map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec, stale := newRecorder(), newRecorder()
			var reg Registry
			st := memoryScope(t)
			raw := st
			if tc.uncount {
				raw = uncounted{st}
			}
			older, newer := newManager(t, st, raw), newManager(t, st, raw)
			reg.Register(Site{Scope: "s", Server: "first", Sessions: older, Hooks: stale.hooks()})
			reg.Register(Site{Scope: "s", Server: "new", Sessions: newer, Hooks: rec.hooks()})
			for range tc.sessions {
				putSession(t, newer, "alice")
			}
			reg.RefreshHeld()
			if len(rec.held) != len(tc.want) || rec.held["new"] != tc.want["new"] {
				t.Errorf("held %v, want %v", rec.held, tc.want)
			}
			if len(stale.held) != 0 {
				t.Errorf("the older site's hooks were told %v, want nothing", stale.held)
			}
		})
	}
	// Without a hook there is nothing to tell, and nothing fails.
	var reg Registry
	reg.Register(Site{Scope: "s", Server: "a", Sessions: newManager(t, nil, nil)})
	reg.RefreshHeld()
}
