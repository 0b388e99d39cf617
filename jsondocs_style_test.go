package caddysgid

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

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
