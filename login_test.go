package caddysgid

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caddy-sgid/caddy-sgid/internal/officer"
)

// TestOfficerLogin: with the officer scope and allow_officer, a login
// whose only job passes keeps that job's fields as officer.* data keys
// (forwarded like any field), and a login with no job, or none allowed,
// ends at the error path with its reason and no session.
func TestOfficerLogin(t *testing.T) {
	const aisyah, chua = "sgidtest:nur-aisyah", "sgidtest:chua-kok-leong" // one job; "[]"
	settings := func(patterns ...string) map[string]any {
		return map[string]any{
			"scopes":        []string{"openid", "myinfo.name", officer.Scope},
			"allow_officer": patterns,
			"guard":         map[string]any{"identity_headers": map[string]string{"X-Officer-Email": officer.KeyWorkEmail, "X-Agency": officer.KeyAgencyName}},
		}
	}
	h := mockHandler(t, settings("agency.example"))
	got := forwardedHeaders(t, h, "/api/x", mockLogin(t, h, aisyah)...)
	if v := got.Get("X-Officer-Email"); v != "nur_aisyah_rahmat@agency.example" {
		t.Errorf("X-Officer-Email = %q, want the job's work email", v)
	}
	if v := got.Get("X-Agency"); v != "EXAMPLE AGENCY" {
		t.Errorf("X-Agency = %q, want the job's agency", v)
	}

	for _, tc := range []struct {
		name, sub, reason string
		patterns          []string
	}{
		{"not an officer", chua, "no_officer_profile", []string{"*.gov.sg"}},
		{"no job allowed", aisyah, "officer_not_allowed", []string{"type:CONTRACT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := mockHandler(t, settings(tc.patterns...))
			w := mockCallback(t, h, tc.sub, "/api/auth-url")
			if loc := w.Header().Get("Location"); w.Code != http.StatusFound || loc != "/error?reason="+tc.reason {
				t.Errorf("callback: %d to %q, want /error?reason=%s", w.Code, loc, tc.reason)
			}
			for _, c := range w.Result().Cookies() {
				if c.Name == h.CookieName && c.MaxAge >= 0 && c.Value != "" {
					t.Errorf("a refused login set the session cookie")
				}
			}
		})
	}

	// Without allow_officer, a user who is no officer logs in, without
	// officer.* values.
	h = mockHandler(t, map[string]any{"scopes": []string{"openid", officer.Scope},
		"guard": map[string]any{"identity_headers": map[string]string{"X-Officer-Email": officer.KeyWorkEmail}}})
	if v := forwardedHeaders(t, h, "/api/x", mockLogin(t, h, chua)...).Get("X-Officer-Email"); v != "" {
		t.Errorf("X-Officer-Email = %q for no officer", v)
	}
}

func TestAllowOfficerNeedsScope(t *testing.T) {
	err := provisionErr(t, map[string]any{"allow_officer": []string{"*.gov.sg"}})
	if err == nil || !strings.Contains(err.Error(), officer.Scope) {
		t.Errorf("error %v, want one naming the scope", err)
	}
	err = provisionErr(t, map[string]any{"scopes": []string{"openid", officer.Scope}, "allow_officer": []string{"Permanent"}})
	if err == nil || !strings.Contains(err.Error(), "allow_officer") {
		t.Errorf("error %v, want allow_officer's pattern refused", err)
	}
}
