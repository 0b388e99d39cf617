package integration

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// corpusUpstream is an upstream that reads requests off the socket itself
// and records each request line as it arrived, under the X-Corpus header
// the test sent, so that no parser between the wire and the record can
// normalise or refuse a path.
type corpusUpstream struct {
	ln       net.Listener
	mu       sync.Mutex
	received map[string]string // X-Corpus value -> request target
}

func newCorpusUpstream(t *testing.T) *corpusUpstream {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &corpusUpstream{ln: ln, received: map[string]string{}}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go u.serve(conn)
		}
	}()
	return u
}

// serve answers every request on conn with 200, recording its target.
func (u *corpusUpstream) serve(conn net.Conn) {
	defer conn.Close()
	rd := bufio.NewReader(conn)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		fields := strings.Fields(line)
		target, id := "", ""
		if len(fields) == 3 {
			target = fields[1]
		}
		for {
			h, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			if h == "\r\n" || h == "\n" {
				break
			}
			if name, value, ok := strings.Cut(h, ":"); ok && strings.EqualFold(name, "X-Corpus") {
				id = strings.TrimSpace(value)
			}
		}
		u.mu.Lock()
		u.received[id] = target
		u.mu.Unlock()
		if _, err := conn.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nContent-Type: text/plain\r\n\r\nupstream")); err != nil {
			return
		}
	}
}

func (u *corpusUpstream) target(id string) (string, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	target, ok := u.received[id]
	return target, ok
}

// sendRawTarget sends one GET with this exact request target to the test
// site over a connection of its own, so that no client library cleans or
// re-encodes it, and returns the status (0 when the connection failed).
func sendRawTarget(t *testing.T, target, id string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp4", "127.0.0.1:9080", 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: localhost:9080\r\nAccept: */*\r\nX-Corpus: %s\r\nConnection: close\r\n\r\n", target, id)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Errorf("%s: no answer: %v", target, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sharedTargets is the file of raw request targets that a common router
// (Flask/Werkzeug, Express, Go's ServeMux, Tomcat/Jetty, nginx, or a
// Windows server) could route under /api/, reading it in its own way: such
// a target must never reach the upstream without a login. The router zoo
// (internal/tests/routerzoo) sends the same targets to real routers.
const sharedTargets = "../routerzoo/testdata/targets.txt"

// readSharedTargets reads sharedTargets: one target a line, sent exactly as
// written; "#" lines and blank lines are skipped; a line starting with a
// double quote is a Go string literal.
func readSharedTargets(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(sharedTargets)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for n, line := range strings.Split(string(raw), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '"' {
			if line, err = strconv.Unquote(line); err != nil {
				t.Fatalf("%s:%d: %v", sharedTargets, n+1, err)
			}
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no target", sharedTargets)
	}
	return out
}

// pathCase is one raw request target. underAPI says whether a router
// could route it under /api/ (those of sharedTargets); open marks the
// canonical paths outside /api/*, which must reach the upstream as they
// are. The others are reported only.
type pathCase struct {
	target         string
	underAPI, open bool
}

// pathCorpus holds the raw request targets besides sharedTargets.
var pathCorpus = []pathCase{
	{"/", false, true},
	{"/index.html", false, true},
	{"/public/a", false, true},
	{"/public/a?x=1", false, true},
	{"/apiary", false, true},
	{"/api", false, true},
	{"/apiv2/x", false, true},
	{"/public/x.json", false, true},
	{"/static/app.js", false, true},

	{"/public/%2e%2e/index.html", false, false},
	{"/public/../index.html", false, false},
	{"/public;x/a", false, false},
	{"//public/a", false, false},
	{"/public%2fa", false, false},
	{"/apiary/..%2fpublic", false, false},
}

// TestPathCorpus sends every target of pathCorpus, without a session, to a
// real Caddy that protects /api/* in front of a site-wide reverse_proxy.
// None that a router could place under /api/ may reach the upstream; the
// canonical open paths must reach it unchanged.
func TestPathCorpus(t *testing.T) {
	up := newCorpusUpstream(t)
	startCaddy(t, fmt.Sprintf(`http://localhost:9080 {
	sgid {
		mock
		store memory
		protect /api/*
	}
	reverse_proxy %s
}`, up.ln.Addr()))
	var cases []pathCase
	for _, target := range readSharedTargets(t) {
		cases = append(cases, pathCase{target: target, underAPI: true})
	}
	cases = append(cases, pathCorpus...)
	for i, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			id := fmt.Sprint(i)
			status := sendRawTarget(t, tc.target, id)
			got, reached := up.target(id)
			t.Logf("%-32s %d reached=%v upstream_target=%q", tc.target, status, reached, got)
			switch {
			case tc.underAPI && reached:
				t.Errorf("%s: reached the upstream as %q (status %d) without a login", tc.target, got, status)
			case tc.underAPI && status != http.StatusUnauthorized && status != http.StatusBadRequest:
				t.Errorf("%s: status %d, want 401 (or 400 for a target the server refuses)", tc.target, status)
			case tc.open && (!reached || got != tc.target || status != http.StatusOK):
				t.Errorf("%s: status %d, upstream got %q (reached %v), want it passed on as it is", tc.target, status, got, reached)
			}
		})
	}
}
