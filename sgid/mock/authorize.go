package mock

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// serveAuthorize validates a new authorize request and then either approves
// it at once or shows the login page.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirectURI, ok := p.vetClient(w, r, q)
	if !ok {
		return
	}
	// Only the code flow exists here. Any other response_type is refused
	// on a page of our own rather than sent to the redirect URI, so that
	// no request shape turns the endpoint into a redirector.
	if len(q["response_type"]) != 1 || q.Get("response_type") != "code" {
		p.errorPage(w, http.StatusBadRequest, "Unsupported login request", "This provider supports only response_type=code, given once.")
		return
	}

	state := q.Get("state")
	fail := func(description string) {
		redirectTo(w, r, redirectURI, url.Values{
			"error":             {"invalid_request"},
			"error_description": {description},
		}, state)
	}
	for _, k := range []string{"scope", "code_challenge", "code_challenge_method", "state", "nonce"} {
		if len(q[k]) > 1 {
			fail("the parameter " + k + " appears more than once")
			return
		}
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
	p.loginPageFor(w, p.loginForm(req), req)
}

// vetClient checks the client_id and redirect_uri in v, from an authorize
// request or a login form, and returns the redirect URI. Until both are
// known good, errors must not be sent to redirect_uri: that would make the
// provider an open redirector. So every failure here is a page of our own.
func (p *Provider) vetClient(w http.ResponseWriter, r *http.Request, v url.Values) (string, bool) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(v[k]) > 1 {
			p.errorPage(w, http.StatusBadRequest, "Invalid login request", "The parameter "+k+" appears more than once.")
			return "", false
		}
	}
	if v.Get("client_id") != p.clientID {
		p.errorPage(w, http.StatusBadRequest, "Unknown application", "The client_id of this login request is not registered with this mock provider.")
		return "", false
	}
	redirectURI := v.Get("redirect_uri")
	if !p.redirectAllowed(r, redirectURI) {
		p.errorPage(w, http.StatusBadRequest, "Invalid redirect URI", "The redirect_uri of this login request is missing or not registered for this application.")
		return "", false
	}
	return redirectURI, true
}

