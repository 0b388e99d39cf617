package caddysgid

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/pii"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

const testSealingKey = "0123456789abcdef0123456789abcdef"

// forwardedHeaders runs a request for path with the session cookie of id
// through h and returns the headers the next handler got.
func forwardedHeaders(t *testing.T, h *Handler, path string, cookies ...*http.Cookie) http.Header {
	t.Helper()
	var got http.Header
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	req := httptest.NewRequest(http.MethodGet, "http://localhost:9080"+path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	if code := serve(t, h, req, next); code != http.StatusNoContent {
		t.Fatalf("GET %s: status %d", path, code)
	}
	return got
}

// TestPseudonymHeader: pseudonym:<label> gives a key per label, stable for
// two handlers with the same sealing_key (a restart, another instance),
// and neither sub nor the pseudonym under another key.
func TestPseudonymHeader(t *testing.T) {
	persona := sgidtest.DefaultPersonas()[0]
	headers := func(key string) http.Header {
		h := unitHandler(t, &Handler{SealingKey: key, Guard: &Guard{IdentityHeaders: map[string]string{
			"X-User-A": "pseudonym:app-a", "X-User-B": "pseudonym:app-b",
		}}}, nil, nil)
		id := putTestSession(t, h, session.Session{Sub: persona.Sub, Expires: time.Now().Add(time.Hour)})
		return forwardedHeaders(t, h, "/api/x", &http.Cookie{Name: h.CookieName, Value: id})
	}
	first, again := headers(testSealingKey), headers(testSealingKey)
	a, b := first.Get("X-User-A"), first.Get("X-User-B")
	if len(a) != 43 || strings.Contains(a, persona.Sub) {
		t.Fatalf("X-User-A = %q, want a 43-character pseudonym", a)
	}
	if a == b {
		t.Errorf("two labels give the same pseudonym %q", a)
	}
	if again.Get("X-User-A") != a || again.Get("X-User-B") != b {
		t.Errorf("pseudonyms changed with a new handler under the same key: %q %q, then %q %q", a, b, again.Get("X-User-A"), again.Get("X-User-B"))
	}
	p, _ := pii.NewPseudonymizer([]byte(testSealingKey), "app-a")
	if a != p.Of(persona.Sub) {
		t.Errorf("X-User-A = %q, want pii's pseudonym %q", a, p.Of(persona.Sub))
	}
	if other := headers(strings.Repeat("z", 32)).Get("X-User-A"); other == a {
		t.Errorf("another sealing_key gives the same pseudonym")
	}
}

// mockLogin logs persona sub in through h's mock and returns the cookies
// the browser then holds.
func mockLogin(t *testing.T, h *Handler, sub string) []*http.Cookie {
	t.Helper()
	return mockLoginAt(t, h, sub, "/api/auth-url")
}

// mockCallback runs a mock login of sub from the auth-url target
// authPath and returns the callback's answer.
func mockCallback(t *testing.T, h *Handler, sub, authPath string) *httptest.ResponseRecorder {
	t.Helper()
	const origin = "http://localhost:9080"
	w := serveMockRequest(t, h, http.MethodGet, origin+authPath, nil)
	var out struct{ URL string }
	if err := json.Unmarshal(w.Body.Bytes(), &out); w.Code != http.StatusOK || err != nil {
		t.Fatalf("auth-url: %d %s", w.Code, w.Body)
	}
	authURL, cookies := out.URL, w.Result().Cookies()
	w = serveMockRequest(t, h, http.MethodGet, origin+authURL, nil)
	form := sgidtest.LoginForm(w.Body.String())
	if form == nil {
		t.Fatalf("login page: %d", w.Code)
	}
	form.Set("sub", sub)
	w = serveMockRequest(t, h, http.MethodPost, origin+mockPrefix+"/v2/oauth/authorize", form)
	return serveMockRequest(t, h, http.MethodGet, w.Header().Get("Location"), nil, cookies...)
}

// mockLoginAt is mockLogin starting at the auth-url target authPath.
func mockLoginAt(t *testing.T, h *Handler, sub, authPath string) []*http.Cookie {
	t.Helper()
	w := mockCallback(t, h, sub, authPath)
	if loc := w.Header().Get("Location"); w.Code != http.StatusFound || strings.Contains(loc, "reason=") {
		t.Fatalf("callback: %d to %q", w.Code, loc)
	}
	return w.Result().Cookies()
}

// assertionClaims are the claims of the assertion in header name of hdr,
// unverified (the assertion package tests the signature).
func assertionClaims(t *testing.T, hdr http.Header, name string) map[string]any {
	t.Helper()
	parts := strings.Split(hdr.Get(name), ".")
	if len(parts) != 3 {
		t.Fatalf("%s = %q, want a JWT", name, hdr.Get(name))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &claims)
	}
	if err != nil {
		t.Fatal(err)
	}
	return claims
}

