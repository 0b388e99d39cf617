// Package forward decides what a user's fields become when they leave the
// handler for an upstream, in an identity header or a claim of the
// identity assertion, and which of sgID's data fields are kept at all.
//
// # Field syntax
//
// A forwarded field is written as one of:
//
//	sub, auth_time, <data key>   the user's value, as stored
//	myinfo.nric_number           the NRIC, masked: pii.MaskNRIC ("*****123A")
//	myinfo.nric_number:unmasked  the NRIC in full, asked for in so many words
//	pseudonym:<label>            pii's pseudonym of sub for label, keyed from
//	                             the handler's sealing_key
//
// ":unmasked" applies to myinfo.nric_number only; any other ':' in a field
// is refused, so that a typo never forwards a value nobody asked for. A
// field's claim name in the assertion is the field as written without
// ":unmasked".
//
// # Keeping fields
//
// Keep drops from sgID's data every field outside keep_fields before the
// session is stored: a field never kept is never stored, logged, shown by
// the userinfo route nor forwarded.
package forward

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/caddy-sgid/caddy-sgid/internal/pii"
)

// NRIC is the sgID data field holding the user's NRIC or FIN.
const NRIC = "myinfo.nric_number"

const (
	unmaskedSuffix  = ":unmasked"
	pseudonymPrefix = "pseudonym:"
)

// Field is one compiled forwarded field.
type Field struct {
	// Name is the claim name: the field as written, without ":unmasked".
	Name string
	// source is the user field read: sub for a pseudonym.
	source string
	mask   bool
	pseudo *pii.Pseudonymizer
}

// ErrNoSecret is returned for a pseudonym field without a sealing key.
var ErrNoSecret = errors.New("pseudonyms are keyed from sealing_key; set sealing_key (at least 32 random bytes) so that they stay the same across restarts and instances")

// Compile reads spec. secret is the handler's sealing_key, "" when unset.
func Compile(spec, secret string) (Field, error) {
	if spec == "" {
		return Field{}, errors.New("empty field name")
	}
	if label, ok := strings.CutPrefix(spec, pseudonymPrefix); ok {
		if err := pii.ValidLabel(label); err != nil {
			return Field{}, fmt.Errorf("field %q: %w", spec, err)
		}
		if secret == "" {
			return Field{}, fmt.Errorf("field %q: %w", spec, ErrNoSecret)
		}
		p, err := pii.NewPseudonymizer([]byte(secret), label)
		if err != nil {
			return Field{}, fmt.Errorf("field %q: %w", spec, err)
		}
		return Field{Name: spec, source: "sub", pseudo: &p}, nil
	}
	if base, ok := strings.CutSuffix(spec, unmaskedSuffix); ok {
		if base != NRIC {
			return Field{}, fmt.Errorf("field %q: only %s is masked, so only it takes %s", spec, NRIC, unmaskedSuffix)
		}
		return Field{Name: base, source: base}, nil
	}
	if strings.Contains(spec, ":") {
		return Field{}, fmt.Errorf("field %q: a ':' is only allowed in pseudonym:<label> and %s%s", spec, NRIC, unmaskedSuffix)
	}
	return Field{Name: spec, source: spec, mask: spec == NRIC}, nil
}

// Source is the user field f reads: sub for a pseudonym.
func (f Field) Source() string { return f.source }

// Value is what f sends for a user whose fields get returns; "" when the
// user has no value.
func (f Field) Value(get func(field string) (string, bool)) string {
	v, ok := get(f.source)
	if !ok || v == "" {
		return ""
	}
	switch {
	case f.pseudo != nil:
		return f.pseudo.Of(v)
	case f.mask:
		return pii.MaskNRIC(v)
	}
	return v
}

// Keep returns data without the keys outside keep, in place; a nil keep
// keeps everything.
func Keep(data map[string]string, keep []string) map[string]string {
	if keep == nil {
		return data
	}
	for k := range data {
		if !slices.Contains(keep, k) {
			delete(data, k)
		}
	}
	return data
}

// CheckKept refuses a forwarded or ruled field, spec, that reads sgID data
// (a dotted key) left out of keep: it would never have a value. A nil keep
// keeps everything.
func CheckKept(keep []string, where, spec string) error {
	source := strings.TrimSuffix(spec, unmaskedSuffix)
	if keep == nil || !strings.Contains(source, ".") || slices.Contains(keep, source) {
		return nil
	}
	return fmt.Errorf("%s: field %q is not in keep_fields, so it is never stored and would never have a value", where, source)
}

// CheckConfig checks keep (keep_fields) and refuses it when it drops a
// field that headers (header name to field), claims (the assertion's
// fields) or rules (allow_field's fields) read.
func CheckConfig(keep []string, headers map[string]string, claims, rules []string) error {
	for _, f := range keep {
		if f == "" {
			return errors.New("keep_fields: empty field name")
		}
	}
	for name, spec := range headers {
		if err := CheckKept(keep, "identity_header "+name, spec); err != nil {
			return err
		}
	}
	for _, spec := range claims {
		if err := CheckKept(keep, "identity_assertion", spec); err != nil {
			return err
		}
	}
	for _, f := range rules {
		if err := CheckKept(keep, "allow_field", f); err != nil {
			return err
		}
	}
	return nil
}
