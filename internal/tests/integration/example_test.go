package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	caddysgid "github.com/caddy-sgid/caddy-sgid"
	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/testkit/testcaddy"
	"github.com/caddy-sgid/caddy-sgid/sgid/sgidtest"
)

// TestExampleAPIGetsTrustworthyIdentity runs Caddyfile.example as shipped:
// its API behind reverse_proxy answers only logged-in users and sees the
// sub the handler set, never one a client sent.
func TestExampleAPIGetsTrustworthyIdentity(t *testing.T) {
	raw := readExample(t)
	startCaddy(t, raw)
	const origin = "http://localhost:5001"
	api := func(b *testcaddy.Browser) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, origin+"/api/hello", nil)
		req.Header.Set("Sec-Fetch-Mode", "cors")
		req.Header.Set("X-Sgid-Sub", "sgidtest:forged")
		req.Header.Set("X_Sgid_Sub", "sgidtest:forged")
		resp, body := b.Do(req)
		var out map[string]string
		json.Unmarshal([]byte(body), &out)
		return resp.StatusCode, out
	}

	b := newBrowser(t)
	if status, out := api(b); status != http.StatusUnauthorized || out["error"] != "login_required" {
		t.Fatalf("API without login: %d %v", status, out)
	}

	persona := sgidtest.DefaultPersonas()[1]
	resp, body := b.Get(origin + "/api/auth-url?icecream=Vanilla")
	var start struct{ URL string }
	if err := json.Unmarshal([]byte(body), &start); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("auth-url: %d %s", resp.StatusCode, body)
	}
	b.Base = origin
	if loc := b.MockApprove(start.URL, persona.Sub); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	status, out := api(b)
	if status != http.StatusOK || out["user"] != persona.Sub {
		t.Errorf("API after login: %d %v, want user %q", status, out, persona.Sub)
	}

	b.Get(origin + "/api/logout")
	if status, _ := api(b); status != http.StatusUnauthorized {
		t.Errorf("API after logout: %d", status)
	}
}

// TestExampleLogsHoldNoSecrets runs Caddyfile.example through a whole mock
// login, an API call and a logout, once at Caddy's default log level and
// once at DEBUG, and scans every line of the access log and of Caddy's own
// log for the login's code, state and nonce, the cookies, the session's
// store key and the persona's personal data. The example runs as shipped,
// filters included: only its two logs are sent to files instead of stderr,
// and Caddy's own at the level under test.
func TestExampleLogsHoldNoSecrets(t *testing.T) {
	raw := readExample(t)
	const accessLog = "\tlog {\n\t\tformat filter {\n\t\t\trequest>uri"
	if !strings.HasPrefix(strings.TrimLeft(stripCommentLines(string(raw)), "\n"), "{\n\tlog {\n") || strings.Count(string(raw), accessLog) != 1 {
		t.Fatalf("Caddyfile.example has no global log block first, or not one site log block, to send to files")
	}
	for _, level := range []string{"INFO", "DEBUG"} {
		t.Run(level, func(t *testing.T) {
			dir := t.TempDir()
			access, server := filepath.Join(dir, "access.log"), filepath.Join(dir, "caddy.log")
			cfg := strings.Replace(string(raw), "\tlog {\n", fmt.Sprintf("\tlog {\n\t\toutput file %s\n\t\tlevel %s\n", server, level), 1)
			cfg = strings.Replace(cfg, accessLog, "\tlog {\n\t\toutput file "+access+"\n\t\tformat filter {\n\t\t\trequest>uri", 1)
			startCaddy(t, cfg)
			secrets := exampleLogin(t)

			// The last request of the walk is in the access log once it is
			// written out.
			var text string
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				a, _ := os.ReadFile(access)
				s, _ := os.ReadFile(server)
				text = string(a) + string(s)
				if strings.Contains(string(a), `"uri":"/api/logout"`) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, want := range []string{`"uri":"/api/logout"`, "code=REDACTED", "nonce=REDACTED", "user logged in"} {
				if !strings.Contains(text, want) {
					t.Errorf("the logs lack %s", want)
				}
			}
			// The rewrite to index.html is logged at DEBUG only, with the
			// whole request.
			if debug := strings.Contains(text, "http.handlers.rewrite"); debug != (level == "DEBUG") {
				t.Fatalf("debug lines at %s: %v", level, debug)
			}
			lines := strings.Split(text, "\n")
			for name, secret := range secrets {
				for _, form := range secretForms(secret) {
					for _, line := range lines {
						if strings.Contains(line, form) {
							t.Errorf("a log line holds the %s (as %q):\n%s", name, form, line)
							break
						}
					}
				}
			}
		})
	}
}

// stripCommentLines drops the lines of a Caddyfile that hold only a
// comment.
func stripCommentLines(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// exampleLogin walks Caddyfile.example as a person would, through the mock,
// and returns what no log may hold, by name.
func exampleLogin(t *testing.T) map[string]string {
	t.Helper()
	const origin = "http://localhost:5001"
	persona := sgidtest.DefaultPersonas()[0]
	b := newBrowser(t)
	b.Base = origin
	b.Get(origin + "/")
	resp, body := b.Get(origin + "/api/auth-url?icecream=Vanilla")
	var start struct{ URL string }
	if err := json.Unmarshal([]byte(body), &start); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("auth-url: %d %s", resp.StatusCode, body)
	}
	secrets := map[string]string{
		"state":        testcaddy.QueryValue(t, start.URL, "state"),
		"nonce":        testcaddy.QueryValue(t, start.URL, "nonce"),
		"login cookie": loginCookie(b).Value,
	}
	// The mock's page and its POST, whose Location carries the code.
	resp, page := b.Get(origin + start.URL)
	form := sgidtest.LoginForm(page)
	if resp.StatusCode != http.StatusOK || form == nil {
		t.Fatalf("mock login page: %d", resp.StatusCode)
	}
	form.Set("sub", persona.Sub)
	req, _ := http.NewRequest(http.MethodPost, origin+authorizePath(start.URL), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, _ = b.Do(req)
	cb := resp.Header.Get("Location")
	secrets["code"] = testcaddy.QueryValue(t, cb, "code")
	if loc := b.Callback(cb); loc != "/logged-in" {
		t.Fatalf("login ended at %q", loc)
	}
	sess := b.Cookie(caddysgid.DefaultCookieName).Value
	secrets["session cookie"] = sess
	secrets["session store key"] = session.Key(sess)
	b.Get(origin + "/logged-in")
	b.Get(origin + "/api/userinfo")
	if resp, body := b.Get(origin+"/api/hello", "Sec-Fetch-Mode", "cors"); resp.StatusCode != http.StatusOK {
		t.Fatalf("API after login: %d %s", resp.StatusCode, body)
	}
	for _, field := range []string{"myinfo.name", "myinfo.nric_number", "myinfo.email", "myinfo.mobile_number", "myinfo.date_of_birth", "myinfo.registered_address"} {
		secrets[field] = persona.Data[field]
	}
	b.Get(origin + "/api/logout")
	return secrets
}

// secretForms are the ways a value can appear in a JSON log line: as it
// is, JSON-escaped, percent-encoded as in a URL or an identity header, and
// each line of a multi-line value.
func secretForms(s string) []string {
	quoted, _ := json.Marshal(s)
	forms := []string{s, strings.Trim(string(quoted), `"`), url.QueryEscape(s), idheader.Encode(s)}
	if strings.Contains(s, "\n") {
		forms = append(forms, strings.Split(s, "\n")...)
	}
	return forms
}