// TestForwardedNRICAndKeptFields: the NRIC goes masked to headers and
// the assertion unless asked for :unmasked, and a field outside
// keep_fields is not in the session (userinfo); no header can name it
// (TestForwardedFieldConfigErrors).
func TestForwardedNRICAndKeptFields(t *testing.T) {
	persona := sgidtest.DefaultPersonas()[0]
	nric := persona.Data["myinfo.nric_number"]
	if nric == "" || persona.Data["myinfo.email"] == "" {
		t.Fatal("the first persona needs an NRIC and an email")
	}
	h := mockHandler(t, map[string]any{
		"scopes":      []string{"openid", "myinfo.name", "myinfo.nric_number", "myinfo.email"},
		"keep_fields": []string{"myinfo.name", "myinfo.nric_number"},
		"guard": map[string]any{"identity_headers": map[string]string{
			"X-Nric": "myinfo.nric_number", "X-Nric-Full": "myinfo.nric_number:unmasked", "X-Name": "myinfo.name",
		}},
		"identity_assertion": map[string]any{"header": "X-Assertion", "fields": []string{"myinfo.nric_number", "myinfo.name"}},
	})
	cookies := mockLogin(t, h, persona.Sub)
	got := forwardedHeaders(t, h, "/api/x", cookies...)
	if v := got.Get("X-Nric"); v != pii.MaskNRIC(nric) || v == nric {
		t.Errorf("X-Nric = %q, want the masked %q", v, pii.MaskNRIC(nric))
	}
	if v := got.Get("X-Nric-Full"); v != nric {
		t.Errorf("X-Nric-Full = %q, want the NRIC in full", v)
	}
	if got.Get("X-Name") == "" {
		t.Error("X-Name missing: a kept field is forwarded")
	}
	if c := assertionClaims(t, got, "X-Assertion"); c["myinfo.nric_number"] != pii.MaskNRIC(nric) {
		t.Errorf("assertion's NRIC = %v, want the masked %q", c["myinfo.nric_number"], pii.MaskNRIC(nric))
	}
	w := serveMockRequest(t, h, http.MethodGet, "http://localhost:9080/api/userinfo", nil, cookies...)
	var info struct{ Data map[string]any }
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || w.Code != http.StatusOK {
		t.Fatalf("userinfo: %d %s", w.Code, w.Body)
	}
	if _, kept := info.Data["myinfo.email"]; kept {
		t.Error("userinfo has myinfo.email, which keep_fields drops")
	}
	if info.Data["myinfo.nric_number"] != nric {
		t.Errorf("userinfo's NRIC = %v, want the user's own, in full", info.Data["myinfo.nric_number"])
	}
}

// TestForwardedFieldConfigErrors: a forwarded field that cannot work is
// refused at provision, not found out on the first request.
func TestForwardedFieldConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg  map[string]any
		want string
	}{
		"pseudonym without sealing_key": {map[string]any{"guard": map[string]any{"identity_headers": map[string]string{"X-U": "pseudonym:app"}}}, "sealing_key"},
		"bad label":                     {map[string]any{"sealing_key": testSealingKey, "guard": map[string]any{"identity_headers": map[string]string{"X-U": "pseudonym:App!"}}}, "label"},
		"unmasked on another field":     {map[string]any{"guard": map[string]any{"identity_headers": map[string]string{"X-U": "myinfo.name:unmasked"}}}, "only myinfo.nric_number"},
		"unknown modifier":              {map[string]any{"guard": map[string]any{"identity_headers": map[string]string{"X-U": "myinfo.nric_number:plain"}}}, "':'"},
		"assertion claim twice":         {map[string]any{"identity_assertion": map[string]any{"header": "X-A", "fields": []string{"myinfo.nric_number", "myinfo.nric_number:unmasked"}}}, "twice"},
		"header field not kept":         {map[string]any{"keep_fields": []string{"myinfo.name"}, "guard": map[string]any{"identity_headers": map[string]string{"X-U": "myinfo.nric_number"}}}, "keep_fields"},
	} {
		t.Run(name, func(t *testing.T) {
			err := provisionErr(t, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// provisionErr provisions and validates a mock handler with cfg and
// returns the first error.
func provisionErr(t *testing.T, settings map[string]any) error {
	cfg := map[string]any{"mock": true, "store": map[string]any{"module": "memory"}}
	for k, v := range settings {
		cfg[k] = v
	}
	raw, _ := json.Marshal(cfg)
	var h Handler
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	defer cancel()
	defer func() { _ = h.Cleanup() }()
	if err := h.Provision(ctx); err != nil {
		return err
	}
	return h.Validate()
}

// TestTypedData: with typed_data, the userinfo route answers sgID's JSON
// fields as arrays while app values and plain fields stay strings, and
// without it every value is the string sgID sent.
func TestTypedData(t *testing.T) {
	persona := sgidtest.DefaultPersonas()[1]
	records := persona.Data["myinfo.sponsored_child_records"]
	if !strings.HasPrefix(records, "[{") {
		t.Fatal("the second persona needs sponsored child records")
	}
	for _, typedData := range []bool{false, true} {
		h := mockHandler(t, map[string]any{
			"scopes":     []string{"openid", "myinfo.name", "myinfo.sponsored_child_records"},
			"app_params": map[string]string{"pick": "pick"},
			"typed_data": typedData,
		})
		cookies := mockLoginAt(t, h, persona.Sub, "/api/auth-url?pick=%5B1%5D")
		w := serveMockRequest(t, h, http.MethodGet, "http://localhost:9080/api/userinfo", nil, cookies...)
		var info struct{ Data map[string]any }
		if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil || w.Code != http.StatusOK {
			t.Fatalf("userinfo: %d %s", w.Code, w.Body)
		}
		if info.Data["pick"] != "[1]" || info.Data["myinfo.name"] != persona.Data["myinfo.name"] {
			t.Errorf("typed_data %v: app value %v and name %v, want the strings", typedData, info.Data["pick"], info.Data["myinfo.name"])
		}
		rec := info.Data["myinfo.sponsored_child_records"]
		if list, isList := rec.([]any); typedData && (!isList || len(list) == 0) {
			t.Errorf("typed_data: records = %T, want a non-empty array", rec)
		}
		if !typedData && rec != records {
			t.Errorf("records = %v, want sgID's string", rec)
		}
	}
}
