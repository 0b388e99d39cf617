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
}
