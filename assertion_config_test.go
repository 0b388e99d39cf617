package caddysgid

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/store"
	"github.com/caddy-sgid/caddy-sgid/store/storetest"
)

func TestParseIdentityAssertion(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  *IdentityAssertion
		err   string // part of the error, when one is expected
	}{
		{"header only", `identity_assertion X-Sgid-Assertion`,
			&IdentityAssertion{Header: "X-Sgid-Assertion"}, ""},
		{"empty block", "identity_assertion X-A {\n}",
			&IdentityAssertion{Header: "X-A"}, ""},
		{"every subdirective", `identity_assertion X-A {
			audience https://api.internal
			lifetime 2m
			fields myinfo.name iceCream
			jwks_path /keys.json
		}`, &IdentityAssertion{
			Header: "X-A", Audience: "https://api.internal",
			Lifetime: caddy.Duration(2 * time.Minute),
			Fields:   []string{"myinfo.name", "iceCream"}, JWKSPath: "/keys.json",
		}, ""},
		{"fields add up", "identity_assertion X-A {\nfields a\nfields b c\n}",
			&IdentityAssertion{Header: "X-A", Fields: []string{"a", "b", "c"}}, ""},
		{"no header", `identity_assertion`, nil, "one header name"},
		{"two headers", `identity_assertion X-A X-B`, nil, "one header name"},
		{"header then block with extra", "identity_assertion X-A extra {\n}", nil, "one header name"},
		{"unknown subdirective", "identity_assertion X-A {\nissuer x\n}", nil, "unknown identity_assertion subdirective"},
		{"audience twice", "identity_assertion X-A {\naudience a\naudience b\n}", nil, "audience is given twice"},
		{"lifetime twice", "identity_assertion X-A {\nlifetime 1m\nlifetime 2m\n}", nil, "lifetime is given twice"},
		{"jwks_path twice", "identity_assertion X-A {\njwks_path /a\njwks_path /b\n}", nil, "jwks_path is given twice"},
		{"audience without value", "identity_assertion X-A {\naudience\n}", nil, "needs a value"},
		{"audience with two values", "identity_assertion X-A {\naudience a b\n}", nil, "takes one value"},
		{"lifetime not a duration", "identity_assertion X-A {\nlifetime soon\n}", nil, "lifetime"},
		{"fields without value", "identity_assertion X-A {\nfields\n}", nil, "at least one field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.input)
			d.Next()
			got, err := parseIdentityAssertion(d)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Inside an sgid block, the parser reads its own block and leaves the
// dispenser on the enclosing block's next line.
func TestParseIdentityAssertionNested(t *testing.T) {
	tests := []struct {
		name  string
		input string
		next  []string
	}{
		{"with block", "sgid {\nidentity_assertion X-A {\nlifetime 30s\n}\nprotect /api/*\n}", []string{"protect"}},
		{"without block", "sgid {\nidentity_assertion X-A\nprotect /api/*\nlogin_page /login\n}", []string{"protect", "login_page"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tc.input)
			d.Next()
			var others []string
			var a *IdentityAssertion
			for d.NextBlock(0) {
				if d.Val() == "identity_assertion" {
					var err error
					if a, err = parseIdentityAssertion(d); err != nil {
						t.Fatal(err)
					}
					continue
				}
				others = append(others, d.Val())
				d.RemainingArgs()
			}
			if a == nil || a.Header != "X-A" {
				t.Fatalf("parsed %+v", a)
			}
			if !reflect.DeepEqual(others, tc.next) {
				t.Fatalf("the enclosing block went on with %v, want %v", others, tc.next)
			}
		})
	}
}

func TestIdentityAssertionDefaults(t *testing.T) {
	a := &IdentityAssertion{Header: "X-A"}
	a.applyDefaults()
	if time.Duration(a.Lifetime) != time.Minute || a.JWKSPath != "/.well-known/sgid/jwks.json" || a.Audience != "" {
		t.Fatalf("defaults %+v", a)
	}
	if err := a.validate(nil); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}

func TestIdentityAssertionValidate(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*IdentityAssertion)
		identity map[string]string
		err      string
	}{
		{"valid", func(*IdentityAssertion) {}, nil, ""},
		{"lower-case header", func(a *IdentityAssertion) { a.Header = "x-sgid-assertion" }, nil, ""},
		{"not a token", func(a *IdentityAssertion) { a.Header = "X Sgid" }, nil, "not a valid header name"},
		{"empty header", func(a *IdentityAssertion) { a.Header = "" }, nil, "not a valid header name"},
		{"hop-by-hop", func(a *IdentityAssertion) { a.Header = "connection" }, nil, "cannot carry"},
		{"transfer-encoding", func(a *IdentityAssertion) { a.Header = "Transfer-Encoding" }, nil, "cannot carry"},
		{"authorization", func(a *IdentityAssertion) { a.Header = "Authorization" }, nil, "cannot carry"},
		{"cookie", func(a *IdentityAssertion) { a.Header = "Cookie" }, nil, "cannot carry"},
		{"forwarded", func(a *IdentityAssertion) { a.Header = "x-forwarded-user" }, nil, "cannot carry"},
		{"an identity header", func(a *IdentityAssertion) { a.Header = "X_Sgid_Sub" }, map[string]string{"x-sgid-sub": "sub"}, "also an identity_header"},
		{"beside identity headers", func(*IdentityAssertion) {}, map[string]string{"X-Sgid-Sub": "sub"}, ""},
		{"shortest lifetime", func(a *IdentityAssertion) { a.Lifetime = caddy.Duration(time.Second) }, nil, ""},
		{"longest lifetime", func(a *IdentityAssertion) { a.Lifetime = caddy.Duration(5 * time.Minute) }, nil, ""},
		{"lifetime too long", func(a *IdentityAssertion) { a.Lifetime = caddy.Duration(5*time.Minute + time.Second) }, nil, "lifetime"},
		{"lifetime under a second", func(a *IdentityAssertion) { a.Lifetime = caddy.Duration(time.Millisecond) }, nil, "lifetime"},
		{"lifetime with a fraction", func(a *IdentityAssertion) { a.Lifetime = caddy.Duration(1500 * time.Millisecond) }, nil, "lifetime"},
		{"negative lifetime", func(a *IdentityAssertion) { a.Lifetime = caddy.Duration(-time.Minute) }, nil, "lifetime"},
		{"fields", func(a *IdentityAssertion) { a.Fields = []string{"myinfo.name", "iceCream"} }, nil, ""},
		{"empty field", func(a *IdentityAssertion) { a.Fields = []string{"a", ""} }, nil, "empty field"},
		{"duplicate field", func(a *IdentityAssertion) { a.Fields = []string{"a", "b", "a"} }, nil, "given twice"},
		{"sub as a field", func(a *IdentityAssertion) { a.Fields = []string{"sub"} }, nil, "registered claim"},
		{"exp as a field", func(a *IdentityAssertion) { a.Fields = []string{"exp"} }, nil, "registered claim"},
		{"relative jwks_path", func(a *IdentityAssertion) { a.JWKSPath = "jwks.json" }, nil, "jwks_path"},
		{"protocol-relative jwks_path", func(a *IdentityAssertion) { a.JWKSPath = "//evil.example/jwks" }, nil, "jwks_path"},
		{"jwks_path with query", func(a *IdentityAssertion) { a.JWKSPath = "/jwks?x=1" }, nil, "jwks_path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &IdentityAssertion{Header: "X-Sgid-Assertion"}
			a.applyDefaults()
			tc.edit(a)
			err := a.validate(tc.identity)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestIdentityAssertionJSON(t *testing.T) {
	a := IdentityAssertion{Header: "X-A", Audience: "aud", Lifetime: caddy.Duration(time.Minute), Fields: []string{"f"}, JWKSPath: "/k"}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"header", "audience", "lifetime", "fields", "jwks_path"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s has no %q", b, k)
		}
	}
	var back IdentityAssertion
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, a) {
		t.Fatalf("round trip gave %+v, %v", back, err)
	}
}

