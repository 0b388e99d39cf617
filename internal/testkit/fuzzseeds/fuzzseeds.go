// Package fuzzseeds reads and writes the committed seed corpora of fuzz
// targets: testdata/fuzz/<FuzzName>/<file> in go test's corpus format,
// with string arguments only. A seed that must pass every check (a sealed
// cookie, a signed token) is made once with fixed keys and a fixed clock
// and committed; a test reads it back to prove it still passes, or
// rewrites it when run with -update-fuzz-seeds.
//
// Only tests import it.
package fuzzseeds

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Update makes Keep write the seeds instead of reading them.
var Update = flag.Bool("update-fuzz-seeds", false, "rewrite the committed fuzz seeds that tests make")

const header = "go test fuzz v1\n"

func path(fuzzName, file string) string {
	return filepath.Join("testdata", "fuzz", fuzzName, file)
}

// Keep returns the seed fuzzName/file of the package's testdata. With
// -update-fuzz-seeds it first writes make's result there.
func Keep(tb testing.TB, fuzzName, file string, build func() []string) []string {
	tb.Helper()
	if *Update {
		Write(tb, fuzzName, file, build()...)
	}
	return Read(tb, fuzzName, file)
}

// Write writes one corpus entry of string arguments.
func Write(tb testing.TB, fuzzName, file string, args ...string) {
	tb.Helper()
	var b strings.Builder
	b.WriteString(header)
	for _, a := range args {
		fmt.Fprintf(&b, "string(%s)\n", strconv.Quote(a))
	}
	p := path(fuzzName, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Read reads one corpus entry of string arguments.
func Read(tb testing.TB, fuzzName, file string) []string {
	tb.Helper()
	p := path(fuzzName, file)
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatalf("reading the fuzz seed %s (make it with -update-fuzz-seeds): %v", p, err)
	}
	rest, ok := strings.CutPrefix(string(b), header)
	if !ok {
		tb.Fatalf("%s is not a go test fuzz v1 corpus entry", p)
	}
	var args []string
	for _, line := range strings.Split(strings.TrimRight(rest, "\n"), "\n") {
		inner, ok := strings.CutPrefix(line, "string(")
		inner, ok2 := strings.CutSuffix(inner, ")")
		s, err := strconv.Unquote(inner)
		if !ok || !ok2 || err != nil {
			tb.Fatalf("%s: %q is not a string argument", p, line)
		}
		args = append(args, s)
	}
	return args
}
