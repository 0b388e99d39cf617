package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The sliced load counts exactly the calls the server answered, sends the
// request as written, and fails a slice on an answer other than 2xx.
func TestSlicedLoad(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "a=b" || r.Header.Get("User-Agent") != "" {
			http.Error(w, "unexpected headers", http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		served.Add(1)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name, path string
		wantErr    string
	}{
		{"counts every answered call", "/ok?x=1", ""},
		{"an error status fails the slice", "/fail", "status 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served.Store(0)
			req, err := newFixedRequest(tc.name, srv.URL+tc.path, "Cookie: a=b")
			if err != nil {
				t.Fatal(err)
			}
			l := newSlicedLoad()
			defer l.close()
			ops, elapsed, err := l.run(context.Background(), &req, 100*time.Millisecond)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ops == 0 || ops != served.Load() {
				t.Fatalf("counted %d calls, the server answered %d", ops, served.Load())
			}
			if elapsed < 100*time.Millisecond {
				t.Fatalf("the slice ended after %s", elapsed)
			}
		})
	}
}

func TestNewFixedRequest(t *testing.T) {
	for _, tc := range []struct {
		name, target string
		headers      []string
		want         string // the request's bytes; "" for an error
	}{
		{"path and query kept", "http://127.0.0.1:9/a/b?c=d", []string{"Cookie: x=y"},
			"GET /a/b?c=d HTTP/1.1\r\nHost: 127.0.0.1:9\r\nCookie: x=y\r\n\r\n"},
		{"no headers", "http://127.0.0.1:9/", nil, "GET / HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n"},
		{"a header with a line break", "http://127.0.0.1:9/", []string{"A: b\r\nC: d"}, ""},
		{"a header without a value", "http://127.0.0.1:9/", []string{"A"}, ""},
		{"not http", "https://127.0.0.1:9/", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := newFixedRequest("r", tc.target, tc.headers...)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("no error; request %q", req.raw)
				}
				return
			}
			if err != nil || string(req.raw) != tc.want {
				t.Fatalf("got %q, %v; want %q", req.raw, err, tc.want)
			}
		})
	}
}

// runTime agrees with the kernel's clock-tick count of the same process:
// after this test has spun for 100 ms of CPU by that count, the scheduler's
// figure has grown by about as much.
func TestRunTime(t *testing.T) {
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: "self", cmd: &exec.Cmd{Process: self}}
	r0, err := p.runTime()
	if err != nil {
		t.Fatal(err)
	}
	c0, err := p.cpuTime()
	if err != nil {
		t.Fatal(err)
	}
	for {
		c1, err := p.cpuTime()
		if err != nil {
			t.Fatal(err)
		}
		if c1-c0 >= 100*time.Millisecond {
			break
		}
	}
	r1, err := p.runTime()
	if err != nil {
		t.Fatal(err)
	}
	// Ticks round to 10 ms at both ends.
	if got := r1 - r0; got < 80*time.Millisecond {
		t.Fatalf("run time grew by %s while the tick count grew by 100 ms", got)
	}
}
