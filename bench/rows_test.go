package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRowsNameLiveFunctions: every profile row that focuses on this
// module's code names a function the module still has, so a row cannot
// read 0 only because the function it looks for was renamed or moved.
func TestRowsNameLiveFunctions(t *testing.T) {
	// Every function of the module as pprof names it: the package path
	// under the module, then Func or (*Type).Method or Type.Method.
	var names []string
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		dir := strings.TrimPrefix(filepath.ToSlash(filepath.Dir(path)), "..")
		pkg := "caddy-sgid" + dir
		if dir == "" {
			pkg = "caddy-sgid"
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil {
				typ, star := fn.Recv.List[0].Type, false
				if s, ok := typ.(*ast.StarExpr); ok {
					typ, star = s.X, true
				}
				if g, ok := typ.(*ast.IndexExpr); ok { // a generic type
					typ = g.X
				}
				id, ok := typ.(*ast.Ident)
				if !ok {
					continue
				}
				if star {
					name = "(*" + id.Name + ")." + name
				} else {
					name = id.Name + "." + name
				}
			}
			names = append(names, "github.com/"+pkg+"."+name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, rows := range [][]stackRow{userinfoRows, authURLRows, guardRows, loginRows} {
		for _, row := range rows {
			if !strings.Contains(row.focus, `caddy-sgid\.`) && !strings.Contains(row.focus, `caddy-sgid/`) {
				continue // the module as a whole, or code outside it
			}
			re := regexp.MustCompile(row.focus)
			found := false
			for _, n := range names {
				if re.MatchString(n) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("row %q looks for %s, which names no function of the module", strings.TrimSpace(row.what), row.focus)
			}
		}
	}
}