// failingKeys is a key store that cannot be reached.
type failingKeys struct{}

func (failingKeys) PutIfAbsent(context.Context, string, []byte, time.Duration) ([]byte, error) {
	return nil, errors.New("store down")
}

func TestServeJWKS(t *testing.T) {
	st, err := (&store.Memory{MaxEntries: 100}).Open(storetest.RandomKey(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := &IdentityAssertion{Header: "X-A"}
	a.applyDefaults()
	good, err := a.newSigner(st, "", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	down, err := a.newSigner(failingKeys{}, "", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		method  string
		down    bool
		status  int
		body    bool
		wantErr bool
	}{
		{"GET", http.MethodGet, false, http.StatusOK, true, false},
		{"HEAD", http.MethodHead, false, http.StatusOK, false, false},
		{"POST", http.MethodPost, false, http.StatusMethodNotAllowed, true, false},
		{"store down", http.MethodGet, true, http.StatusServiceUnavailable, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			if tc.down {
				s = down
			}
			w := httptest.NewRecorder()
			err := serveJWKS(w, httptest.NewRequest(tc.method, a.JWKSPath, nil), s)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want one: %v", err, tc.wantErr)
			}
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if (w.Body.Len() > 0) != tc.body {
				t.Fatalf("body of %d bytes, want one: %v", w.Body.Len(), tc.body)
			}
			if tc.down {
				// An outage must not be kept by caches after it ends.
				if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q on a 503, want no-store", cc)
				}
			}
			if tc.status != http.StatusOK {
				return
			}
			if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("Cache-Control %q, want public, max-age=300", cc)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/jwk-set+json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.method == http.MethodGet {
				set, err := jwk.Parse(w.Body.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				// The previous, current and next epochs' keys.
				if set.Len() != 3 {
					t.Errorf("%d keys, want 3", set.Len())
				}
			}
		})
	}
}

// Without sealing_key, the signer keeps its keys in the clear; with one,
// sealed.
func TestNewSignerSealingKey(t *testing.T) {
	tests := []struct {
		name       string
		sealingKey string
		clear      bool
	}{
		{"no sealing_key", "", true},
		{"sealing_key", strings.Repeat("k", 32), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := (&store.Memory{MaxEntries: 100}).Open(storetest.RandomKey(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			a := &IdentityAssertion{Header: "X-A"}
			a.applyDefaults()
			s, err := a.newSigner(st, tc.sealingKey, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.JWKS(context.Background()); err != nil {
				t.Fatal(err)
			}
			e := time.Now().UnixNano() / int64(time.Hour)
			raw, err := st.Get(context.Background(), "asserkey-"+strconv.FormatInt(e, 10))
			if err != nil {
				t.Fatal(err)
			}
			_, perr := x509.ParsePKCS8PrivateKey(raw)
			if (perr == nil) != tc.clear {
				t.Fatalf("stored key parses: %v, want %v", perr == nil, tc.clear)
			}
		})
	}
}

// The guard puts a signed assertion on every request it passes on with a
// session, verifiable against the JWKS the site serves; a client's copy
// of the header never passes, with or without a session.
func TestIdentityAssertionReachesUpstream(t *testing.T) {
	var h Handler
	cfg := `{"mock": true, "store": {"module": "memory"},
		"guard": {"protect": ["/api/*"]},
		"identity_assertion": {"header": "X-Sgid-Assertion", "fields": ["myinfo.name"]}}`
	if err := json.Unmarshal([]byte(cfg), &h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Cleanup() })
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	login := time.Now().Add(-time.Minute).Truncate(time.Second)
	id := putTestSession(t, &h, session.Session{Sub: "sgidtest:alice", Data: map[string]string{"myinfo.name": "Alice Tan"},
		Expires: time.Now().Add(time.Hour), Login: login})

	var got []string
	upstream := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		got = r.Header.Values("X-Sgid-Assertion")
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	send := func(path, cookie string) int {
		req := httptest.NewRequest(http.MethodGet, "http://app.example"+path, nil)
		req.Header.Set("X-Sgid-Assertion", "forged")
		req.Header.Set("X_Sgid_Assertion", "forged")
		if cookie != "" {
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
		}
		got = nil
		return serve(t, &h, req, upstream)
	}

	for _, tc := range []struct {
		name, path, cookie string
		status             int
		signed             bool
	}{
		{"protected with a session", "/api/orders", id, http.StatusNoContent, true},
		{"open with a session", "/index.html", id, http.StatusNoContent, true},
		{"open without a session", "/index.html", "", http.StatusNoContent, false},
		{"protected without a session", "/api/orders", "", http.StatusUnauthorized, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if status := send(tc.path, tc.cookie); status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if !tc.signed {
				if len(got) != 0 {
					t.Fatalf("the upstream got %q without a session", got)
				}
				return
			}
			if len(got) != 1 || got[0] == "forged" {
				t.Fatalf("the upstream got %q, want one signed assertion", got)
			}
			w := httptest.NewRecorder()
			jwksReq := httptest.NewRequest(http.MethodGet, "http://app.example"+DefaultJWKSPath, nil)
			if err := h.ServeHTTP(w, withReplacer(jwksReq), okNext); err != nil || w.Code != http.StatusOK {
				t.Fatalf("JWKS: %d %v", w.Code, err)
			}
			set, err := jwk.Parse(w.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			tok, err := jwt.Parse([]byte(got[0]), jwt.WithKeySet(set), jwt.WithIssuer("http://app.example"), jwt.WithAudience("http://app.example"))
			if err != nil {
				t.Fatalf("the assertion does not verify against the site's JWKS: %v", err)
			}
			if tok.Subject() != "sgidtest:alice" {
				t.Errorf("sub = %q", tok.Subject())
			}
			if name, _ := tok.Get("myinfo.name"); name != "Alice Tan" {
				t.Errorf("myinfo.name = %v", name)
			}
			if at, _ := tok.Get("auth_time"); at != float64(login.Unix()) {
				t.Errorf("auth_time = %v, want %d", at, login.Unix())
			}
			if life := tok.Expiration().Sub(tok.IssuedAt()); life <= 0 || life > 5*time.Minute {
				t.Errorf("lifetime %s", life)
			}
		})
	}
}
