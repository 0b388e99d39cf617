package cookie

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// sessionName is the session cookie's default name.
const sessionName = "sgid_session"

func TestStrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []string // nil: no Cookie header left
	}{
		{nil, nil},
		{[]string{"theme=dark"}, []string{"theme=dark"}},
		{[]string{"sgid_session=abc"}, nil},
		{[]string{"sgid_session=abc; sgid_session_login_AAAAAAAAAAAA=def"}, nil},
		{[]string{"theme=dark; sgid_session=abc; lang=en"}, []string{"theme=dark; lang=en"}},
		{[]string{"sgid_session_login_AAAAAAAAAAAA=x;theme=dark; sgid_session_login_-_-_-_-_-_-_=y"}, []string{"theme=dark"}},
		// Names that only start with ours, and values that contain them, stay.
		{[]string{"sgid_session2=a; x=sgid_session; sgid_session_login_x=b; sgid_session_loginAAAAAAAAAAAAA=c"}, []string{"sgid_session2=a; x=sgid_session; sgid_session_login_x=b; sgid_session_loginAAAAAAAAAAAAA=c"}},
		// HTTP/2 may split cookies over several header lines.
		{[]string{"a=1", "sgid_session=abc", "b=2; sgid_session=dup"}, []string{"a=1", "b=2"}},
		{[]string{" sgid_session = abc ; a=1"}, []string{"a=1"}},
		// Our names are found behind any space; other cookies keep theirs,
		// so a part that was no cookie does not become one.
		{[]string{"\u00a0sgid_session=abc; \u00a0foo=bar; a=1"}, []string{"\u00a0foo=bar; a=1"}},
		// The __Host- names of HTTPS are ours too; other prefixes are not.
		{[]string{"__Host-sgid_session=abc; __Host-sgid_session_login_AAAAAAAAAAAA=def; a=1"}, []string{"a=1"}},
		{[]string{"__Secure-sgid_session=abc; __Host-sgid_session2=b"}, []string{"__Secure-sgid_session=abc; __Host-sgid_session2=b"}},
	} {
		h := http.Header{}
		if tc.in != nil {
			h["Cookie"] = append([]string(nil), tc.in...)
		}
		Strip(h, sessionName)
		got, ok := h["Cookie"]
		if tc.want == nil {
			if ok {
				t.Errorf("%q: Cookie %q left, want none", tc.in, got)
			}
			continue
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%q: Cookie %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWire(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base   string
		secure bool
		want   string
	}{
		{"sgid_session", false, "sgid_session"},
		{"sgid_session", true, "__Host-sgid_session"},
		{"sgid_session_login", true, "__Host-sgid_session_login"},
		{"app_sid_login_abc", true, "__Host-app_sid_login_abc"},
	} {
		if got := Wire(tc.base, tc.secure); got != tc.want {
			t.Errorf("Wire(%q, %v) = %q, want %q", tc.base, tc.secure, got, tc.want)
		}
	}
}

// A login's cookie is named after its state: two states, two names, each
// a stable cookie-name token recognised as a login cookie.
func TestLoginName(t *testing.T) {
	t.Parallel()
	a, b := LoginName(sessionName, "state-1"), LoginName(sessionName, "state-2")
	if a == b || !IsLoginName(a, sessionName) || !IsLoginName(b, sessionName) {
		t.Fatalf("names %q and %q: want two different login cookie names", a, b)
	}
	if a != LoginName(sessionName, "state-1") {
		t.Fatal("the name of a state's login cookie is not stable")
	}
	if !isCookieToken(a) {
		t.Fatalf("%q is not a cookie-name token", a)
	}
}

// TestSetAsNetHTTP: the Set-Cookie header write writes itself is byte for
// byte the one net/http writes for the same cookie, on HTTP and HTTPS, for
// setting, session-long and deleting cookies; a value net/http would have
// to quote or drop goes through net/http.
func TestSetAsNetHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		maxAge      time.Duration
		secure      bool
	}{
		{"sgid_session", "bbGcObXZC1YGBQZZtZGQH9jsyO1vypqCGqnSU_4TI5S", time.Hour, false},
		{"sgid_session", "bbGcObXZC1YGBQZZtZGQH9jsyO1vypqCGqnSU_4TI5S", 12 * time.Hour, true},
		{"sgid_session_login_AAAAAAAAAAAA", "AQ-_xyz", 10 * time.Minute, true},
		{"sgid_session", "", -1, false},
		{"sgid_session", "", -1, true},
		{"sgid_session", "v", 0, false},
		{"sgid_session", "v", 500 * time.Millisecond, false},
		{"sgid_session", "a b", time.Minute, false},
		{"sgid_session", "a;b", time.Minute, false},
	} {
		t.Run(fmt.Sprintf("%s=%q %s secure=%v", tc.name, tc.value, tc.maxAge, tc.secure), func(t *testing.T) {
			ours, theirs := httptest.NewRecorder(), httptest.NewRecorder()
			write(ours, tc.name, tc.value, tc.maxAge, tc.secure)
			c := &http.Cookie{Name: tc.name, Value: tc.value, Path: "/", HttpOnly: true, Secure: tc.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(tc.maxAge / time.Second)}
			if tc.secure {
				c.Name = "__Host-" + tc.name
			}
			if tc.maxAge < 0 {
				c.MaxAge = -1
			}
			http.SetCookie(theirs, c)
			if got, want := ours.Header()["Set-Cookie"], theirs.Header()["Set-Cookie"]; !slices.Equal(got, want) {
				t.Errorf("Set-Cookie %q, net/http writes %q", got, want)
			}
		})
	}
}

