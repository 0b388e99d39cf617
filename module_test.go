package caddysgid

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/store"
)

// jsonFields are the JSON field names of the config types, by type.
func jsonFields(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		if tag := t.Field(i).Tag.Get("json"); tag != "" && tag != "-" {
			out = append(out, strings.Split(tag, ",")[0])
		}
	}
	return out
}

// docs/json.md names only real JSON fields in its examples and tables, and
// names every field of the handler and its guard: the document cannot
// drift from the config it describes.
func TestJSONDocsNameRealFields(t *testing.T) {
	doc, err := os.ReadFile("docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	// "handler" and "module" name modules; "icecream" is the example's
	// app_params key, a query parameter of the operator's choosing.
	known := []string{"handler", "module", "icecream"}
	for _, v := range []any{Handler{}, Guard{}, FieldRule{}, FreshLogin{}, IdentityAssertion{}, store.Memory{}, store.Storage{}, store.Redis{}, store.RedisTLS{}} {
		known = append(known, jsonFields(v)...)
	}
	// Every key of the JSON examples is a field.
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/json.md has no JSON example")
	}
	keyRE := regexp.MustCompile(`"([a-z_]+)"\s*:`)
	for _, b := range blocks {
		for _, m := range keyRE.FindAllSubmatch(b[1], -1) {
			if !slices.Contains(known, string(m[1])) {
				t.Errorf("docs/json.md shows the key %q, which no config type has", m[1])
			}
		}
	}
	// Every field of the handler and the guard is named somewhere.
	for _, v := range []any{Handler{}, Guard{}} {
		for _, f := range jsonFields(v) {
			if !strings.Contains(string(doc), "`"+f+"`") && !strings.Contains(string(doc), `"`+f+`"`) {
				t.Errorf("docs/json.md never names the field %q", f)
			}
		}
	}
}

// configTypes are the types whose comments Caddy shows as the JSON docs of
// the handler and its guest modules, by the folder that declares them.
var configTypes = map[string][]string{
	".":     {"Handler", "Guard", "FieldRule", "FreshLogin", "IdentityAssertion"},
	"store": {"Memory", "Storage", "Redis", "RedisTLS"},
}

// words are the words of a comment.
var words = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]*`)

// camelCase reports whether w is written as Go names are (isNavigation,
// MaxAge, JWKSPath): a lower-case letter and a capital after the first
// letter. English words, acronyms (JWKS, URL) and JSON names are not.
func camelCase(w string) bool {
	return strings.ContainsAny(w, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(w[1:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// TestFieldCommentsAreJSONDocs: the comments of the config types and their
// JSON fields read as Caddy's JSON docs, which is where operators see
// them: they name JSON fields, never Go ones (MaxAge for max_age) nor
// unexported code (isNavigation), which a JSON reader cannot look up.
func TestFieldCommentsAreJSONDocs(t *testing.T) {
	t.Parallel()
	// Words of the domain written in camel case that are no Go names.
	allowed := []string{"sgID", "iceCream", "MyInfo", "APIs", "WebSocket", "WebSockets", "OpenID", "JavaScript", "TypeScript", "PKCS", "ACLs"}
	for dir, types := range configTypes {
		fset := token.NewFileSet()
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				gd, ok := n.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					return true
				}
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					st, ok := ts.Type.(*ast.StructType)
					if !ok || !slices.Contains(types, ts.Name.Name) {
						continue
					}
					check := func(where string, doc *ast.CommentGroup, self string) {
						if doc == nil {
							return
						}
						for _, w := range words.FindAllString(doc.Text(), -1) {
							if !camelCase(w) || w == self || slices.Contains(allowed, w) {
								continue
							}
							t.Errorf("%s: the comment of %s names %q, a Go name; JSON docs name JSON fields", fset.Position(doc.Pos()), where, w)
						}
					}
					// A type's comment may start with its own name, as Go
					// doc comments do; Caddy shows what follows.
					check(ts.Name.Name, gd.Doc, ts.Name.Name)
					for _, fld := range st.Fields.List {
						if len(fld.Names) == 0 || !fld.Names[0].IsExported() || fld.Tag == nil {
							continue
						}
						tag := reflect.StructTag(strings.Trim(fld.Tag.Value, "`")).Get("json")
						if tag == "" || tag == "-" {
							continue
						}
						check(ts.Name.Name+"."+fld.Names[0].Name+" ("+strings.Split(tag, ",")[0]+")", fld.Doc, "")
						// Nor does a field's comment start with its Go name.
						if fld.Doc != nil && strings.HasPrefix(fld.Doc.Text(), fld.Names[0].Name+" ") && fld.Names[0].Name != strings.Split(tag, ",")[0] {
							t.Errorf("%s: the comment of %s starts with its Go name", fset.Position(fld.Doc.Pos()), fld.Names[0].Name)
						}
					}
				}
				return true
			})
		}
	}
}

// TestKeyErrorNamesSetting: a bad private_key fails provisioning with
// sgid's own explanation and the Caddy setting to fix, and without an
// "sgid:" of its own (Caddy names the module).
func TestKeyErrorNamesSetting(t *testing.T) {
	for _, tc := range []struct {
		key, want string
	}{
		{"/etc/caddy/sgid.pem", "this looks like a file path: use {file./path}"},
		{"", "the private key is empty"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var h Handler
			raw, _ := json.Marshal(map[string]any{"client_id": "id", "client_secret": "secret", "private_key": tc.key})
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
			err := h.Provision(ctx)
			cancel()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "private_key") {
				t.Fatalf("private_key %q: err = %v, want it to begin with private_key and say %q", tc.key, err, tc.want)
			}
			if strings.Contains(err.Error(), "sgid:") {
				t.Errorf("private_key %q: %q repeats sgid:", tc.key, err)
			}
		})
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
		{"session_path on the list of sessions", func(m map[string]any) { m["session_path"] = "/api/sessions" }, "is also"},
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
