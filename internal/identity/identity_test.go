package identity

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

func TestField(t *testing.T) {
	t.Parallel()
	s := session.Session{Sub: "s1", Login: time.Unix(1700000000, 0), Data: map[string]string{"myinfo.name": "A", "empty": ""}}
	for field, want := range map[string]string{"sub": "s1", "auth_time": "1700000000", "myinfo.name": "A", "empty": ""} {
		if got, ok := Field(s, field); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", field, got, ok, want)
		}
	}
	if _, ok := Field(s, "missing"); ok {
		t.Error("a missing field was found")
	}
	if _, ok := Field(session.Session{}, "auth_time"); ok {
		t.Error("an undated session has an auth_time")
	}
}

// The headers of a view are set in canonical form, left out where the
// user has no value, and each value slice is capped so that appending to
// one cannot reach another.
func TestSetHeaders(t *testing.T) {
	t.Parallel()
	rules, err := Compile(Config{Headers: map[string]string{"x-sub": "sub", "X-Name": "myinfo.name", "X-Email": "myinfo.email"}})
	if err != nil {
		t.Fatal(err)
	}
	v := rules.View(session.Session{Sub: "s1", Data: map[string]string{"myinfo.name": "Tan Ah Kow\n"}})
	r := httptest.NewRequest("GET", "/", nil)
	rules.SetHeaders(r, v)
	if got := r.Header["X-Sub"]; len(got) != 1 || got[0] != "s1" {
		t.Errorf("X-Sub %q", got)
	}
	if got := r.Header.Get("X-Name"); got != "Tan Ah Kow%0A" {
		t.Errorf("X-Name %q, want the encoded value", got)
	}
	if _, ok := r.Header["X-Email"]; ok {
		t.Error("a header without a value was set")
	}
	if got := strings.Join(slices.Sorted(maps.Keys(r.Header)), ","); got != "X-Name,X-Sub" {
		t.Errorf("headers set %s, want them in canonical form", got)
	}
	_ = append(r.Header["X-Name"], "more")
	if got := r.Header["X-Sub"]; len(got) != 1 || got[0] != "s1" {
		t.Errorf("an append to X-Name reached X-Sub: %q", got)
	}
}

// Client copies of the identity headers and of the assertion's header
// are scrubbed.
func TestScrub(t *testing.T) {
	t.Parallel()
	rules, err := Compile(Config{Headers: map[string]string{"X-Sub": "sub"}, AssertionHeader: "X-Assertion", AssertionFields: []string{"sub"}})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header["X-Sub"] = []string{"forged"}
	r.Header["X_sub"] = []string{"forged"}
	r.Header.Set("X-Assertion", "forged")
	r.Header.Set("X-Other", "kept")
	rules.Scrub(r)
	for _, k := range []string{"X-Sub", "X_sub", "X-Assertion"} {
		if _, ok := r.Header[k]; ok {
			t.Errorf("%s was not scrubbed", k)
		}
	}
	if r.Header.Get("X-Other") != "kept" {
		t.Error("another header was scrubbed")
	}
}

// The sub and login time win over data keys naming the same placeholder.
func TestPlaceholdersSubWins(t *testing.T) {
	t.Parallel()
	repl := caddy.NewReplacer()
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
	SetPlaceholders(r, session.Session{Sub: "real", Login: time.Unix(5, 0), Data: map[string]string{"id": "forged", "auth_time": "0", "a": "1"}})
	for k, want := range map[string]string{"http.auth.user.id": "real", "http.auth.user.auth_time": "5", "http.auth.user.a": "1"} {
		if got, _ := repl.GetString(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// userinfo leaves out the chosen officer job's keys; typed data types
// sgID's fields and leaves app values strings.
func TestUserinfo(t *testing.T) {
	t.Parallel()
	s := session.Session{Sub: "s1", Data: map[string]string{"officer.work_email": "a@tech.gov.sg", "myinfo.name": "NA", "iceCream": "NA"}}
	for _, typed := range []bool{false, true} {
		rules, err := Compile(Config{Typed: typed, AppKeys: []string{"iceCream"}})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Sub  string         `json:"sub"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(rules.View(s).Userinfo(), &got); err != nil {
			t.Fatal(err)
		}
		if _, ok := got.Data["officer.work_email"]; ok {
			t.Error("userinfo holds officer.work_email")
		}
		if got.Data["iceCream"] != "NA" {
			t.Errorf("typed %v: app value %v", typed, got.Data["iceCream"])
		}
		if want := map[bool]any{false: "NA", true: nil}[typed]; got.Data["myinfo.name"] != want {
			t.Errorf("typed %v: myinfo.name %v, want %v", typed, got.Data["myinfo.name"], want)
		}
	}
}

func TestCompileRefusesAClaimTwice(t *testing.T) {
	t.Parallel()
	_, err := Compile(Config{AssertionHeader: "X-A", AssertionFields: []string{"myinfo.name", "myinfo.name"}})
	if err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("error %v", err)
	}
}
