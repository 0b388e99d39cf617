package caddysgid

import (
	"maps"
	"slices"

	"github.com/caddy-sgid/caddy-sgid/internal/forward"
	"github.com/caddy-sgid/caddy-sgid/internal/identity"
)

// What a logged-in user's requests carry to the handlers after sgid (the
// placeholders, the identity headers and the assertion's fields) is made
// by internal/identity, once per opened session; here it is compiled from
// the handler's configuration.

// identityRules compiles identity_header, the assertion's fields (none
// without an assertion), pseudonyms keyed from the sealing key, and
// typed_data, with the app values' keys (which stay strings).
func identityRules(h *Handler) (*identity.Rules, error) {
	c := identity.Config{
		Headers: h.gate.IdentityHeaders,
		Secret:  h.SealingKey,
		Typed:   h.TypedData,
		AppKeys: slices.Sorted(maps.Values(h.AppParams)),
	}
	if a := h.IdentityAssertion; a != nil {
		c.AssertionHeader, c.AssertionFields = a.Header, a.Fields
	}
	return identity.Compile(c)
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
