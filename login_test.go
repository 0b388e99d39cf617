package caddysgid

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
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

// TestOfficerPicker: an officer with several jobs logs in with none
// chosen; the guard answers the protected paths 409 (a page load goes to
// profile_page) until the profile route chooses one; then allow_field on
// the job's agency passes, the job's fields reach the upstream, and a
// switch to another job needs no new login. userinfo and the placeholders
// never show the handler's own record of the jobs.
func TestOfficerPicker(t *testing.T) {
	const goh = "sgidtest:goh-mei-ling" // three jobs, two at EXAMPLE AGENCY
	h := mockHandler(t, map[string]any{
		"scopes": []string{"openid", "myinfo.name", officer.Scope},
		"guard": map[string]any{
			"protect":          []string{"/api/*"},
			"profile_page":     "/choose",
			"allow_fields":     []map[string]any{{"field": officer.KeyAgencyName, "values": []string{"EXAMPLE AGENCY"}}},
			"identity_headers": map[string]string{"X-Officer-Email": officer.KeyWorkEmail},
		},
	})
	const origin = "http://localhost:9080"
	cookies := mockLogin(t, h, goh)
	if w := serveMockRequest(t, h, http.MethodGet, origin+"/api/orders", nil, cookies...); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `"profiles_url":"/api/profiles"`) {
		t.Fatalf("before a choice: %d %s, want 409 naming the profiles", w.Code, w.Body)
	}
	nav := httptest.NewRequest(http.MethodGet, origin+"/api/orders?x=1", nil)
	nav.Header.Set("Sec-Fetch-Mode", "navigate")
	for _, c := range cookies {
		nav.AddCookie(c)
	}
	w := httptest.NewRecorder()
	if err := h.ServeHTTP(w, withReplacer(nav), okNext); err != nil || w.Code != http.StatusFound || w.Header().Get("Location") != "/choose?return_to=%2Fapi%2Forders%3Fx%3D1" {
		t.Errorf("a page load before a choice: %d to %q, %v", w.Code, w.Header().Get("Location"), err)
	}

	w = serveMockRequest(t, h, http.MethodGet, origin+"/api/profiles", nil, cookies...)
	var list sparoutes.Profiles
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list.Profiles) != 3 || list.Chosen != nil {
		t.Fatalf("profiles: %d %s", w.Code, w.Body)
	}
	choose := func(i int, cookies []*http.Cookie) []*http.Cookie {
		t.Helper()
		w := serveMockRequest(t, h, http.MethodPost, origin+"/api/profiles/"+list.Profiles[i].ID, nil, cookies...)
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != http.StatusOK || list.Chosen == nil {
			t.Fatalf("choose %d: %d %s", i, w.Code, w.Body)
		}
		return w.Result().Cookies()
	}
	cookies = choose(1, cookies)
	if got := forwardedHeaders(t, h, "/api/orders", cookies...).Get("X-Officer-Email"); got != "goh_mei_ling@policy.example-agency.gov.sg" {
		t.Errorf("X-Officer-Email = %q, want the second job's", got)
	}
	cookies = choose(2, cookies) // SAMPLE STATUTORY BOARD: allow_field refuses it
	if w := serveMockRequest(t, h, http.MethodGet, origin+"/api/orders", nil, cookies...); w.Code != http.StatusForbidden {
		t.Errorf("the third job, at another agency: %d, want 403", w.Code)
	}
	cookies = choose(0, cookies)
	if got := forwardedHeaders(t, h, "/api/orders", cookies...).Get("X-Officer-Email"); got != "goh_mei_ling@example-agency.gov.sg" {
		t.Errorf("after the switch X-Officer-Email = %q, want the first job's, lower-cased", got)
	}

	w = serveMockRequest(t, h, http.MethodGet, origin+"/api/userinfo", nil, cookies...)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "officer.") || !strings.Contains(w.Body.String(), officer.Scope) {
		t.Errorf("userinfo %s: sgID's details, none of the handler's officer keys", w.Body)
	}
	req := withReplacer(httptest.NewRequest(http.MethodGet, origin+"/pub", nil))
	for _, c := range cookies {
		req.AddCookie(c)
	}
	var repl *caddy.Replacer
	if err := h.ServeHTTP(httptest.NewRecorder(), req, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		repl = r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	if v, _ := repl.GetString("http.auth.user." + officer.KeyWorkEmail); v != "goh_mei_ling@example-agency.gov.sg" {
		t.Errorf("placeholder of the work email = %q", v)
	}
	for _, k := range []string{officer.ProfilesKey, officer.ChosenKey} {
		if _, ok := repl.Get("http.auth.user." + k); ok {
			t.Errorf("the placeholder of %s is set", k)
		}
	}
}
