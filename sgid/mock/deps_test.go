package mock_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoTestCodeInProduction: the Caddy module, which runs this package
// for its mock option, and this package itself link no test code: not
// the testing package, not net/http/httptest and none of this module's
// test helpers (packages whose names end in "test", such as sgidtest).
// Test code in a production binary is dead weight at best.
//
// Beyond those two, no production package of the module (every package
// but the test wing, internal/testkit/... and internal/tests/..., the test
// helpers whose names end in "test", the bench command and the deploy
// folder's tests) imports the test wing, directly or through another
// package.
func TestNoTestCodeInProduction(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		msg := "skipped: the go command is not at " + goTool + " to list dependencies"
		if os.Getenv("CI") != "" {
			t.Fatal(strings.Replace(msg, "skipped", "failed under CI", 1))
		}
		t.Skip(msg)
	}
	const module = "github.com/caddy-sgid/caddy-sgid"
	for _, pkg := range []string{module, module + "/sgid/mock"} {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
			if err != nil {
				t.Fatalf("go list -deps %s: %v", pkg, err)
			}
			for _, dep := range strings.Fields(string(out)) {
				ours := dep == module || strings.HasPrefix(dep, module+"/")
				if dep == "testing" || dep == "net/http/httptest" || (ours && strings.HasSuffix(dep, "test")) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		})
	}
	t.Run("no production package imports the test wing", func(t *testing.T) {
		out, err := exec.Command(goTool, "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"/...").Output()
		if err != nil {
			t.Fatalf("go list %s/...: %v", module, err)
		}
		wing := []string{module + "/internal/testkit/", module + "/internal/tests/"}
		inWing := func(pkg string) bool {
			return strings.HasPrefix(pkg, wing[0]) || strings.HasPrefix(pkg, wing[1])
		}
		production := 0
		for line := range strings.Lines(string(out)) {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			pkg, deps := fields[0], fields[1:]
			rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
			if inWing(pkg) || strings.HasSuffix(pkg, "test") || rel == "bench" || rel == "deploy" || strings.HasPrefix(rel, "deploy/") {
				continue
			}
			production++
			for _, dep := range deps {
				if inWing(dep) {
					t.Errorf("%s depends on %s: test code in a production package", pkg, dep)
				}
			}
		}
		// The root, cmd/caddy, sgid, sgid/mock, store, assertion and the
		// internal packages: a listing that found far fewer checked little.
		if production < 10 {
			t.Errorf("only %d production packages listed:\n%s", production, out)
		}
	})
}