// loginFormFields are the authorize parameters the login page's form
// carries, and the form's expiry. The MAC in the form covers all of them.
var loginFormFields = []string{"client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "expires"}

// loginFormInputs are all hidden inputs of the login form: the fields and
// their MAC.
var loginFormInputs = append(slices.Clip(loginFormFields), "mac")

// loginForm is the hidden part of the login page's form for req. Showing
// the page keeps nothing on the server: the form carries the request and
// an expiry, and a MAC under a key made at start-up proves on the POST that
// this provider wrote them. So no number of page views can fill a table
// and lock out other logins.
func (p *Provider) loginForm(req authRequest) url.Values {
	form := url.Values{
		"client_id":      {p.clientID},
		"redirect_uri":   {req.redirectURI},
		"scope":          {strings.Join(req.scopes, " ")},
		"state":          {req.state},
		"nonce":          {req.nonce},
		"code_challenge": {req.challenge},
		"expires":        {strconv.FormatInt(p.now().Add(pendingTTL).Unix(), 10)},
	}
	form.Set("mac", p.formMAC(form))
	return form
}

// formMAC authenticates the loginFormFields of v. url.Values.Encode
// escapes every value and sorts the keys, so the input is unambiguous.
func (p *Provider) formMAC(v url.Values) string {
	signed := url.Values{}
	for _, k := range loginFormFields {
		signed.Set(k, v.Get(k))
	}
	m := hmac.New(sha256.New, p.formKey)
	m.Write([]byte("mock login form\n" + signed.Encode()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// serveLoginDecision handles the login page's form: approve with a persona
// or cancel. The form's MAC is its only protection, so every field it
// covers must be there exactly once and unchanged; the client and redirect
// URI are vetted again for this request, and a form decides only once.
func (p *Provider) serveLoginDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, http.StatusBadRequest, "Invalid form", "The login form could not be read.")
		return
	}
	form := r.PostForm
	for _, k := range loginFormInputs {
		if len(form[k]) != 1 {
			p.errorPage(w, http.StatusBadRequest, "Invalid login form", "The login form is incomplete. Start the login again from the application.")
			return
		}
	}
	mac := form.Get("mac")
	if !hmac.Equal([]byte(mac), []byte(p.formMAC(form))) {
		p.errorPage(w, http.StatusBadRequest, "Invalid login form", "This login form was changed or does not come from this provider. Start the login again from the application.")
		return
	}
	now := p.now()
	expires, err := strconv.ParseInt(form.Get("expires"), 10, 64)
	if err != nil || now.Unix() >= expires {
		p.errorPage(w, http.StatusBadRequest, "Login request expired", "This login request has expired. Start the login again from the application.")
		return
	}
	redirectURI, ok := p.vetClient(w, r, form)
	if !ok {
		return
	}
	// Remember the form as used, whatever the outcome, so that a replayed
	// POST cannot mint more codes. The entry outlives the form (it is kept
	// pendingTTL from now), and the table is bounded like the others.
	p.mu.Lock()
	p.sweepLocked(now)
	_, used := p.usedForms.get(mac, now)
	if !used {
		p.usedForms.add(mac, struct{}{}, now.Add(pendingTTL), now)
	}
	p.mu.Unlock()
	if used {
		p.errorPage(w, http.StatusBadRequest, "Login request already used", "This login request was already used. Start the login again from the application.")
		return
	}
	req := authRequest{
		redirectURI: redirectURI,
		scopes:      uniqueFields(form.Get("scope")),
		state:       form.Get("state"),
		nonce:       form.Get("nonce"),
		challenge:   form.Get("code_challenge"),
	}
	if form.Has("cancel") {
		redirectTo(w, r, req.redirectURI, url.Values{
			"error":             {"access_denied"},
			"error_description": {"The user cancelled the login."},
		}, req.state)
		return
	}
	sub := form.Get("sub")
	if _, ok := p.persona(sub); !ok {
		p.errorPage(w, http.StatusBadRequest, "Unknown persona", "The chosen persona does not exist. Start the login again from the application.")
		return
	}
	p.approve(w, r, req, sub)
}

// approve issues a code for sub and sends the browser back to the client.
func (p *Provider) approve(w http.ResponseWriter, r *http.Request, req authRequest, sub string) {
	code := newCode()
	now := p.now()
	p.mu.Lock()
	p.sweepLocked(now)
	p.codes.add(code, &authCode{req: req, sub: sub}, now.Add(p.codeTTL), now)
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

// redirectAllowed reports whether uri may receive the browser on request r:
// Options.RedirectURIs lists it or Options.AllowRedirect allows it, or
// neither is set and it is any absolute http(s) URL.
func (p *Provider) redirectAllowed(r *http.Request, uri string) bool {
	switch {
	case !isAbsoluteHTTPURL(uri):
		return false
	case slices.Contains(p.redirectURIs, uri):
		return true
	case p.allowRedirect != nil:
		return p.allowRedirect(r, uri)
	}
	return len(p.redirectURIs) == 0
}

// redirectTo sends a 302 to redirectURI with params (and state, when the
// client sent one) added to its query, keeping any query it already has.
func redirectTo(w http.ResponseWriter, r *http.Request, redirectURI string, params url.Values, state string) {
	u, err := url.Parse(redirectURI)
	if err != nil {
		// redirectAllowed accepted it, so this cannot happen.
		http.Error(w, "mock: bad redirect_uri", http.StatusBadRequest)
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

// hiddenField is one hidden input of the login form.
type hiddenField struct{ Name, Value string }

type loginPageData struct {
	Fields   []hiddenField
	ClientID string
	ReturnTo string
	Scopes   []string
	Personas []personaView
	Issuer   string
}

type errorPageData struct {
	Title, Message string
}

func (p *Provider) loginPageFor(w http.ResponseWriter, form url.Values, req authRequest) {
	data := loginPageData{
		ClientID: p.clientID,
		Scopes:   req.scopes,
		Issuer:   p.issuer,
	}
	for _, k := range loginFormInputs {
		data.Fields = append(data.Fields, hiddenField{k, form.Get(k)})
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
		http.Error(w, "mock: rendering page: "+err.Error(), http.StatusInternalServerError)
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
// Programs that drive the login page without a browser read its hidden
// inputs by their exact markup, so that markup is part of the page's
// contract and must not change.
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
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}{{range .Personas}}<button class="persona" type="submit" name="sub" value="{{.Sub}}">
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
