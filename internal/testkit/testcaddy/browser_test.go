package testcaddy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// Paths go to Base, absolute URLs where they say; At moves the paths and
// keeps the jar.
func TestBrowserURLAndAt(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1", Path: "/"})
		w.Write([]byte(r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	b := NewBrowser(t, "http://elsewhere.invalid")
	for _, tc := range []struct{ in, want string }{
		{"/x", "http://elsewhere.invalid/x"},
		{"http://a.example/y", "http://a.example/y"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := b.URL(tc.in); got != tc.want {
				t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	at := b.At(srv.URL)
	if _, body := at.Get("/p"); body != "/p" {
		t.Errorf("At(server).Get(/p) reached %q", body)
	}
	if b.Base != "http://elsewhere.invalid" {
		t.Errorf("At changed the original's Base to %q", b.Base)
	}
	if c := b.At(srv.URL).Cookie("seen"); c == nil || c.Value != "1" {
		t.Errorf("the cookie set through At is not in the shared jar: %v", c)
	}
}

// Get hands redirects back; Follow takes them, reports each hop, and stops
// a loop.
func TestBrowserFollow(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b?x=1", http.StatusFound) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusSeeOther) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("end " + r.Header.Get("X-Nav"))) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b := NewBrowser(t, srv.URL)

	if resp, _ := b.Get("/a"); resp.StatusCode != http.StatusFound {
		t.Errorf("Get followed a redirect: %d", resp.StatusCode)
	}
	resp, body, hops := b.Follow("/a", http.Header{"X-Nav": {"yes"}})
	var paths []string
	for _, h := range hops {
		paths = append(paths, h.RequestURI())
	}
	if resp.Request.URL.Path != "/c" || body != "end yes" || strings.Join(paths, " ") != "/b?x=1 /c" {
		t.Errorf("Follow(/a) ended at %s with %q via %v, want /c, \"end yes\", via /b?x=1 /c", resp.Request.URL, body, paths)
	}
	msg := FatalMessage(t, func(tb testing.TB) { NewBrowser(tb, srv.URL).Follow("/loop", nil) })
	if !strings.Contains(msg, "more than 10 redirects") {
		t.Errorf("Follow of a loop: %q, want a failure naming the bound", msg)
	}
}

// A connection closed before any answer, as an old server on its way out
// after a reload does, is tried once more; a second close fails.
func TestRetryOnReload(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	closeFirst := func(n int64) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if conns.Add(1) <= n {
				c.Close()
				continue
			}
			go http.Serve(&oneConn{c: c}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
		}
	}
	go closeFirst(1)
	b := NewBrowser(t, "http://"+ln.Addr().String())
	if resp, body := b.Get("/"); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("after one unanswered close: %d %q", resp.StatusCode, body)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want the first and one retry", n)
	}

	ln2, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln2.Close() })
	go func() {
		for {
			c, err := ln2.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	msg := FatalMessage(t, func(tb testing.TB) { NewBrowser(tb, "http://"+ln2.Addr().String()).Get("/") })
	if msg == "" {
		t.Error("a server that never answers did not fail the request")
	}
}

// oneConn is a listener that hands out one connection, then blocks until
// the connection's server gives up on it.
type oneConn struct {
	c    net.Conn
	used atomic.Bool
}

func (l *oneConn) Accept() (net.Conn, error) {
	if l.used.Swap(true) {
		return nil, net.ErrClosed
	}
	return l.c, nil
}
func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return l.c.LocalAddr() }

// UserAgent names the browser on every request from then on, also from a
// copy made by At, and leaves the caller's header alone.
func TestBrowserUserAgent(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.UserAgent()))
	}))
	t.Cleanup(srv.Close)
	b := NewBrowser(t, srv.URL)
	if _, body := b.Get("/"); strings.Contains(body, "Firefox") {
		t.Fatalf("before UserAgent: %q", body)
	}
	const ua = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
	b.UserAgent(ua)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	if _, body := b.At(srv.URL).Do(req); body != ua || req.Header.Get("User-Agent") != "" {
		t.Errorf("sent %q (the request's own header now %q), want %q", body, req.Header.Get("User-Agent"), ua)
	}
}
