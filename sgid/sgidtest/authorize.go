package sgidtest

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// serveAuthorize validates a new authorize request and then either approves
// it at once or shows the login page.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()

	// Until client_id and redirect_uri are known good, errors must not be
	// sent to redirect_uri: that would make the provider an open redirector.
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			p.errorPage(w, http.StatusBadRequest, "Invalid login request", "The parameter "+k+" appears more than once.")
			return
		}
	}
	if q.Get("client_id") != p.clientID {
		p.errorPage(w, http.StatusBadRequest, "Unknown application", "The client_id of this login request is not registered with this mock provider.")
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !p.redirectAllowed(redirectURI) {
		p.errorPage(w, http.StatusBadRequest, "Invalid redirect URI", "The redirect_uri of this login request is missing or not registered for this application.")
		return
	}

	state := q.Get("state")
	fail := func(description string) {
		redirectTo(w, r, redirectURI, url.Values{
			"error":             {"invalid_request"},
			"error_description": {description},
		}, state)
	}
	for _, k := range []string{"response_type", "scope", "code_challenge", "code_challenge_method", "state", "nonce"} {
		if len(q[k]) > 1 {
			fail("the parameter " + k + " appears more than once")
			return
		}
	}
	if q.Get("response_type") != "code" {
		fail("response_type must be code")
		return
	}
	scopes := uniqueFields(q.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		fail("scope must contain openid")
		return
	}
	challenge := q.Get("code_challenge")
	if !validChallenge(challenge) {
		fail("code_challenge must be a base64url SHA-256 hash (43 characters)")
		return
	}
	if q.Get("code_challenge_method") != "S256" {
		fail("code_challenge_method must be S256")
		return
	}
	req := authRequest{
		redirectURI: redirectURI,
		scopes:      scopes,
		state:       state,
		nonce:       q.Get("nonce"),
		challenge:   challenge,
	}

	if !p.loginPage {
		p.mu.Lock()
		sub := p.selected
		p.mu.Unlock()
		p.approve(w, r, req, sub)
		return
	}

	id := randomToken(24)
	now := p.now()
	p.mu.Lock()
	p.sweepLocked(now)
	full := len(p.pending) >= maxPendingLogins
	if !full {
		p.pending[id] = &pendingLogin{req: req, expires: now.Add(pendingTTL)}
	}
	p.mu.Unlock()
	if full {
		p.errorPage(w, http.StatusServiceUnavailable, "Too many logins in progress", "Too many login pages are open at once. Finish or cancel one, or wait a few minutes, then try again.")
		return
	}
	p.loginPageFor(w, id, req)
}

// serveLoginDecision handles the login page's form: approve with a persona
// or cancel. The pending-request id is the only protection of this POST, so
// it is random and consumed on first use, whatever the outcome.
func (p *Provider) serveLoginDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "Invalid form", "The login form could not be read.")
		return
	}
	id := r.PostForm.Get("pending")
	now := p.now()
	p.mu.Lock()
	p.sweepLocked(now)
	pl, ok := p.pending[id]
	delete(p.pending, id)
	p.mu.Unlock()
	if !ok || id == "" {
		p.errorPage(w, http.StatusBadRequest, "Login request expired", "This login request has expired or was already used. Start the login again from the application.")
		return
	}
	if r.PostForm.Has("cancel") {
		redirectTo(w, r, pl.req.redirectURI, url.Values{
			"error":             {"access_denied"},
			"error_description": {"The user cancelled the login."},
		}, pl.req.state)
		return
	}
	sub := r.PostForm.Get("sub")
	if _, ok := p.persona(sub); !ok {
		p.errorPage(w, http.StatusBadRequest, "Unknown persona", "The chosen persona does not exist. Start the login again from the application.")
		return
	}
	p.approve(w, r, pl.req, sub)
}

// approve issues a code for sub and sends the browser back to the client.
func (p *Provider) approve(w http.ResponseWriter, r *http.Request, req authRequest, sub string) {
	code := newCode()
	now := p.now()
	p.mu.Lock()
	p.sweepLocked(now)
	p.codes[code] = &authCode{req: req, sub: sub, expires: now.Add(p.codeTTL)}
	p.mu.Unlock()
	redirectTo(w, r, req.redirectURI, url.Values{"code": {code}}, req.state)
}

// newCode returns a fresh authorization code in standard (not URL-safe)
// base64 that always contains '+', '/' and '='. Real peers (mockpass) send
// such codes, and a client that does not decode its query string properly
// turns '+' into a space; fixed trailing bytes make every code exercise
// that instead of leaving it to chance. The 30 random bytes before them
// carry the secret.
func newCode() string {
	b := make([]byte, 34)
	_, _ = rand.Read(b[:30]) // crypto/rand.Read never returns an error.
	// 0xfb 0xff 0xbf encode as "+/+/" and a lone 0xfe as "/g==".
	copy(b[30:], []byte{0xfb, 0xff, 0xbf, 0xfe})
	return base64.StdEncoding.EncodeToString(b)
}

// redirectAllowed reports whether uri may receive the browser.
func (p *Provider) redirectAllowed(uri string) bool {
	if uri == "" {
		return false
	}
	if len(p.redirectURIs) == 0 {
		return isAbsoluteHTTPURL(uri)
	}
	return slices.Contains(p.redirectURIs, uri)
}

