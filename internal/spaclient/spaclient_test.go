package spaclient

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestAssetNames(t *testing.T) {
	for _, a := range []*Asset{Client, Popup} {
		sum := sha256.Sum256(a.Bytes())
		want := hex.EncodeToString(sum[:])[:12]
		if a.Hash != want {
			t.Errorf("%s: Hash %q, want %q", a.Name, a.Hash, want)
		}
		if stem := strings.TrimSuffix(a.Name, ".js"); a.Versioned != stem+"."+want+".js" {
			t.Errorf("%s: Versioned %q", a.Name, a.Versioned)
		}
		if a.ETag != `"`+want+`"` {
			t.Errorf("%s: ETag %q", a.Name, a.ETag)
		}
		if len(a.Bytes()) == 0 {
			t.Errorf("%s is empty", a.Name)
		}
	}
	if Client.Name != "sgid.js" || Popup.Name != "sgid-popup.js" {
		t.Errorf("names %q, %q", Client.Name, Popup.Name)
	}
	if Client.Hash == Popup.Hash {
		t.Error("the two assets have the same hash")
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		want      *Asset
		versioned bool
	}{
		{"sgid.js", Client, false},
		{Client.Versioned, Client, true},
		{"sgid-popup.js", Popup, false},
		{Popup.Versioned, Popup, true},
		{"sgid.000000000000.js", nil, false}, // another version: not ours
		{"SGID.JS", nil, false},
		{"", nil, false},
		{"/sgid.js", nil, false},
	}
	for _, tt := range tests {
		a, versioned, ok := Lookup(tt.name)
		if a != tt.want || versioned != tt.versioned || ok != (tt.want != nil) {
			t.Errorf("Lookup(%q) = %v, %v, %v", tt.name, a, versioned, ok)
		}
	}
}

func serve(t *testing.T, method, name string, header ...string) (*httptest.ResponseRecorder, bool) {
	t.Helper()
	r := httptest.NewRequest(method, "/api/"+name, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	return w, Serve(w, r, name)
}

func TestServe(t *testing.T) {
	for _, a := range []*Asset{Client, Popup} {
		// The plain name: revalidated on each use.
		w, ok := serve(t, http.MethodGet, a.Name)
		if !ok || w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), a.Bytes()) {
			t.Fatalf("GET %s: %v %d, %d bytes", a.Name, ok, w.Code, w.Body.Len())
		}
		want := map[string]string{
			"Content-Type":           "text/javascript; charset=utf-8",
			"Cache-Control":          "no-cache",
			"ETag":                   a.ETag,
			"X-Content-Type-Options": "nosniff",
			"Content-Length":         strconv.Itoa(len(a.Bytes())),
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", a.Name, k, got, v)
			}
		}

		// The versioned name: immutable for a year.
		w, ok = serve(t, http.MethodGet, a.Versioned)
		if !ok || w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), a.Bytes()) {
			t.Fatalf("GET %s: %v %d", a.Versioned, ok, w.Code)
		}
		if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", a.Versioned, got)
		}
		if got := w.Header().Get("Content-Type"); got != "text/javascript; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", a.Versioned, got)
		}

		// HEAD: the headers, no body.
		w, _ = serve(t, http.MethodHead, a.Name)
		if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(a.Bytes())) {
			t.Errorf("HEAD %s: %d, %d bytes, Content-Length %q", a.Name, w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
		}
	}
}

func TestServeNotModified(t *testing.T) {
	tests := []struct {
		inm  string
		want int
	}{
		{Client.ETag, http.StatusNotModified},
		{"W/" + Client.ETag, http.StatusNotModified},
		{`"other", ` + Client.ETag, http.StatusNotModified},
		{"*", http.StatusNotModified},
		{`"other"`, http.StatusOK},
		{Popup.ETag, http.StatusOK},
		{strings.Trim(Client.ETag, `"`), http.StatusOK}, // unquoted is another tag
		{"", http.StatusOK},
	}
	for _, tt := range tests {
		w, _ := serve(t, http.MethodGet, Client.Name, "If-None-Match", tt.inm)
		if w.Code != tt.want {
			t.Errorf("If-None-Match %q: %d, want %d", tt.inm, w.Code, tt.want)
		}
		if tt.want == http.StatusNotModified {
			if w.Body.Len() != 0 || w.Header().Get("ETag") != Client.ETag || w.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("304 for %q: %d bytes, ETag %q, Cache-Control %q", tt.inm, w.Body.Len(), w.Header().Get("ETag"), w.Header().Get("Cache-Control"))
			}
		}
	}
	// Two If-None-Match headers count as one list.
	w, _ := serve(t, http.MethodGet, Client.Name, "If-None-Match", `"a"`, "If-None-Match", Client.ETag)
	if w.Code != http.StatusNotModified {
		t.Errorf("ETag in a second If-None-Match header: %d", w.Code)
	}
}

