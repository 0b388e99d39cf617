package caddysgid

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	t.Parallel()
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
				session_idle_timeout 30m
				store         redis {
					address 10.0.0.5:6379
				}
				cache_ttl     0
				sealing_key   {env.SGID_SEALING_KEY}
				key_rotation  6h
			}`,
			want: Handler{
				ClientID:           "{env.SGID_CLIENT_ID}",
				ClientSecret:       "{env.SGID_CLIENT_SECRET}",
				PrivateKey:         "{file./etc/caddy/key.pem}",
				Host:               "https://api.id.gov.sg",
				RedirectURI:        "https://app.example/auth/cb",
				Scopes:             []string{"openid", "myinfo.name", "myinfo.email"},
				AppParams:          map[string]string{"icecream": "iceCream", "lang": "lang"},
				AuthURLPath:        "/auth/url",
				CallbackPath:       "/auth/cb",
				UserinfoPath:       "/auth/me",
				LogoutPath:         "/auth/logout",
				SuccessPath:        "/home",
				ErrorPath:          "/oops",
				CookieName:         "app_sid",
				LoginTimeout:       caddy.Duration(5 * time.Minute),
				SessionLifetime:    caddy.Duration(24 * time.Hour),
				SessionIdleTimeout: caddy.Duration(30 * time.Minute),
				StoreRaw:           json.RawMessage(`{"addresses":["10.0.0.5:6379"],"module":"redis"}`),
				CacheTTL:           new(caddy.Duration),
				SealingKey:         "{env.SGID_SEALING_KEY}",
				KeyRotation:        caddy.Duration(6 * time.Hour),
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
		{name: "cookie_secure on", input: "sgid {\n cookie_secure on\n}", want: Handler{CookieSecure: &[]bool{true}[0]}},
		{name: "cookie_secure off", input: "sgid {\n cookie_secure off\n}", want: Handler{CookieSecure: &[]bool{false}[0]}},
		{name: "cookie_secure other", input: "sgid {\n cookie_secure yes\n}", wantErr: `cookie_secure: "yes" must be on or off`},
		{name: "cookie_secure without value", input: "sgid {\n cookie_secure\n}", wantErr: "cookie_secure needs a value"},
		{name: "bad duration", input: "sgid {\n login_timeout soon\n}", wantErr: "login_timeout:"},
		{name: "bad session_idle_timeout", input: "sgid {\n session_idle_timeout never\n}", wantErr: "session_idle_timeout:"},
		{name: "bad cache_ttl", input: "sgid {\n cache_ttl lots\n}", wantErr: "cache_ttl:"},
		{name: "unknown store", input: "sgid {\n store disk\n}", wantErr: "sgid.stores.disk"},
		{name: "store without a name", input: "sgid {\n store\n}", wantErr: "wrong argument count"},
		{name: "keep_fields add up", input: "sgid {\n keep_fields myinfo.name\n keep_fields myinfo.nric_number myinfo.email\n}", want: Handler{KeepFields: []string{"myinfo.name", "myinfo.nric_number", "myinfo.email"}}},
		{name: "keep_fields without a field", input: "sgid {\n keep_fields\n}", wantErr: "keep_fields needs at least one field"},
		{name: "typed_data", input: "sgid {\n typed_data\n}", want: Handler{TypedData: true}},
		{name: "allow_officer adds up", input: "sgid {\n allow_officer *.gov.sg \"agency:Open Government Products\"\n allow_officer type:Permanent\n}", want: Handler{AllowOfficer: []string{"*.gov.sg", "agency:Open Government Products", "type:Permanent"}}},
		{name: "allow_officer without a pattern", input: "sgid {\n allow_officer\n}", wantErr: "allow_officer needs at least one pattern"},
		{name: "profiles_path", input: "sgid {\n profiles_path /auth/jobs\n}", want: Handler{ProfilesPath: "/auth/jobs"}},
		{name: "profiles_path without a path", input: "sgid {\n profiles_path\n}", wantErr: "profiles_path needs a value"},
		{name: "profile_page", input: "sgid {\n protect /*\n profile_page /choose-profile\n}", want: Handler{Guard: &Guard{Protect: []string{"/*"}, ProfilePage: "/choose-profile"}}},
		{name: "profile_page without a path", input: "sgid {\n profile_page\n}", wantErr: "profile_page needs a value"},
		{name: "profile_page with two paths", input: "sgid {\n profile_page /a /b\n}", wantErr: "profile_page takes one value"},
		{name: "typed_data with a value", input: "sgid {\n typed_data on\n}", wantErr: "typed_data takes no value"},
		{name: "typed_data twice", input: "sgid {\n typed_data\n typed_data\n}", wantErr: "typed_data is given twice"},
		{name: "pseudonym and unmasked NRIC headers", input: "sgid {\n identity_header pseudonym:app-a X-User\n identity_header myinfo.nric_number:unmasked X-Nric\n}",
			want: Handler{Guard: &Guard{IdentityHeaders: map[string]string{"X-User": "pseudonym:app-a", "X-Nric": "myinfo.nric_number:unmasked"}}}},
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
		{name: "ambiguous_paths", input: "sgid {\n protect /api/*\n ambiguous_paths protect\n}", want: Handler{Guard: &Guard{Protect: []string{"/api/*"}, AmbiguousPaths: "protect"}}},
		{name: "ambiguous_paths without a value", input: "sgid {\n ambiguous_paths\n}", wantErr: "ambiguous_paths needs a value"},
		{name: "trusted_origins add up", input: "sgid {\n trusted_origins https://a.example\n trusted_origins https://b.example http://localhost:5173\n}", want: Handler{TrustedOrigins: []string{"https://a.example", "https://b.example", "http://localhost:5173"}}},
		{name: "trusted_origins without a value", input: "sgid {\n trusted_origins\n}", wantErr: "trusted_origins needs at least one origin"},
		{name: "guard: one line", input: "sgid {\n protect /api/*\n}", want: Handler{Guard: &Guard{Protect: []string{"/api/*"}}}},
		{name: "fresh_login", input: "sgid {\n protect /api/*\n fresh_login 5m /api/admin/* /api/pay\n}", want: Handler{Guard: &Guard{Protect: []string{"/api/*"}, FreshLogin: &FreshLogin{MaxAge: caddy.Duration(5 * time.Minute), Paths: []string{"/api/admin/*", "/api/pay"}}}}},
		{name: "fresh_login without paths", input: "sgid {\n fresh_login 5m\n}", wantErr: "fresh_login takes a max age and at least one path pattern"},
		{name: "fresh_login bad age", input: "sgid {\n fresh_login soon /api/*\n}", wantErr: "fresh_login:"},
		{name: "fresh_login twice", input: "sgid {\n fresh_login 5m /a\n fresh_login 1m /b\n}", wantErr: "fresh_login is given twice"},
		{name: "protect without patterns", input: "sgid {\n protect\n}", wantErr: "protect needs at least one path pattern"},
		{name: "login_page without path", input: "sgid {\n login_page\n}", wantErr: "login_page needs a value"},
		{name: "login_page with two paths", input: "sgid {\n login_page /a /b\n}", wantErr: "login_page takes one value, got more"},
		{name: "mock with a value", input: "sgid {\n mock on\n}", wantErr: "mock takes no value"},
		{name: "login_page twice", input: "sgid {\n login_page /a\n login_page /b\n}", wantErr: "login_page is given twice"},
		{name: "identity_header without header", input: "sgid {\n identity_header sub\n}", wantErr: "identity_header takes a field and a header name, got 1"},
		{name: "identity_header twice", input: "sgid {\n identity_header sub X-User\n identity_header myinfo.name x-user\n}", wantErr: "identity_header x-user is given twice"},
		{name: "allow_sub without subjects", input: "sgid {\n allow_sub\n}", wantErr: "allow_sub needs at least one subject"},
		{name: "allow_field without values", input: "sgid {\n allow_field role\n}", wantErr: "allow_field takes a field and at least one value, got 1"},
		{name: "forward_cookie with a value", input: "sgid {\n forward_cookie yes\n}", wantErr: "forward_cookie takes no value"},
		// A second private_key is the next key of a rollover; a third has
		// no use and is refused.
		{name: "private_key twice", input: "sgid {\n private_key {file.cur.pem}\n private_key {file.next.pem}\n}", want: Handler{PrivateKey: "{file.cur.pem}", PrivateKeys: []string{"{file.next.pem}"}}},
		{name: "private_key three times", input: "sgid {\n private_key a\n private_key b\n private_key c\n}", wantErr: "private_key is given more than 2 times"},
		{name: "second private_key without a value", input: "sgid {\n private_key a\n private_key\n}", wantErr: "private_key needs a value"},
		{name: "second private_key with two values", input: "sgid {\n private_key a\n private_key b c\n}", wantErr: "private_key takes one value, got more"},
	}
	// Every subdirective that takes a single value (or none) refuses a
	// second line, which would otherwise silently override the first.
	for sub, arg := range map[string]string{
		"client_id": "a", "client_secret": "a", "host": "https://a.example",
		"redirect_uri": "https://a.example/cb", "auth_url_path": "/a", "callback_path": "/a",
		"userinfo_path": "/a", "logout_path": "/a", "success_path": "/a", "error_path": "/a",
		"cookie_name": "a", "cookie_secure": "on", "login_timeout": "5m", "session_lifetime": "1h", "session_idle_timeout": "10m",
		"store": "memory", "cache_ttl": "1s", "sealing_key": "k", "key_rotation": "1h", "provider_timeout": "5s", "mock": "", "login_page": "/a",
		"forward_cookie": "", "ambiguous_paths": "refuse", "profiles_path": "/a", "profile_page": "/a",
	} {
		tests = append(tests, struct {
			name    string
			input   string
			want    Handler
			wantErr string
		}{
			name:    "second " + sub,
			input:   fmt.Sprintf("sgid {\n %s %s\n %s %s\n}", sub, arg, sub, arg),
			wantErr: sub + " is given twice",
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
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
	t.Parallel()
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("sgid {\n client_secret s3cr3t-value extra\n}"))
	if err == nil {
		t.Fatal("expected an error")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q repeats the secret", err)
	}
}

// syntaxBlock returns the subdirective lines of the syntax block in
// UnmarshalCaddyfile's doc comment, and the subdirectives its switch has a
// case for, both read from caddyfile.go.
func syntaxBlock(t *testing.T) (lines, cases []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "caddyfile.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "UnmarshalCaddyfile" {
			continue
		}
		// The block is the comment's code: its lines start with a tab.
		for line := range strings.SplitSeq(fn.Doc.Text(), "\n") {
			if strings.HasPrefix(line, "\t    ") {
				lines = append(lines, strings.TrimSpace(line))
			}
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						cases = append(cases, v)
					}
				}
			}
			return true
		})
	}
	if len(lines) == 0 || len(cases) == 0 {
		t.Fatalf("no syntax block (%d lines) or no cases (%d) found in UnmarshalCaddyfile", len(lines), len(cases))
	}
	return lines, cases
}

// The syntax block in the doc comment lists every subdirective the parser
// knows, one line each, and nothing else.
func TestCaddyfileSyntaxIsComplete(t *testing.T) {
	t.Parallel()
	lines, cases := syntaxBlock(t)
	var documented []string
	for _, line := range lines {
		documented = append(documented, strings.Fields(line)[0])
	}
	for _, c := range cases {
		if !slices.Contains(documented, c) {
			t.Errorf("subdirective %s has a case in the parser but no line in the syntax block", c)
		}
	}
	for _, d := range documented {
		if !slices.Contains(cases, d) {
			t.Errorf("the syntax block shows %s, which the parser has no case for", d)
		}
	}
	if len(documented) != len(cases) {
		t.Errorf("the syntax block has %d lines for the parser's %d subdirectives; give each one line", len(documented), len(cases))
	}
}

// fencedBlockRE finds the fenced code blocks of a Markdown file.
var fencedBlockRE = regexp.MustCompile("(?ms)^```[^\n]*\n(.*?)^```")

// The README shows the same syntax as the doc comment: every subdirective
// line of the comment's block stands, white space aside, in one of the
// README's fenced code blocks.
func TestReadmeShowsCaddyfileSyntax(t *testing.T) {
	t.Parallel()
	lines, _ := syntaxBlock(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	inFences := map[string]bool{}
	for _, m := range fencedBlockRE.FindAllStringSubmatch(string(readme), -1) {
		for line := range strings.SplitSeq(m[1], "\n") {
			inFences[strings.Join(strings.Fields(line), " ")] = true
		}
	}
	var missing []string
	for _, line := range lines {
		if !inFences[strings.Join(strings.Fields(line), " ")] {
			missing = append(missing, line)
		}
	}
	if len(missing) > 0 {
		t.Errorf("README.md has no fenced code block line for these lines of UnmarshalCaddyfile's syntax block (caddyfile.go):\n\t%s", strings.Join(missing, "\n\t"))
	}
}

func TestPathWithin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, scope string
		want     bool
	}{
		{"/api/*", "/api/*", true},
		{"/api/private/*", "/api/*", true},
		{"/API/x", "/api/*", true},
		{"/app/*.json", "/app/*", true},
		{"/application/*", "/app*", true},
		{"/anything", "*", true},
		{"/anything", "/*", true},
		{"/admin", "/admin", true},
		{"/api/*", "/app/*", false},
		{"/app", "/app/*", false},
		{"/*", "/app/*", false},
		{"*.json", "/app/*", false},
		{"/app/x", "/app", false},
		{"/app/*", "/app", false},
		{"/a/x", "/a/*/b*", false},
		{"/app/{env.X}", "/app/*", false},
		{"/app/%2F", "/app/*", false},
	} {
		if got := pathview.Within(tc.p, tc.scope); got != tc.want {
			t.Errorf("pathview.Within(%q, %q) = %v, want %v", tc.p, tc.scope, got, tc.want)
		}
	}
}

// A protect pattern the directive's own matcher keeps from sgid is refused
// when the Caddyfile is adapted, with the reason and the fix; patterns
// inside a path matcher are accepted.
func TestProtectOutsideTheDirectiveMatcher(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, site, want string // want "": adapts
	}{
		{"no matcher", "sgid {\n\t\tprotect /api/*\n\t}", ""},
		{"inside a path matcher", "sgid /app/* {\n\t\tprotect /app/private/* /app/admin\n\t}", ""},
		{"matcher without protect", "@m host a.example\n\tsgid @m {\n\t\tidentity_header sub X-Sub\n\t}", ""},
		{"outside a path matcher", "sgid /app/* {\n\t\tprotect /api/*\n\t}", "protect /api/* is not inside the directive's matcher /app/*"},
		{"one of two outside", "sgid /app/* {\n\t\tprotect /app/x /other\n\t}", "protect /other is not inside"},
		{"named path matcher, inside", "@m path /app/*\n\tsgid @m {\n\t\tprotect /app/*\n\t}", ""},
		{"named path matcher, outside", "@m path /app/*\n\tsgid @m {\n\t\tprotect /api/*\n\t}", "protect /api/* is not inside"},
		{"named matcher with more than a path", "@m {\n\t\tpath /app/*\n\t\tmethod GET\n\t}\n\tsgid @m {\n\t\tprotect /app/*\n\t}", "cannot be checked against protect"},
		{"host matcher", "@m host a.example\n\tsgid @m {\n\t\tprotect /*\n\t}", "cannot be checked against protect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "http://localhost:9080 {\n\t" + tc.site + "\n\trespond ok\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), map[string]any{"filename": "Caddyfile"})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("adapt: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "remove the matcher from sgid")):
				t.Errorf("adapt: %v, want an error saying %q and the fix", err, tc.want)
			case err != nil && strings.Count(err.Error(), "sgid:") != 1:
				t.Errorf("adapt: %v says sgid: more than once", err)
			}
		})
	}
}

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
