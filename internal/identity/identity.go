// Package identity makes what a logged-in user's requests carry to the
// handlers after sgid: the placeholders, the identity headers and the
// assertion's fields, and the body of the userinfo route. Rules are
// compiled once from the configuration; a View is made once per opened
// session (the session manager's Prepare) and then only copied onto each
// request. It also deletes client copies of those headers from every
// request.
package identity

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/assertion"
	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/forward"
	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/typed"
)

// Config is what the rules are compiled from.
type Config struct {
	// Headers maps a header name to its field spec (identity_header).
	Headers map[string]string
	// AssertionHeader is the assertion's header, "" without an assertion;
	// AssertionFields its field specs.
	AssertionHeader string
	AssertionFields []string
	// Secret keys pseudonyms (the sealing key).
	Secret string
	// Typed makes the userinfo body give sgID's data typed; AppKeys are
	// the app values' data keys, which stay strings.
	Typed   bool
	AppKeys []string
}

// Rules are identity_header and the assertion's fields, compiled.
type Rules struct {
	// headers are the identity headers in canonical form, sorted by name.
	headers []header
	// scrubbed are the names whose client copies are deleted: the
	// identity headers and the assertion's header.
	scrubbed *idheader.Names
	// fields are the assertion's fields; nil without an assertion.
	fields  []forward.Field
	typed   bool
	appKeys map[string]bool
}

// header is one entry of identity_header.
type header struct {
	name  string // canonical header name
	field forward.Field
}

// Compile compiles c.
func Compile(c Config) (*Rules, error) {
	rules := &Rules{typed: c.Typed, appKeys: make(map[string]bool, len(c.AppKeys))}
	for _, k := range c.AppKeys {
		rules.appKeys[k] = true
	}
	for name, spec := range c.Headers {
		f, err := forward.Compile(spec, c.Secret)
		if err != nil {
			return nil, fmt.Errorf("identity_header %s: %w", name, err)
		}
		rules.headers = append(rules.headers, header{name: http.CanonicalHeaderKey(name), field: f})
	}
	sort.Slice(rules.headers, func(i, j int) bool { return rules.headers[i].name < rules.headers[j].name })
	scrubbed := make([]string, 0, len(rules.headers)+1)
	for _, ih := range rules.headers {
		scrubbed = append(scrubbed, ih.name)
	}
	if c.AssertionHeader != "" {
		scrubbed = append(scrubbed, c.AssertionHeader)
		for _, spec := range c.AssertionFields {
			f, err := forward.Compile(spec, c.Secret)
			if err != nil {
				return nil, fmt.Errorf("identity_assertion: %w", err)
			}
			for _, g := range rules.fields {
				if g.Name == f.Name {
					return nil, fmt.Errorf("identity_assertion: the claim %q is given twice", f.Name)
				}
			}
			rules.fields = append(rules.fields, f)
		}
	}
	rules.scrubbed = idheader.NewNames(scrubbed...)
	return rules, nil
}

// Scrub deletes every client copy of the identity headers and the
// assertion's header from r (see idheader.Names.Scrub).
func (rules *Rules) Scrub(r *http.Request) { rules.scrubbed.Scrub(r) }

// Field is the value of "sub", "auth_time" (the login time in Unix
// seconds) or a data key of the session.
func Field(s session.Session, field string) (string, bool) {
	switch field {
	case "sub":
		return s.Sub, s.Sub != ""
	case "auth_time":
		at := authTime(s)
		return at, at != ""
	}
	v, ok := s.Data[field]
	return v, ok
}

// authTime is the login time of s in Unix seconds, or "" when unknown.
func authTime(s session.Session) string {
	if s.Login.IsZero() {
		return ""
	}
	return strconv.FormatInt(s.Login.Unix(), 10)
}

// ReservedKeys are the keys under http.auth.user. that the placeholders
// fill from the session's sub and login rather than its data: no app
// value may use them as its data key.
var ReservedKeys = map[string]bool{"id": true, "auth_time": true}

// placeholder is one placeholder set for a logged-in user.
type placeholder struct {
	name  string
	value any
}

// placeholders are the placeholders of session s, in the order they are
// set: the login time (when known) and the sub go last, so that they win
// over any data key that would name the same placeholder (the handler
// refuses such app keys; this holds regardless). The values are boxed
// here once, so that setting them again for each request of the same
// session allocates nothing.
func placeholders(s session.Session) []placeholder {
	out := make([]placeholder, 0, len(s.Data)+2)
	for k, v := range s.Data {
		if !officer.Own(k) { // the officer's jobs and choice are the handler's
			out = append(out, placeholder{"http.auth.user." + k, v})
		}
	}
	if at := authTime(s); at != "" {
		out = append(out, placeholder{"http.auth.user.auth_time", at})
	}
	return append(out, placeholder{"http.auth.user.id", s.Sub})
}

