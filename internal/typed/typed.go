// Package typed turns sgID's userinfo data, in which every value is a
// string, into JSON values an application can use as they are: arrays and
// objects for the fields sgID sends as JSON text, null for "NA", strings
// for everything else.
//
// # API
//
//	func Data(data map[string]string) map[string]any
//	func Value(scope, raw string) any
//	func KindOf(scope string) Kind
//
// Data applies Value to every field and always returns a non-nil map, so
// that it encodes as {} when empty. Pass it sgID's data only, not values
// an application added: an app value that happens to look like JSON would
// be decoded (see Unknown).
//
// # The shape, scope by scope
//
// Every scope is of one Kind:
//
//   - JSON: myinfo.vehicles, myinfo.children_birth_records,
//     myinfo.sponsored_children_records, myinfo.sponsored_child_records
//     and pocdex.public_officer_details. A value that begins with "[" and
//     ends with "]", or begins with "{" and ends with "}", and is valid
//     JSON is decoded (arrays as []any, objects as map[string]any, numbers
//     as float64); any other value stays the string it is.
//   - String: the other scopes of sgID's data catalogue (myinfo.name,
//     myinfo.nric_number, myinfo.date_of_birth, myinfo.registered_address,
//     …; see KindOf). The value is always the string sgID sent, even when
//     it looks like JSON.
//   - Unknown: any other scope, treated as the official SDK treats every
//     field: decoded when it looks like a JSON array or object and is
//     valid JSON, else the string.
//
// Whatever the kind, the literal "NA" ("not applicable") becomes null,
// and so does every string "NA" inside a decoded array or object (as an
// element or a member's value; member names are never changed).
//
// Dates of birth stay strings, as sgID sent them: "1990-05-17", "1990-05"
// or "1990". These are ISO 8601 dates of reduced precision, so the string
// already says how much is known, sorts and compares in time order, and
// parses with any date library; turning "1990" into 1990-01-01 would
// invent a birthday, and an object such as {"year":1990,"month":5} would
// give every consumer a second format to learn while saying no more. The
// same holds for the other dates (passport and work pass expiry).
//
// # Differences from the official SDK's parseData
//
// The output is the same as that of parseData of @opengovsg/sgid-client
// (2.3.0), compared as JSON values, except where we chose otherwise:
//
//  1. "NA" is null: a field whose value is "NA" is null instead of the
//     string "NA", and so is every string "NA" inside a decoded array or
//     object.
//  2. String scopes are never decoded: parseData decodes any field whose
//     value looks like a JSON array or object, so a name such as "[1]"
//     would become an array; we keep the string, so that each known
//     field has one type (or null).
//  3. Where Go's JSON decoder and JavaScript's JSON.parse disagree on
//     what is valid, which no sgID data reaches: a number beyond the range
//     of a float64 (such as 1e400) makes us keep the whole value as a
//     string where JSON.parse reads Infinity; a lone UTF-16 surrogate
//     escape (such as "\ud800") becomes U+FFFD where JSON.parse keeps the
//     lone surrogate; nesting deeper than 10,000 levels makes us keep the
//     string.
//
// The conformance suite (internal/conformance) checks the first two, and
// equality everywhere else, against the SDK itself, for every persona of
// the built-in mock, for mockpass's public officer and for edge cases.
//
// Like parseData, a value with white space before its opening bracket
// (" [1]") is not decoded; JSON text that is not an array or object
// ("1", "true", "\"x\"", "null") is never decoded either.
package typed

import (
	"encoding/json"
)

// Kind says how Value treats a scope.
type Kind int

const (
	// Unknown scopes are decoded when they look like a JSON array or
	// object, as the official SDK decodes every field.
	Unknown Kind = iota
	// String scopes are always strings (or null for "NA").
	String
	// JSON scopes are sent by sgID as JSON text and decoded.
	JSON
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case JSON:
		return "json"
	}
	return "unknown"
}

// notApplicable is sgID's value for data that does not apply.
const notApplicable = "NA"

var kinds = map[string]Kind{
	"myinfo.vehicles":                   JSON,
	"myinfo.children_birth_records":     JSON,
	"myinfo.sponsored_children_records": JSON,
	"myinfo.sponsored_child_records":    JSON,
	"pocdex.public_officer_details":     JSON,

	"myinfo.name":                            String,
	"myinfo.nric_number":                     String,
	"myinfo.date_of_birth":                   String,
	"myinfo.passport_number":                 String,
	"myinfo.passport_expiry_date":            String,
	"myinfo.mobile_number":                   String,
	"myinfo.mobile_number_with_country_code": String,
	"myinfo.email":                           String,
	"myinfo.registered_address":              String,
	"myinfo.sex":                             String,
	"myinfo.race":                            String,
	"myinfo.nationality":                     String,
	"myinfo.residentialstatus":               String,
	"myinfo.residential":                     String,
	"myinfo.housingtype":                     String,
	"myinfo.hdbtype":                         String,
	"myinfo.birth_country":                   String,
	"myinfo.name_of_employer":                String,
	"myinfo.workpass_status":                 String,
	"myinfo.workpass_expiry_date":            String,
	"myinfo.marital_status":                  String,
}

// KindOf returns the kind of a scope.
func KindOf(scope string) Kind { return kinds[scope] }

// Data returns every field of data as Value gives it.
func Data(data map[string]string) map[string]any {
	out := make(map[string]any, len(data))
	for scope, raw := range data {
		out[scope] = Value(scope, raw)
	}
	return out
}

// Value returns one field's typed value: nil for "NA", the decoded JSON
// for a JSON or Unknown scope whose value is a JSON array or object, else
// raw.
func Value(scope, raw string) any {
	if raw == notApplicable {
		return nil
	}
	if KindOf(scope) == String || !looksJSON(raw) {
		return raw
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return raw
	}
	return nullNA(v)
}

// looksJSON is the SDK's test: the first and last characters are [ and ],
// or { and }.
func looksJSON(s string) bool {
	if s == "" {
		return false
	}
	first, last := s[0], s[len(s)-1]
	return first == '[' && last == ']' || first == '{' && last == '}'
}

// nullNA replaces every string "NA" inside v with nil, in place.
func nullNA(v any) any {
	switch t := v.(type) {
	case string:
		if t == notApplicable {
			return nil
		}
	case []any:
		for i, e := range t {
			t[i] = nullNA(e)
		}
	case map[string]any:
		for k, e := range t {
			t[k] = nullNA(e)
		}
	}
	return v
}
