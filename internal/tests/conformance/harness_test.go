package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddy-sgid/caddy-sgid/internal/testkit/procgroup"
)

// Pinned versions of the peers; node/package.json must name the same.
const (
	mockpassVersion   = "4.3.4"
	sgidClientVersion = "2.3.0"
)

// defaultNRIC is the persona mockpass logs in without a login page. It must
// have Myinfo data (see the package doc).
const defaultNRIC = "S9812379B"

// prereqs locates Node.js and the npm packages.
type prereqs struct {
	node    string // the node binary
	nodeDir string // absolute path of internal/tests/conformance/node
}

func (p prereqs) path(elem ...string) string {
	return filepath.Join(append([]string{p.nodeDir}, elem...)...)
}

// clientKeyPath is mockpass's key pair: it encrypts userinfo to
// static/certs/key.pub, so the client's private key is key.pem beside it.
func (p prereqs) clientKeyPath() string {
	return p.path("node_modules", "@opengovsg", "mockpass", "static", "certs", "key.pem")
}

// signingKeyPath is the key mockpass signs ID tokens with (its JWKS).
func (p prereqs) signingKeyPath() string {
	return p.path("node_modules", "@opengovsg", "mockpass", "static", "certs", "spcp-key.pem")
}

func (p prereqs) clientKey(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(p.clientKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// requirePrereqs finds node, npm and the pinned npm packages. When one is
// missing the test is skipped, or fails under CI (CI non-empty), where a
// skip would hide that the conformance tests did not run.
func requirePrereqs(t testing.TB) prereqs {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf("conformance: skipped: Node.js or npm packages missing (%s); run `npm ci --prefix internal/tests/conformance/node`", fmt.Sprintf(format, args...))
		if os.Getenv("CI") != "" {
			t.Fatal(strings.Replace(msg, "skipped", "failed under CI", 1))
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node in PATH")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		missing("no npm in PATH")
	}
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	p := prereqs{node: node, nodeDir: dir}
	for name, want := range map[string]string{
		"@opengovsg/mockpass":    mockpassVersion,
		"@opengovsg/sgid-client": sgidClientVersion,
	} {
		b, err := os.ReadFile(p.path("node_modules", filepath.FromSlash(name), "package.json"))
		if err != nil {
			missing("%s is not installed", name)
		}
		var pkg struct{ Version string }
		if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version != want {
			missing("%s is %q, want %s", name, pkg.Version, want)
		}
	}
	return p
}

// logBuffer collects a child's output for the test log; it is safe for
// the concurrent writes of stdout and stderr.
type logBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	ready chan string // receives the port once "MOCKPASS_READY <port>" was written
}

var readyLine = regexp.MustCompile(`(?m)^MOCKPASS_READY (\d+)$`)

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, _ := b.buf.Write(p)
	if b.ready != nil {
		if m := readyLine.FindSubmatch(b.buf.Bytes()); m != nil {
			b.ready <- string(m[1])
			b.ready = nil
		}
	}
	return n, nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mockpass is one running mockpass process.
type mockpass struct {
	origin string // http://127.0.0.1:<port>
	nric   string
	out    *logBuffer
	exited chan struct{}
	err    error // the exit status, once exited is closed
}

// issuer is what mockpass puts in iss when called at origin.
func (m *mockpass) issuer() string { return m.origin + "/v2" }

// checkAlive fails the test when mockpass has exited: it does so on some
// userinfo calls (see the package doc), and every later call would then
// fail with a confusing connection error.
func (m *mockpass) checkAlive(t testing.TB) {
	t.Helper()
	select {
	case <-m.exited:
		t.Fatalf("mockpass (MOCKPASS_NRIC=%s) exited during the test: %v", m.nric, m.err)
	default:
	}
}

// startMockpass runs mockpass on a free loopback port with nric as its
// default persona, waits until it answers, and stops it (its whole process
// group) when the test ends. Its output goes to the test log if the test
// fails.
func startMockpass(t testing.TB, p prereqs, nric string) *mockpass {
	t.Helper()
	ready := make(chan string, 1)
	out := &logBuffer{ready: ready}
	cmd := exec.Command(p.node, "mockpass.cjs")
	cmd.Dir = p.nodeDir
	// A clean environment: an inherited SHOW_LOGIN_PAGE or MOCKPASS_* would
	// change what mockpass does.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"MOCKPASS_NRIC=" + nric,
		"MOCKPASS_PORT=0",
		"NODE_ENV=test",
	}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.WaitDelay = 2 * time.Second
	procgroup.Own(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mockpass: %v", err)
	}
	m := &mockpass{nric: nric, out: out, exited: make(chan struct{})}
	go func() {
		m.err = cmd.Wait()
		close(m.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-m.exited:
			t.Errorf("mockpass (MOCKPASS_NRIC=%s) had exited before the end of the test: %v", nric, m.err)
		default:
			procgroup.Kill(cmd)
			<-m.exited
		}
		if t.Failed() {
			t.Logf("mockpass (MOCKPASS_NRIC=%s) output:\n%s", nric, out.String())
		}
	})

	select {
	case port := <-ready:
		m.origin = "http://127.0.0.1:" + port
	case <-m.exited:
		t.Fatalf("mockpass exited at start: %v", m.err)
	case <-time.After(15 * time.Second):
		t.Fatal("mockpass did not start within 15s")
	}
	// It listens; wait until it also answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(m.issuer() + "/.well-known/jwks.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mockpass does not answer at %s: %v", m.origin, err)
		}
		m.checkAlive(t)
		time.Sleep(50 * time.Millisecond)
	}
}