func TestServeMethods(t *testing.T) {
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions, "PATCH"} {
		w, ok := serve(t, m, Client.Name)
		if !ok || w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %v %d Allow %q", m, ok, w.Code, w.Header().Get("Allow"))
		}
		if !strings.Contains(w.Body.String(), `"error":"method_not_allowed"`) || w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: body %q, Content-Type %q", m, w.Body.String(), w.Header().Get("Content-Type"))
		}
	}
}

func TestServeUnknownNameWritesNothing(t *testing.T) {
	for _, name := range []string{"app.js", "sgid.deadbeef0000.js", ""} {
		w, ok := serve(t, http.MethodGet, name)
		if ok || w.Body.Len() != 0 || len(w.Header()) != 0 {
			t.Errorf("%q: served %v, %d bytes, headers %v", name, ok, w.Body.Len(), w.Header())
		}
	}
}

func TestPopupPage(t *testing.T) {
	page := string(PopupPage("/api/auth-url", "/api/"+Popup.Versioned))
	for _, want := range []string{
		`data-auth-url="/api/auth-url"`,
		`<script src="/api/` + Popup.Versioned + `" defer></script>`,
		`id="status"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s:\n%s", want, page)
		}
	}
	// No inline script and no inline style: the page works under PageCSP.
	for _, m := range regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(m[1], " src=") || m[2] != "" {
			t.Errorf("inline script: %s", m[0])
		}
	}
	if strings.Count(page, "<script") != 1 || strings.Contains(page, "<style") || regexp.MustCompile(` (on[a-z]+|style)=`).MatchString(page) {
		t.Errorf("page has inline script or style:\n%s", page)
	}
	// Paths are escaped for their attributes.
	evil := string(PopupPage(`/x" onload="alert(1)`, `/y"><script>alert(2)</script>`))
	if strings.Contains(evil, `" onload="`) || strings.Contains(evil, "<script>alert") {
		t.Errorf("paths are not escaped:\n%s", evil)
	}
}

func TestServePage(t *testing.T) {
	page := PopupPage("/api/auth-url", "/api/"+Popup.Versioned)
	r := httptest.NewRequest(http.MethodGet, "/api/login-popup", nil)
	w := httptest.NewRecorder()
	ServePage(w, r, page)
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), page) {
		t.Fatalf("GET: %d, %d bytes", w.Code, w.Body.Len())
	}
	want := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"Content-Security-Policy": PageCSP,
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		w := httptest.NewRecorder()
		ServePage(w, httptest.NewRequest(m, "/api/login-popup", nil), page)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
	w = httptest.NewRecorder()
	ServePage(w, httptest.NewRequest(http.MethodHead, "/api/login-popup", nil), page)
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
}

// The client stays small: a budget, so that growth is a decision. The
// figures are logged for the docs.
func TestClientSize(t *testing.T) {
	for _, c := range []struct {
		a           *Asset
		raw, zipped int
	}{{Client, 20 << 10, 7 << 10}, {Popup, 3 << 10, 3 << 9}} {
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = zw.Write(c.a.Bytes())
		_ = zw.Close()
		t.Logf("%s: %d bytes, %d gzipped", c.a.Name, len(c.a.Bytes()), z.Len())
		if len(c.a.Bytes()) > c.raw || z.Len() > c.zipped {
			t.Errorf("%s is %d bytes (%d gzipped), over its budget of %d (%d)", c.a.Name, len(c.a.Bytes()), z.Len(), c.raw, c.zipped)
		}
	}
}

// The client is served as it is written: a module with no import (no
// dependency, no build step) whose named exports are the documented API.
func TestClientExports(t *testing.T) {
	src := string(Client.Bytes())
	if regexp.MustCompile(`(?m)^\s*import\b`).MatchString(src) {
		t.Error("sgid.js imports something")
	}
	var got []string
	for _, m := range regexp.MustCompile(`(?m)^export (?:async )?(?:function|class|const) (\w+)`).FindAllStringSubmatch(src, -1) {
		got = append(got, m[1])
	}
	want := "SgidError configure session onChange before extend login logout sessions endSession fetch"
	if strings.Join(got, " ") != want {
		t.Errorf("exports %q, want %q", strings.Join(got, " "), want)
	}
	for _, s := range []string{"eval(", "new Function", "innerHTML", "document.cookie"} {
		if strings.Contains(src, s) {
			t.Errorf("sgid.js uses %s", s)
		}
	}
}
