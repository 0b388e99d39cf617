package caddysgid

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/assertion"
	"github.com/caddy-sgid/caddy-sgid/internal/forward"
	"github.com/caddy-sgid/caddy-sgid/internal/idheader"
	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/typed"
)

// What a logged-in user's requests carry to the handlers after sgid: the
// placeholders, the identity headers and the assertion's fields, made once
// per opened session (see userView), and the scrubbing of client copies
// of those headers from every request.

// identityRules are identity_header and the identity assertion's fields,
// compiled once.
type identityRules struct {
	// headers are the identity headers in canonical form, sorted by name.
	headers []identityHeader
	// scrubbed are the names whose client copies are deleted: the
	// identity headers and the assertion's header.
	scrubbed *idheader.Names
	// fields are the assertion's fields; nil without an assertion.
	fields []forward.Field
	// typed makes the userinfo route answer sgID's data typed; appKeys
	// are the app values' keys, which stay strings.
	typed   bool
	appKeys map[string]bool
}

// identityHeader is one entry of identity_header.
type identityHeader struct {
	name  string // canonical header name
	field forward.Field
}

// newIdentityRules compiles identity_header (header name to field spec),
// the assertion's fields (a, nil without one), pseudonyms keyed from the
// sealing key, typed_data, and the app values' keys (which stay strings).
func newIdentityRules(headers map[string]string, a *IdentityAssertion, secret string, typed bool, appParams map[string]string) (*identityRules, error) {
	rules := &identityRules{typed: typed, appKeys: make(map[string]bool, len(appParams))}
	for _, k := range appParams {
		rules.appKeys[k] = true
	}
	for name, spec := range headers {
		f, err := forward.Compile(spec, secret)
		if err != nil {
			return nil, fmt.Errorf("identity_header %s: %w", name, err)
		}
		rules.headers = append(rules.headers, identityHeader{name: http.CanonicalHeaderKey(name), field: f})
	}
	sort.Slice(rules.headers, func(i, j int) bool { return rules.headers[i].name < rules.headers[j].name })
	scrubbed := make([]string, 0, len(rules.headers)+1)
	for _, ih := range rules.headers {
		scrubbed = append(scrubbed, ih.name)
	}
	if a != nil {
		scrubbed = append(scrubbed, a.Header)
		for _, spec := range a.Fields {
			f, err := forward.Compile(spec, secret)
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

// checkKept refuses keep_fields that drop a field an identity header, an
// assertion claim or an allow_field rule reads.
func checkKept(h *Handler) error {
	var claims, rules []string
	if a := h.IdentityAssertion; a != nil {
		claims = a.Fields
	}
	for _, rule := range h.gate.AllowFields {
		rules = append(rules, rule.Field)
	}
	return forward.CheckConfig(h.KeepFields, h.gate.IdentityHeaders, claims, rules)
}

// userField is the value of "sub", "auth_time" (the login time in Unix
// seconds) or a data key of the session.
func userField(s session.Session, field string) (string, bool) {
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

// reservedIdentityKeys are the keys under http.auth.user. that
// identityPlaceholders fills from the session's sub and login rather
// than its data: no app value may use them as its data key.
var reservedIdentityKeys = map[string]bool{"id": true, "auth_time": true}

// placeholder is one placeholder the handler sets for a logged-in user.
type placeholder struct {
	name  string
	value any
}

// identityPlaceholders are the placeholders of session s, in the order they
// are set: the login time (when known) and the sub go last, so that they
// win over any data key that would name the same placeholder (Validate
// refuses such app keys; this holds regardless). The values are boxed
// here once, so that setting them again for each request of the same
// session allocates nothing.
func identityPlaceholders(s session.Session) []placeholder {
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

// userView is what the requests of one opened session need, made once
// (see session.Options.Prepare): the placeholders, the encoded identity
// header values, the assertion's fields, and the body of the userinfo
// route.
type userView struct {
	placeholders []placeholder
	// headers are the encoded values of the identity headers, in the
	// order of identityRules.headers; "" where the user has no value.
	headers []string
	// fields are the assertion's fields the user has values for.
	fields   []assertion.Field
	userinfo []byte
}

// newUserView makes ready what requests of session s need.
func newUserView(s session.Session, rules *identityRules) *userView {
	v := &userView{placeholders: identityPlaceholders(s), userinfo: userinfoJSON(s, rules)}
	get := func(field string) (string, bool) { return userField(s, field) }
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

// viewOf is the view the handler's Prepare made for o.
func viewOf(o *session.Opened) *userView { return o.View.(*userView) }

// userinfoJSON is the body of the userinfo route for s: {"sub", "data"},
// with data an object even when empty; with typed_data, sgID's fields
// typed (internal/typed), the app values strings still.
func userinfoJSON(s session.Session, rules *identityRules) []byte {
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

// setIdentityHeaders sets the identity headers of a logged-in user on a
// request passed on, from the values of its view; a header is left out
// when the user has no value for its field. The values share one backing
// array, each slice capped at its own element, so that a later append to
// one header cannot reach another.
func (rules *identityRules) setHeaders(r *http.Request, values []string) {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	if n == 0 {
		return
	}
	vals := make([]string, 0, n)
	for i, ih := range rules.headers {
		if v := values[i]; v != "" {
			vals = append(vals, v)
			j := len(vals)
			r.Header[ih.name] = vals[j-1 : j : j]
		}
	}
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