// noRedirect is an HTTP client that hands back redirects instead of
// following them, as a browser's address bar would show them.
var noRedirect = &http.Client{
	Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// callback is what mockpass sends the browser back with.
type callback struct {
	URL   *url.URL
	Code  string
	State string
}

func parseCallback(t testing.TB, raw string) callback {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("callback URL %q: %v", raw, err)
	}
	q := u.Query()
	if q.Get("code") == "" {
		t.Fatalf("callback URL %q has no code", raw)
	}
	return callback{URL: u, Code: q.Get("code"), State: q.Get("state")}
}

// authorize plays the browser at sgID: it opens authURL and returns the
// callback for persona nric. An empty nric takes mockpass's default persona
// (its MOCKPASS_NRIC): mockpass redirects straight back. Any other persona
// is picked on mockpass's login page, which lists one callback URL per
// persona with Myinfo data.
func authorize(t testing.TB, client *http.Client, authURL, nric string) callback {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, authURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if nric == "" {
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET authorize: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("GET authorize: status %d, want 302", resp.StatusCode)
		}
		return parseCallback(t, resp.Header.Get("Location"))
	}
	return parseCallback(t, personaCallbackURL(t, client, req, nric))
}

// loginOption is one persona's entry on mockpass's login page.
var loginOption = regexp.MustCompile(`<option value="([^"]*)" data-asserturl="([^"]*)">`)

// personaCallbackURL fetches mockpass's login page for req and returns the
// callback URL of persona nric.
func personaCallbackURL(t testing.TB, client *http.Client, req *http.Request, nric string) string {
	t.Helper()
	req.Header.Set("X-Show-Login-Page", "true")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET authorize (login page): %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET authorize (login page): status %d, %v", resp.StatusCode, err)
	}
	var ids []string
	for _, m := range loginOption.FindAllSubmatch(body, -1) {
		id := html.UnescapeString(string(m[1]))
		if id == nric+" [MyInfo]" {
			return html.UnescapeString(string(m[2]))
		}
		ids = append(ids, id)
	}
	t.Fatalf("persona %s is not on mockpass's login page; it offers %q", nric, ids)
	return ""
}

// sdkRequest is the input of node/sdk.mjs (see there).
type sdkRequest struct {
	Hostname     string `json:"hostname"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	PrivateKey   string `json:"privateKey"`
	RedirectURI  string `json:"redirectUri"`

	Code         string `json:"code,omitempty"`
	CodeVerifier string `json:"codeVerifier,omitempty"`
	Nonce        string `json:"nonce,omitempty"`
	Userinfo     bool   `json:"userinfo,omitempty"`

	AccessToken string `json:"accessToken,omitempty"`
	Sub         string `json:"sub,omitempty"`

	ParseData map[string]string `json:"parseData,omitempty"`
}

// sdkResult is one answer of node/sdk.mjs.
type sdkResult struct {
	OK          bool              `json:"ok"`
	Step        string            `json:"step"`
	Error       string            `json:"error"`
	Sub         string            `json:"sub"`
	AccessToken string            `json:"accessToken"`
	IDToken     string            `json:"idToken"`
	Data        map[string]string `json:"data"`
	Parsed      map[string]any    `json:"parsed"`
}

// runSDK runs the official SDK on a batch of requests, in one Node.js
// process, and returns one result per request. The deadline is generous:
// sdk.mjs gives each of the SDK's HTTP requests up to 20 s on a loaded
// machine.
func runSDK(t testing.TB, p prereqs, reqs []sdkRequest) []sdkResult {
	t.Helper()
	in, err := json.Marshal(reqs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.node, "sdk.mjs")
	cmd.Dir = p.nodeDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node sdk.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	var out []sdkResult
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("node sdk.mjs printed no JSON array: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if len(out) != len(reqs) {
		t.Fatalf("node sdk.mjs answered %d results for %d requests", len(out), len(reqs))
	}
	return out
}

// persona is the part of mockpass's persona file (static/myinfo/v3.json)
// the tests check values against: the data source both implementations
// read through mockpass, so it is an oracle independent of either.
type persona struct {
	UUID   valueField `json:"uuid"`
	Name   valueField `json:"name"`
	Email  valueField `json:"email"`
	DOB    valueField `json:"dob"`
	Mobile *struct {
		Nbr valueField `json:"nbr"`
	} `json:"mobileno"`
	RegAdd *struct {
		Type    string     `json:"type"`
		Block   valueField `json:"block"`
		Street  valueField `json:"street"`
		Floor   valueField `json:"floor"`
		Unit    valueField `json:"unit"`
		Postal  valueField `json:"postal"`
		Country struct {
			Desc string `json:"desc"`
		} `json:"country"`
	} `json:"regadd"`
	Vehicles             []json.RawMessage `json:"vehicles"`
	PublicOfficerDetails json.RawMessage   `json:"publicofficerdetails"`
}

type valueField struct {
	Value string `json:"value"`
}

func loadPersonas(t testing.TB, p prereqs) map[string]persona {
	t.Helper()
	b, err := os.ReadFile(p.path("node_modules", "@opengovsg", "mockpass", "static", "myinfo", "v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Personas map[string]persona `json:"personas"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("mockpass persona file: %v", err)
	}
	return file.Personas
}

