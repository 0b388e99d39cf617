package caddysgid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

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
