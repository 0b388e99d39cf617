package confcheck

import (
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestResolve(t *testing.T) {
	t.Setenv("CONFCHECK_TEST_SET", "  value  ")
	t.Setenv("CONFCHECK_TEST_BLANK", "   ")
	for _, tc := range []struct {
		name    string
		value   string
		trim    bool
		want    string
		wantErr string
	}{
		{"plain value", "abc", true, "abc", ""},
		{"set variable, trimmed", "{env.CONFCHECK_TEST_SET}", true, "value", ""},
		{"set variable, space kept", "{env.CONFCHECK_TEST_SET}", false, "  value  ", ""},
		{"nothing written", "", true, "", ""},
		// Space alone is as good as nothing written: no placeholder to name.
		{"only space written", "   ", true, "", ""},
		{"unset variable", "{env.CONFCHECK_TEST_UNSET}", true, "",
			"client_id: {env.CONFCHECK_TEST_UNSET} resolved to an empty value (is CONFCHECK_TEST_UNSET set?)"},
		// A value of only space is empty even where space is kept.
		{"blank variable, space kept", "{env.CONFCHECK_TEST_BLANK}", false, "   ",
			"client_id: {env.CONFCHECK_TEST_BLANK} resolved to an empty value (is CONFCHECK_TEST_BLANK set?)"},
		{"missing file", "{file./nonexistent/confcheck-key.pem}", false, "",
			"client_id: {file./nonexistent/confcheck-key.pem} resolved to an empty value (does /nonexistent/confcheck-key.pem exist, readable by Caddy and not empty?)"},
		{"two unset variables", " {env.CONFCHECK_TEST_A}{env.CONFCHECK_TEST_B} ", true, "",
			"client_id: {env.CONFCHECK_TEST_A} {env.CONFCHECK_TEST_B} resolved to an empty value (is CONFCHECK_TEST_A set? is CONFCHECK_TEST_B set?)"},
		// Placeholders of other namespaces are named, with no hint.
		{"other placeholder", "{vars.confcheck}", true, "",
			"client_id: {vars.confcheck} resolved to an empty value"},
		{"no placeholder to name", "{}", true, "",
			"client_id: the value resolved to an empty value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.value
			err := Resolve(caddy.NewReplacer(), "client_id", &v, tc.trim)
			if v != tc.want {
				t.Errorf("resolved to %q, want %q", v, tc.want)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %q, want none", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSetDefault(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"empty gets the default", "", "/api/auth-url"},
		{"set is kept", "/login", "/login"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.value
			SetDefault(&v, "/api/auth-url")
			if v != tc.want {
				t.Errorf("got %q, want %q", v, tc.want)
			}
		})
	}
}