// TestValueMatchesNetHTTP checks that Value finds the value
// r.Cookie finds, or none when it finds none, for headers that stress its
// rules: spaces, quotes, bad bytes, repeated and prefixed names, several
// header lines, and more cookies than Value reads itself.
func TestValueMatchesNetHTTP(t *testing.T) {
	// More than net/http reads by default (3000), so it finds none.
	many := strings.Repeat("x=1; ", 3000) + "sgid_session=late"
	tests := []struct {
		name   string
		header []string
		cookie string
	}{
		{"absent", []string{"theme=dark"}, "sgid_session"},
		{"no header", nil, "sgid_session"},
		{"plain", []string{"theme=dark; sgid_session=abc; lang=en"}, "sgid_session"},
		{"spaces", []string{"  sgid_session = abc ;x=1"}, "sgid_session"},
		{"tab around value", []string{"sgid_session=\tabc\t"}, "sgid_session"},
		{"quoted", []string{`sgid_session="abc"`}, "sgid_session"},
		{"lone quote", []string{`sgid_session="`}, "sgid_session"},
		{"inner quote", []string{`sgid_session=a"b; sgid_session=second`}, "sgid_session"},
		{"backslash", []string{`sgid_session=a\b`}, "sgid_session"},
		{"control byte", []string{"sgid_session=a\x01b; sgid_session=ok"}, "sgid_session"},
		{"non-ASCII", []string{"sgid_session=caf\xc3\xa9"}, "sgid_session"},
		{"no equals", []string{"sgid_session; sgid_session=v"}, "sgid_session"},
		{"empty value", []string{"sgid_session="}, "sgid_session"},
		{"first wins", []string{"sgid_session=one; sgid_session=two"}, "sgid_session"},
		{"prefix not counted", []string{"__Host-sgid_session=h; sgid_session=p"}, "sgid_session"},
		{"host name", []string{"sgid_session=p; __Host-sgid_session=h"}, "__Host-sgid_session"},
		{"second line", []string{"a=1", "sgid_session=two"}, "sgid_session"},
		{"name not a token", []string{"a b=1; sgid_session=ok"}, "a b"},
		{"empty parts", []string{";;sgid_session=v;;"}, "sgid_session"},
		{"many cookies", []string{many}, "sgid_session"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tc.header {
				h.Add("Cookie", v)
			}
			want, wantErr := (&http.Request{Header: h}).Cookie(tc.cookie)
			got, ok := Value(h, tc.cookie)
			if ok != (wantErr == nil) || (ok && got != want.Value) {
				t.Fatalf("Value = %q, %v; net/http found %v", got, ok, fmt.Sprint(want, wantErr))
			}
		})
	}
}

// FuzzStrip feeds arbitrary Cookie headers (two lines) to
// the guard's stripping. As Go's cookie parser reads the result, neither
// the session cookie nor a login cookie is left, under its plain or its
// __Host- name, and every other cookie is passed on as it came.
func FuzzStrip(f *testing.F) {
	f.Add("sgid_session=abc; theme=dark", "")
	f.Add(" sgid_session = x ;a=1", "sgid_session_login_AAAAAAAAAAAA=v")
	f.Add("sgid_session", "b=2; sgid_session=\"q\"")
	f.Add("__Host-sgid_session=abc; __Secure-sgid_session=x", "__Host-sgid_session_login_AAAAAAAAAAAA=v")
	ours := func(n string) bool {
		base := strings.TrimPrefix(n, HostPrefix)
		return base == sessionName || IsLoginName(base, sessionName)
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		in := http.Header{"Cookie": {line1, line2}}
		out := in.Clone()
		Strip(out, sessionName)
		var want []string
		for _, c := range (&http.Request{Header: in}).Cookies() {
			if !ours(c.Name) {
				want = append(want, c.String())
			}
		}
		var got []string
		for _, c := range (&http.Request{Header: out}).Cookies() {
			if ours(c.Name) {
				t.Fatalf("Cookie %q still passes on %s after stripping: %q", in["Cookie"], c.Name, out["Cookie"])
			}
			got = append(got, c.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Cookie %q became %q: the other cookies went from %q to %q", in["Cookie"], out["Cookie"], want, got)
		}
	})
}

// FuzzLoginName: every login cookie's name is recognised as one,
// and the session cookie's name never is.
func FuzzLoginName(f *testing.F) {
	f.Add(sessionName, "fuzz-state-0123456789abcdefghijklmnopqrstuvw")
	f.Add("a", "")
	f.Fuzz(func(t *testing.T, name, state string) {
		if !IsLoginName(LoginName(name, state), name) {
			t.Fatalf("the login cookie of state %q under %q is not recognised", state, name)
		}
		if IsLoginName(name, name) {
			t.Fatalf("the session cookie %q is taken for a login cookie", name)
		}
	})
}