// redirectTo sends a 302 to redirectURI with params (and state, when the
// client sent one) added to its query, keeping any query it already has.
func redirectTo(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, state string) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		// redirectAllowed accepted it, so this cannot happen.
		http.Error(w, "sgidtest: bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// uniqueFields splits a space-separated list, dropping repeats but keeping
// the first-seen order.
func uniqueFields(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// validChallenge checks that c looks like an S256 challenge: exactly 43
// base64url characters, the length of an unpadded SHA-256 hash.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil
}

// personaView is what the login page shows of a persona.
type personaView struct {
	Sub, Name, Label, ID string
}

type loginPageData struct {
	Pending  string
	ClientID string
	ReturnTo string
	Scopes   []string
	Personas []personaView
	Issuer   string
}

type errorPageData struct {
	Title, Message string
}

func (p *Provider) loginPageFor(w http.ResponseWriter, id string, req authRequest) {
	data := loginPageData{
		Pending:  id,
		ClientID: p.clientID,
		Scopes:   req.scopes,
		Issuer:   p.issuer,
	}
	if u, err := url.Parse(req.redirectURI); err == nil {
		data.ReturnTo = u.Host
	}
	for _, pe := range p.personas {
		data.Personas = append(data.Personas, personaView{
			Sub:   pe.Sub,
			Name:  pe.Name(),
			Label: pe.Label,
			ID:    pe.Data["myinfo.nric_number"],
		})
	}
	renderPage(w, http.StatusOK, "login", data)
}

func (p *Provider) errorPage(w http.ResponseWriter, status int, title, message string) {
	renderPage(w, status, "error", errorPageData{Title: title, Message: message})
}

// renderPage renders into a buffer first so that a template error becomes a
// clean 500 instead of half a page.
func renderPage(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "sgidtest: rendering page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// The page loads nothing from anywhere, and must not be framed: a
	// framed login page invites clickjacking even in a mock. form-action is
	// left open on purpose, because browsers apply it to the redirect that
	// follows the POST, which goes to the client's own origin.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pages holds the login and error pages. They are self-contained (inline
// CSS, no scripts, fonts or images) so that they work offline and under any
// mount point, and html/template escapes every value.
var pages = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{.}} · Mock sgID (development only)</title>
<style>
*{box-sizing:border-box}
body{margin:0;background:#f3f4f7;color:#1c2027;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif}
.banner{background:repeating-linear-gradient(-45deg,#ffcf00 0 14px,#1c2027 14px 28px);padding:8px}
.banner p{margin:0;background:#ffcf00;border:3px solid #1c2027;padding:12px 16px;text-align:center;font-weight:800;font-size:1.1rem;letter-spacing:.01em}
main{max-width:34rem;margin:0 auto;padding:24px 16px 48px}
h1{font-size:1.5rem;line-height:1.25;margin:8px 0 6px}
.lead{color:#545d6b;margin:0 0 20px}
.persona{display:block;width:100%;margin:0 0 12px;padding:14px 16px;text-align:left;font:inherit;color:inherit;background:#fff;border:1px solid #d5dae1;border-radius:12px;box-shadow:0 1px 2px rgba(0,0,0,.06);cursor:pointer}
.persona:hover,.persona:focus-visible{border-color:#5a3fc0;outline:3px solid rgba(90,63,192,.25)}
.name{display:block;font-weight:700;font-size:1.05rem;overflow-wrap:anywhere}
.label{display:block;color:#545d6b}
.id{display:inline-block;margin-top:6px;padding:2px 6px;border-radius:6px;background:#eceef2;font:.85rem/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cancel{display:block;width:100%;margin-top:8px;padding:12px 16px;font:inherit;font-weight:700;color:#b42318;background:transparent;border:2px solid #b42318;border-radius:12px;cursor:pointer}
.cancel:hover,.cancel:focus-visible{background:#fef3f2}
.meta{margin-top:28px;color:#545d6b;font-size:.875rem}
code{overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
</style>
</head>
<body>
<div class="banner" role="alert"><p>&#9888; Mock sgID — for development only. No real Singpass login happens here.</p></div>
<main>
{{end}}

{{define "login"}}{{template "head" "Log in"}}
<h1>Log in as a test persona</h1>
<p class="lead"><strong>{{.ClientID}}</strong> asks for {{range $i, $s := .Scopes}}{{if $i}}, {{end}}<code>{{$s}}</code>{{end}}.{{with .ReturnTo}} You will be sent back to <strong>{{.}}</strong>.{{end}}</p>
<form method="post" action="authorize">
<input type="hidden" name="pending" value="{{.Pending}}">
{{range .Personas}}<button class="persona" type="submit" name="sub" value="{{.Sub}}">
<span class="name">{{.Name}}</span>
{{with .Label}}<span class="label">{{.}}</span>{{end}}
{{with .ID}}<span class="id">{{.}}</span>{{end}}
</button>
{{end}}<button class="cancel" type="submit" name="cancel" value="1">Cancel</button>
</form>
<p class="meta">Issuer <code>{{.Issuer}}</code>. Every person here is made up.</p>
</main>
</body>
</html>
{{end}}

{{define "error"}}{{template "head" .Title}}
<h1>{{.Title}}</h1>
<p class="lead">{{.Message}}</p>
</main>
</body>
</html>
{{end}}
`))