// SetPlaceholders sets the placeholders of session s in the request's
// replacer, for a request whose session has no View (the callback's).
func SetPlaceholders(r *http.Request, s session.Session) {
	setPlaceholders(r, placeholders(s))
}

// setPlaceholders sets ps, in order, in the request's replacer.
func setPlaceholders(r *http.Request, ps []placeholder) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return
	}
	for _, p := range ps {
		repl.Set(p.name, p.value)
	}
}

// View is what the requests of one opened session need, made once: the
// placeholders, the encoded identity header values, the assertion's
// fields, and the body of the userinfo route.
type View struct {
	placeholders []placeholder
	// headers are the encoded values of the identity headers, in the
	// order of Rules.headers; "" where the user has no value.
	headers []string
	// fields are the assertion's fields the user has values for.
	fields   []assertion.Field
	userinfo []byte
}

// View makes ready what requests of session s need.
func (rules *Rules) View(s session.Session) *View {
	v := &View{placeholders: placeholders(s), userinfo: rules.userinfoJSON(s)}
	get := func(field string) (string, bool) { return Field(s, field) }
	if len(rules.headers) > 0 {
		v.headers = make([]string, len(rules.headers))
		for i, ih := range rules.headers {
			if val := ih.field.Value(get); val != "" {
				v.headers[i] = idheader.Encode(val)
			}
		}
	}
	for _, f := range rules.fields {
		if val := f.Value(get); val != "" {
			v.fields = append(v.fields, assertion.Field{Name: f.Name, Value: val})
		}
	}
	return v
}

// Of is the View that Rules.View made for o (the session manager's
// Prepare).
func Of(o *session.Opened) *View { return o.View.(*View) }

// SetPlaceholders sets the view's placeholders in the request's replacer.
func (v *View) SetPlaceholders(r *http.Request) { setPlaceholders(r, v.placeholders) }

// Userinfo is the body of the userinfo route.
func (v *View) Userinfo() []byte { return v.userinfo }

// userinfoJSON is the body of the userinfo route for s: {"sub", "data"},
// with data an object even when empty; with typed_data, sgID's fields
// typed (internal/typed), the app values strings still.
func (rules *Rules) userinfoJSON(s session.Session) []byte {
	data := make(map[string]any, len(s.Data))
	for k, v := range s.Data {
		if officer.Derived(k) {
			// The officer's jobs and the chosen one's fields are the
			// handler's, derived from sgID's pocdex data, which the
			// answer holds as sgID sent it (when kept): userinfo stays
			// what sgID's SDK returns.
			continue
		}
		if rules.typed && !rules.appKeys[k] {
			data[k] = typed.Value(k, v)
		} else {
			data[k] = v
		}
	}
	// Strings and what typed decodes from JSON always encode.
	b, _ := json.Marshal(struct {
		Sub  string         `json:"sub"`
		Data map[string]any `json:"data"`
	}{s.Sub, data})
	return b
}

// SetHeaders sets the identity headers of a logged-in user on a request
// passed on, from the values of its view; a header is left out when the
// user has no value for its field. The values share one backing array,
// each slice capped at its own element, so that a later append to one
// header cannot reach another.
func (rules *Rules) SetHeaders(r *http.Request, v *View) {
	n := 0
	for _, val := range v.headers {
		if val != "" {
			n++
		}
	}
	if n == 0 {
		return
	}
	vals := make([]string, 0, n)
	for i, ih := range rules.headers {
		if val := v.headers[i]; val != "" {
			vals = append(vals, val)
			j := len(vals)
			r.Header[ih.name] = vals[j-1 : j : j]
		}
	}
}

// Signer puts the signed identity assertion on the requests passed on.
type Signer struct {
	// Header is the assertion's header; Audience its audience ("" for the
	// site's origin).
	Header, Audience string
	// Origins makes the issuer, the site's origin (cookie_secure also
	// decides its scheme).
	Origins cookie.Jar
	Signer  *assertion.Signer
}

// Set signs the assertion of the session o for the request r, with the
// fields of its view the user has values for, and puts it in the header:
// issued by the site's origin, for the configured audience (the origin by
// default).
func (s *Signer) Set(r *http.Request, o *session.Opened, v *View) error {
	issuer, err := s.Origins.Origin(r, "")
	if err != nil {
		return err
	}
	tok, err := s.Signer.Assertion(r.Context(), o.Key, cmp.Or(s.Audience, issuer), assertion.Claims{
		Issuer:   issuer,
		Subject:  o.Session.Sub,
		AuthTime: o.Session.Login,
		Fields:   v.fields,
	})
	if err != nil {
		return err
	}
	r.Header[http.CanonicalHeaderKey(s.Header)] = []string{tok}
	return nil
}
