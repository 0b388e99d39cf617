package caddysgid

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	// The Caddyfiles adapted here use standard directives and log encoders
	// (try_files, the filter encoder), which register with these modules.
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the adapt golden files")

// TestAdaptGolden adapts each testdata/adapt/*.caddyfile (and
// Caddyfile.example) to JSON and compares with the .json beside it. Run
// `go test -run TestAdaptGolden -update` after an intended change.
func TestAdaptGolden(t *testing.T) {
	t.Parallel()
	inputs, _ := filepath.Glob("testdata/adapt/*.caddyfile")
	inputs = append(inputs, "Caddyfile.example")
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			adapter := caddyconfig.GetAdapter("caddyfile")
			out, warnings, err := adapter.Adapt(src, map[string]any{"filename": in})
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "\t"); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := strings.TrimSuffix(in, ".caddyfile") + ".json"
			if in == "Caddyfile.example" {
				golden = "testdata/adapt/Caddyfile.example.json"
			}
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("adapted JSON differs from %s:\n%s", golden, pretty.String())
			}
		})
	}
}

// TestExampleValidates provisions Caddyfile.example's sgid handler as
// `caddy validate` would, with no network.
func TestExampleValidates(t *testing.T) {
	src, _ := os.ReadFile("Caddyfile.example")
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cfg caddy.Config
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&cfg); err != nil {
		t.Fatalf("caddy validate: %v", err)
	}
}

// TestProvisionErrorsNameTheField checks that a bad config fails with a
// message an operator can act on.
func TestProvisionErrorsNameTheField(t *testing.T) {
	t.Parallel()
	_, keyPEM := testKey(t)
	good := func() map[string]any {
		// The memory store: a bare context has no storage.
		return map[string]any{"client_id": "id", "client_secret": "secret", "private_key": keyPEM, "store": map[string]any{"module": "memory"}}
	}
	tests := []struct {
		name   string
		mutate func(map[string]any)
		want   string
	}{
		{"empty client_id from an unset env var", func(m map[string]any) { m["client_id"] = "{env.SGID_TEST_UNSET_VAR}" }, "client_id: {env.SGID_TEST_UNSET_VAR} resolved to an empty value (is SGID_TEST_UNSET_VAR set?)"},
		{"empty client_secret from an unset env var", func(m map[string]any) { m["client_secret"] = " {env.SGID_TEST_UNSET_SECRET} " }, "client_secret: {env.SGID_TEST_UNSET_SECRET} resolved to an empty value (is SGID_TEST_UNSET_SECRET set?)"},
		{"private_key from a missing file", func(m map[string]any) { m["private_key"] = "{file./nonexistent/sgid-key.pem}" }, "private_key: {file./nonexistent/sgid-key.pem} resolved to an empty value (does /nonexistent/sgid-key.pem exist"},
		{"redirect_uri from an unset env var", func(m map[string]any) { m["redirect_uri"] = "{env.SGID_TEST_UNSET_REDIRECT}" }, "redirect_uri: {env.SGID_TEST_UNSET_REDIRECT} resolved to an empty value"},
		{"no secret", func(m map[string]any) { delete(m, "client_secret") }, "client_secret"},
		{"bad key", func(m map[string]any) { m["private_key"] = "not a key" }, "private_key"},
		{"bad next key", func(m map[string]any) { m["private_keys"] = []string{"not a key"} }, "private_keys[0]: invalid configuration: private key: no PEM block found"},
		{"next key from a missing file", func(m map[string]any) { m["private_keys"] = []string{"{file./nonexistent/sgid-next.pem}"} }, "private_keys[0]: {file./nonexistent/sgid-next.pem} resolved to an empty value"},
		{"bad host", func(m map[string]any) { m["host"] = "api.id.gov.sg" }, "host"},
		{"scopes without openid", func(m map[string]any) { m["scopes"] = []string{"myinfo.name"} }, "scopes"},
		{"redirect_uri off the callback", func(m map[string]any) { m["redirect_uri"] = "https://a.example/other" }, "redirect_uri"},
		{"relative path", func(m map[string]any) { m["userinfo_path"] = "api/me" }, "userinfo_path"},
		{"duplicate paths", func(m map[string]any) { m["logout_path"] = "/api/userinfo" }, "is also"},
		{"open redirect in error_path", func(m map[string]any) { m["error_path"] = "//evil.example" }, "error_path"},
		{"bad cookie name", func(m map[string]any) { m["cookie_name"] = "a b" }, "cookie_name"},
		{"prefixed cookie name", func(m map[string]any) { m["cookie_name"] = "__Host-sid" }, "has a cookie prefix"},
		{"tiny login timeout", func(m map[string]any) { m["login_timeout"] = "1s" }, "login_timeout"},
		{"return_to as app param", func(m map[string]any) { m["app_params"] = map[string]string{"return_to": "x"} }, "app_params"},
		{"app value posing as sgID data", func(m map[string]any) { m["app_params"] = map[string]string{"name": "myinfo.name"} }, "looks like an sgID field"},
		{"app value posing as the user id", func(m map[string]any) { m["app_params"] = map[string]string{"uid": "id"} }, "data key \"id\" is the user's identity"},
		{"more app params than a login cookie holds", func(m map[string]any) {
			m["app_params"] = map[string]string{"a": "a", "b": "b", "c": "c", "d": "d", "e": "e"}
		}, "app_params"},
		{"idle timeout under a minute", func(m map[string]any) { m["session_idle_timeout"] = "30s" }, "session_idle_timeout"},
		{"idle timeout as long as the lifetime", func(m map[string]any) {
			m["session_lifetime"] = "1h"
			m["session_idle_timeout"] = "1h"
		}, "session_idle_timeout"},
		{"negative cache_ttl", func(m map[string]any) { m["cache_ttl"] = "-1s" }, "cache_ttl"},
		{"tiny provider timeout", func(m map[string]any) { m["provider_timeout"] = "100ms" }, "provider_timeout"},
		{"key rotation shorter than a login", func(m map[string]any) { m["key_rotation"] = "5m" }, "key_rotation"},
		{"short sealing key", func(m map[string]any) { m["sealing_key"] = "0123456789" }, "sealing_key"},
		{"unknown store", func(m map[string]any) { m["store"] = map[string]any{"module": "disk"} }, "store"},
		{"assertion lifetime over five minutes", func(m map[string]any) {
			m["identity_assertion"] = map[string]any{"header": "X-Sgid-Assertion", "lifetime": "10m"}
		}, "identity_assertion"},
		{"assertion field a registered claim", func(m map[string]any) {
			m["identity_assertion"] = map[string]any{"header": "X-Sgid-Assertion", "fields": []string{"exp"}}
		}, "identity_assertion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.mutate(m)
			raw, _ := json.Marshal(m)
			var h Handler
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			defer cancel()
			err := h.Provision(ctx)
			if err == nil {
				err = h.Validate()
				h.Cleanup()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to name %q", err, tc.want)
			}
			// Caddy names the module ("provision http.handlers.sgid: ...");
			// the error repeats no "sgid:" of its own.
			if err != nil && strings.Contains(err.Error(), "sgid:") {
				t.Errorf("err = %v, want no \"sgid:\" of its own", err)
			}
			if err != nil && strings.Contains(err.Error(), "secret\"") {
				t.Errorf("error repeats a secret: %v", err)
			}
		})
	}
	// The good config passes.
	raw, _ := json.Marshal(good())
	var h Handler
	json.Unmarshal(raw, &h)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
}
