package caddysgid

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    Handler
		wantErr string // substring of the error; "" = no error
	}{
		{
			name:  "empty block",
			input: `sgid`,
			want:  Handler{},
		},
		{
			name: "every subdirective",
			input: `sgid {
				client_id     {env.SGID_CLIENT_ID}
				client_secret {env.SGID_CLIENT_SECRET}
				private_key   {file./etc/caddy/key.pem}
				host          https://api.id.gov.sg
				redirect_uri  https://app.example/auth/cb
				scopes        openid myinfo.name
				scopes        myinfo.email
				app_param     icecream iceCream
				app_param     lang
				auth_url_path /auth/url
				callback_path /auth/cb
				userinfo_path /auth/me
				logout_path   /auth/logout
				success_path  /home
				error_path    /oops
				cookie_name   app_sid
				login_timeout 5m
				session_lifetime 1d
				max_pending_logins 50
				max_sessions  70
			}`,
			want: Handler{
				ClientID:         "{env.SGID_CLIENT_ID}",
				ClientSecret:     "{env.SGID_CLIENT_SECRET}",
				PrivateKey:       "{file./etc/caddy/key.pem}",
				Host:             "https://api.id.gov.sg",
				RedirectURI:      "https://app.example/auth/cb",
				Scopes:           []string{"openid", "myinfo.name", "myinfo.email"},
				AppParams:        map[string]string{"icecream": "iceCream", "lang": "lang"},
				AuthURLPath:      "/auth/url",
				CallbackPath:     "/auth/cb",
				UserinfoPath:     "/auth/me",
				LogoutPath:       "/auth/logout",
				SuccessPath:      "/home",
				ErrorPath:        "/oops",
				CookieName:       "app_sid",
				LoginTimeout:     caddy.Duration(5 * time.Minute),
				SessionLifetime:  caddy.Duration(24 * time.Hour),
				MaxPendingLogins: 50,
				MaxSessions:      70,
			},
		},
		{name: "argument on the directive", input: `sgid extra`, wantErr: "wrong argument count"},
		{name: "unknown subdirective", input: "sgid {\n client_id a\n clientsecret b\n}", wantErr: `unknown sgid subdirective "clientsecret"`},
		{name: "missing value", input: "sgid {\n client_id\n}", wantErr: "client_id needs a value"},
		{name: "extra value", input: "sgid {\n client_secret a b\n}", wantErr: "client_secret takes one value, got more"},
		{name: "twice", input: "sgid {\n client_id a\n client_id b\n}", wantErr: "client_id is given twice"},
		{name: "scopes without values", input: "sgid {\n scopes\n}", wantErr: "wrong argument count"},
		{name: "app_param without values", input: "sgid {\n app_param\n}", wantErr: "app_param takes a query parameter"},
		{name: "app_param with three values", input: "sgid {\n app_param a b c\n}", wantErr: "app_param takes a query parameter"},
		{name: "app_param twice", input: "sgid {\n app_param a b\n app_param a c\n}", wantErr: `app_param "a" is given twice`},
		{name: "bad duration", input: "sgid {\n login_timeout soon\n}", wantErr: "login_timeout:"},
		{name: "bad number", input: "sgid {\n max_sessions lots\n}", wantErr: `max_sessions: "lots" is not a positive number`},
		{name: "zero number", input: "sgid {\n max_pending_logins 0\n}", wantErr: "is not a positive number"},
		{
			name: "guard",
			input: `sgid {
				protect         /api/* /app/*
				protect         /admin
				login_page      /login
				identity_header sub         X-Sgid-Sub
				identity_header myinfo.name X-Sgid-Name
				allow_sub       s1 s2
				allow_sub       s3
				allow_field     myinfo.residentialstatus CITIZEN PR
				allow_field     role admin
				forward_cookie
			}`,
			want: Handler{Guard: &Guard{
				Protect:         []string{"/api/*", "/app/*", "/admin"},
				LoginPage:       "/login",
				IdentityHeaders: map[string]string{"X-Sgid-Sub": "sub", "X-Sgid-Name": "myinfo.name"},
				AllowSubs:       []string{"s1", "s2", "s3"},
				AllowFields:     []FieldRule{{"myinfo.residentialstatus", []string{"CITIZEN", "PR"}}, {"role", []string{"admin"}}},
				ForwardCookie:   true,
			}},
		},
		{name: "guard: one line", input: "sgid {\n protect /api/*\n}", want: Handler{Guard: &Guard{Protect: []string{"/api/*"}}}},
		{name: "protect without patterns", input: "sgid {\n protect\n}", wantErr: "protect needs at least one path pattern"},
		{name: "login_page without path", input: "sgid {\n login_page\n}", wantErr: "login_page takes one path, got 0"},
		{name: "login_page twice", input: "sgid {\n login_page /a\n login_page /b\n}", wantErr: "login_page is given twice"},
		{name: "identity_header without header", input: "sgid {\n identity_header sub\n}", wantErr: "identity_header takes a field and a header name, got 1"},
		{name: "identity_header twice", input: "sgid {\n identity_header sub X-User\n identity_header myinfo.name x-user\n}", wantErr: "identity_header x-user is given twice"},
		{name: "allow_sub without subjects", input: "sgid {\n allow_sub\n}", wantErr: "allow_sub needs at least one subject"},
		{name: "allow_field without values", input: "sgid {\n allow_field role\n}", wantErr: "allow_field takes a field and at least one value, got 1"},
		{name: "forward_cookie with a value", input: "sgid {\n forward_cookie yes\n}", wantErr: "forward_cookie takes no value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got Handler
			err := got.UnmarshalCaddyfile(caddyfile.NewTestDispenser(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				// Errors name the line, so an operator finds the mistake.
				if !strings.Contains(err.Error(), "Testfile:") {
					t.Errorf("error %q does not name the file and line", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUnmarshalCaddyfileDoesNotEchoSecrets(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("sgid {\n client_secret s3cr3t-value extra\n}"))
	if err == nil {
		t.Fatal("expected an error")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q repeats the secret", err)
	}
}
