package routerzoo

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// zooMethods are the methods every target goes out with, unless its line
// names one.
var zooMethods = []string{"GET", "HEAD", "POST"}

// target is one raw request target of the corpus.
type target struct {
	method string // the only method to send it with; "" for zooMethods
	raw    string // the request target, byte for byte
	where  string // file:line, or what made it
}

// targetFiles are the corpus: targets.txt, which internal/tests/integration's
// path corpus shares, and the zoo's own.
var targetFiles = []string{"targets.txt", "zoo-targets.txt"}

// readTargets reads a file of targets: one a line, sent exactly as
// written; "#" lines and blank lines are skipped; a line starting with a
// double quote is a Go string literal; a line holding a space is a method,
// the space, and the target (itself maybe a literal).
func readTargets(path string) ([]target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []target
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		t := target{where: fmt.Sprintf("%s:%d", filepath.Base(path), n)}
		if line[0] != '"' {
			if m, rest, ok := strings.Cut(line, " "); ok {
				t.method, line = m, rest
			}
		}
		if strings.HasPrefix(line, `"`) {
			if line, err = strconv.Unquote(line); err != nil {
				return nil, fmt.Errorf("%s: %v", t.where, err)
			}
		}
		t.raw = line
		out = append(out, t)
	}
	return out, sc.Err()
}

// longTargets are paths of about 16 KB that end under a protected route
// in some reading.
func longTargets() []target {
	const size = 16 << 10
	long := func(what, raw string) target { return target{raw: raw, where: "long: " + what} }
	return []target{
		long("/api/ and 16 KB", "/api/"+strings.Repeat("x", size)),
		long("/public/ and a/../ to 16 KB, then secret", "/public/"+strings.Repeat("a/../", size/5)+"secret"),
		long("16 KB of slashes, then api/x", "/"+strings.Repeat("/", size)+"api/x"),
		long("/public/ and %2e%2e/ to 16 KB, then api/x", "/public/"+strings.Repeat("%2e%2e/", size/7)+"api/x"),
		long("/public/ and ..%2f to 16 KB, then key/x", "/public/"+strings.Repeat("..%2f", size/5)+"key/x"),
		long("http: and %2f to 16 KB, then api/x", "http:"+strings.Repeat("%2f", size/3)+"api/x"),
		long("/api and 16 KB of %20, then /x", "/api"+strings.Repeat("%20", size/3)+"/x"),
	}
}

// corpus is every target of targetFiles and longTargets.
func corpus(tb testing.TB) []target {
	tb.Helper()
	var all []target
	for _, name := range targetFiles {
		ts, err := readTargets(filepath.Join("testdata", name))
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, ts...)
	}
	return append(all, longTargets()...)
}

// request is one raw request of the corpus.
type request struct {
	method string
	target
}

// requests are the corpus's targets, each with its method or with every
// method of zooMethods.
func requests(targets []target) []request {
	var out []request
	for _, t := range targets {
		if t.method != "" {
			out = append(out, request{t.method, t})
			continue
		}
		for _, m := range zooMethods {
			out = append(out, request{m, t})
		}
	}
	return out
}
