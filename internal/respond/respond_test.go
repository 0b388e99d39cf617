package respond

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Every answer carries the three headers of a JSON answer, and the errors
// their fixed shape.
func TestAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		write  func(http.ResponseWriter) error
		status int
		body   string
		header map[string]string
	}{
		{"json", func(w http.ResponseWriter) error { return JSON(w, 200, map[string]int{"a": 1}) }, 200, `{"a":1}`, nil},
		{"error", func(w http.ResponseWriter) error { return Error(w, 400, "bad", "Bad.") }, 400, `{"error":"bad","message":"Bad."}`, nil},
		{"method", func(w http.ResponseWriter) error { return MethodNotAllowed(w, "GET, HEAD") }, 405, `{"error":"method_not_allowed","message":"This route takes GET, HEAD only."}`, map[string]string{"Allow": "GET, HEAD"}},
		{"unavailable", Unavailable, 503, `{"error":"store_unavailable","message":"The session store cannot be reached; try again shortly."}`, map[string]string{"Retry-After": "5"}},
		{"cross origin", CrossOrigin, 403, `{"error":"cross_origin","message":"This request must come from a page of this site."}`, nil},
	} {
		w := httptest.NewRecorder()
		if err := tc.write(w); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
		for k, v := range tc.header {
			want[k] = v
		}
		if w.Code != tc.status || w.Body.String() != tc.body {
			t.Errorf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.body)
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", tc.name, k, got, v)
			}
		}
	}
	if err := JSON(httptest.NewRecorder(), 200, func() {}); err == nil {
		t.Error("a value that does not encode was written")
	}
}

// A denial is JSON for an API call and a line of text for a page load,
// neither cached nor sniffed.
func TestDenial(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	if err := Denial(w, false, 409, "profile_required", "Choose."); err != nil || w.Code != 409 || w.Body.String() != `{"error":"profile_required"}` || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("API call: %d %q %v", w.Code, w.Body, w.Header())
	}
	w = httptest.NewRecorder()
	if err := Denial(w, true, 403, "forbidden", "Not for you."); err != nil || w.Code != 403 || w.Body.String() != "403 Forbidden: Not for you.\n" {
		t.Errorf("navigation: %d %q", w.Code, w.Body)
	}
	for k, v := range map[string]string{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("navigation: %s %q, want %q", k, got, v)
		}
	}
}
