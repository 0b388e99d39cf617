package confcheck

import (
	"testing"
)

// wantError fails t unless err is nil when want is empty, or has exactly
// the text want.
func wantError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("error %q, want none", err)
	case want != "" && (err == nil || err.Error() != want):
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestCheckRoutes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		routes  map[string]string
		wantErr string
	}{
		{"distinct paths", map[string]string{"auth_url_path": "/api/auth-url", "callback_path": "/api/redirect"}, ""},
		{"no leading slash", map[string]string{"auth_url_path": "api/auth-url"}, `auth_url_path: "api/auth-url" must start with /`},
		{"empty path", map[string]string{"logout_path": ""}, `logout_path: "" must start with /`},
		// The fields are taken in name order, so the error is the same on
		// every run.
		{"same path twice", map[string]string{"userinfo_path": "/api/me", "callback_path": "/api/me", "logout_path": "/api/out"}, `userinfo_path: "/api/me" is also callback_path`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, CheckRoutes(tc.routes), tc.wantErr)
		})
	}
}

func TestCheckCookieName(t *testing.T) {
	for _, tc := range []struct {
		name, cookie, wantErr string
	}{
		{"default", "sgid_session", ""},
		{"token characters", "a.b-c~d!e#f$g%h&i'j*k+l^m|n", ""},
		{"empty", "", `cookie_name: "" is not a valid cookie name`},
		{"space", "sgid session", `cookie_name: "sgid session" is not a valid cookie name`},
		{"semicolon", "sgid;x", `cookie_name: "sgid;x" is not a valid cookie name`},
		{"equals sign", "sgid=x", `cookie_name: "sgid=x" is not a valid cookie name`},
		{"__Host- prefix", "__Host-sgid", `cookie_name: "__Host-sgid" has a cookie prefix; give the bare name, the handler adds __Host- on HTTPS`},
		{"__secure- prefix in any case", "__secure-sgid", `cookie_name: "__secure-sgid" has a cookie prefix; give the bare name, the handler adds __Host- on HTTPS`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, CheckCookieName(tc.cookie), tc.wantErr)
		})
	}
}

func TestCheckAppParams(t *testing.T) {
	identity := map[string]bool{"id": true, "auth_time": true}
	for _, tc := range []struct {
		name    string
		params  map[string]string
		wantErr string
	}{
		{"none", nil, ""},
		{"at the limit", map[string]string{"a": "a", "b": "b", "c": "c", "d": "d"}, ""},
		{"one too many", map[string]string{"a": "a", "b": "b", "c": "c", "d": "d", "e": "e"},
			"app_params: 5 parameters; at most 4 fit in the login cookie"},
		{"empty parameter", map[string]string{"": "flavour"}, `app_params: empty parameter or key ("" -> "flavour")`},
		{"empty key", map[string]string{"icecream": ""}, `app_params: empty parameter or key ("icecream" -> "")`},
		{"return path parameter", map[string]string{"return_to": "back"}, `app_params: "return_to" is reserved for the return path`},
		{"identity key", map[string]string{"who": "id"},
			`app_params: data key "id" is the user's identity ({http.auth.user.id}), which only sgID sets; pick another key`},
		{"another identity key", map[string]string{"when": "auth_time"},
			`app_params: data key "auth_time" is the user's identity ({http.auth.user.auth_time}), which only sgID sets; pick another key`},
		{"dotted key", map[string]string{"name": "myinfo.name"}, `app_params: data key "myinfo.name" looks like an sgID field; pick a key without a dot`},
		{"sub", map[string]string{"s": "sub"}, `app_params: data key "sub" looks like an sgID field; pick a key without a dot`},
		{"openid", map[string]string{"o": "openid"}, `app_params: data key "openid" looks like an sgID field; pick a key without a dot`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, CheckAppParams(tc.params, "return_to", identity), tc.wantErr)
		})
	}
}