// expectedSub is the sub mockpass gives a persona: "u=" + its uuid.
func expectedSub(t testing.TB, personas map[string]persona, nric string) string {
	t.Helper()
	p, ok := personas[nric]
	if !ok || p.UUID.Value == "" {
		t.Fatalf("persona %s has no uuid in mockpass's persona file", nric)
	}
	return "u=" + p.UUID.Value
}

// expectedData is what userinfo must decrypt to for a persona and scopes,
// derived from the persona file the way sgID's data catalog describes the
// fields, with mockpass's quirks (see the package doc) spelled out.
func expectedData(t testing.TB, personas map[string]persona, nric string, scopes []string) map[string]string {
	t.Helper()
	p, ok := personas[nric]
	if !ok {
		t.Fatalf("persona %s is not in mockpass's persona file", nric)
	}
	na := func(s string) string {
		if s == "" {
			return "NA"
		}
		return s
	}
	// Quirk: mockpass always sends the NRIC, even for openid alone.
	want := map[string]string{"myinfo.nric_number": nric}
	for _, s := range scopes {
		switch s {
		case "openid", "myinfo.nric_number":
		case "myinfo.name":
			want[s] = na(p.Name.Value)
		case "myinfo.email":
			want[s] = na(p.Email.Value)
		case "myinfo.date_of_birth":
			want[s] = na(p.DOB.Value)
		case "myinfo.mobile_number":
			v := ""
			if p.Mobile != nil {
				v = p.Mobile.Nbr.Value
			}
			want[s] = na(v)
		case "myinfo.registered_address":
			a := p.RegAdd
			if a == nil || a.Type != "SG" {
				t.Fatalf("persona %s has no SG address; mockpass crashes on it", nric)
			}
			line := func(x, y, format string) string {
				if x == "" && y == "" {
					return ""
				}
				return fmt.Sprintf(format, x, y)
			}
			want[s] = line(a.Block.Value, a.Street.Value, "%s %s") + "\n" +
				line(a.Floor.Value, a.Unit.Value, "#%s-%s") + "\n" +
				line(a.Country.Desc, a.Postal.Value, "%s %s")
		case "myinfo.vehicles":
			// Quirk: one NUL byte per vehicle instead of JSON.
			if p.Vehicles == nil {
				want[s] = "[]"
			} else {
				want[s] = strings.Repeat("\x00", len(p.Vehicles))
			}
		case "pocdex.public_officer_details":
			if len(p.PublicOfficerDetails) == 0 || string(p.PublicOfficerDetails) == "null" {
				want[s] = "NA"
			} else {
				want[s] = compactJSON(t, p.PublicOfficerDetails)
			}
		default:
			// Quirk: scopes mockpass does not know come back as "NA".
			want[s] = "NA"
		}
	}
	return want
}

func compactJSON(t testing.TB, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// diffMaps lists, key by key, where got differs from want.
func diffMaps[V comparable](want, got map[string]V) []string {
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: missing, want %q", k, fmt.Sprint(w)))
		case g != w:
			diffs = append(diffs, fmt.Sprintf("%s: got %q, want %q", k, fmt.Sprint(g), fmt.Sprint(w)))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: unexpected, got %q", k, fmt.Sprint(g)))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// errorsAs is errors.As for a target type, for brevity in table checks.
func errorsAs[T error](err error) (T, bool) {
	var target T
	ok := errors.As(err, &target)
	return target, ok
}
