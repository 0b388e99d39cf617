package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
)

// The port check runs once and fails every later caller too, naming the
// port, even after the port has been let go (by then it could be this
// package's own Caddy holding it).
func TestPortCheckFailsEveryCallerOnce(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	c := &portCheck{ports: []int{port}}
	want := fmt.Sprintf("port %d is in use", port)
	if msg := testcaddy.FatalMessage(t, c.require); !strings.HasPrefix(msg, want) {
		t.Errorf("first check: %q, want it to start with %q", msg, want)
	}
	ln.Close()
	if msg := testcaddy.FatalMessage(t, c.require); !strings.HasPrefix(msg, want) {
		t.Errorf("second check: %q, want the first result again", msg)
	}
	free := &portCheck{ports: []int{port}}
	if msg := testcaddy.FatalMessage(t, free.require); msg != "" {
		t.Errorf("free port: %q", msg)
	}
}

// startCaddy checks the ports before it starts anything.
func TestStartCaddyChecksPortsFirst(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	saved := testPorts
	testPorts = &portCheck{ports: []int{port}}
	defer func() { testPorts = saved }()
	msg := testcaddy.FatalMessage(t, func(tb testing.TB) { startCaddy(tb, "http://localhost:9080 {\n\trespond ok\n}") })
	if want := fmt.Sprintf("port %d is in use", port); !strings.HasPrefix(msg, want) {
		t.Errorf("startCaddy with a busy port: %q, want it to start with %q", msg, want)
	}
}

// portRE finds the ports the Caddyfiles in this package's tests and the
// example listen on, or send requests to.
var portRE = regexp.MustCompile(`(?:localhost|127\.0\.0\.1|http://):(\d{4})\b|http_port (\d{4})\b`)

// Every fixed port that this package's tests or Caddyfile.example name is
// checked before the first Caddy starts.
func TestPortCheckCoversThePackagesPorts(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob("*_test.go")
	files = append(files, exampleCaddyfile)
	named := map[int]string{}
	for _, f := range files {
		if f == "ports_test.go" { // ports as test data
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range portRE.FindAllStringSubmatch(string(src), -1) {
			p, _ := strconv.Atoi(m[1] + m[2])
			named[p] = f
		}
	}
	for _, g := range testGlobals {
		var p int
		if _, err := fmt.Sscanf(g, "http_port %d", &p); err == nil {
			named[p] = "testGlobals"
		}
	}
	named[testAdminPort] = "testGlobals"
	if len(named) < 3 {
		t.Fatalf("found only %v; the pattern no longer fits the sources", named)
	}
	for port, where := range named {
		if !slices.Contains(testPorts.ports, port) {
			t.Errorf("port %d (in %s) is not in testPorts", port, where)
		}
	}
}
