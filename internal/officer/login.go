package officer

import (
	"errors"
	"fmt"
	"slices"
)

// Scope is sgID's scope, and data field, of the public officer details.
const Scope = "pocdex.public_officer_details"

// The ways Start refuses a login.
var (
	// ErrNoProfile: the user is not a public officer (no profile at all).
	ErrNoProfile = errors.New("the user has no public officer profile")
	// ErrNotAllowed: the user has profiles, none of which allow_officer
	// allows.
	ErrNotAllowed = errors.New("none of the user's public officer profiles passes allow_officer")
)

// Start reads the profiles in a login's sgID data (as sgID sent it, before
// keep_fields) and returns the data keys the session starts with (see
// Jobs): the jobs rules allow (every job, without rules) under
// ProfilesKey, and, when that is exactly one, it chosen. With several the
// choice is pending until the user picks one (Choose): an upstream gets
// no officer.* value rather than the wrong job's. With rules, a login with
// no allowed profile is refused (ErrNoProfile, ErrNotAllowed); without
// rules, a user with no profile logs in with no officer keys at all.
// Malformed details give an error wrapping ErrMalformed. keep is
// keep_fields (nil keeps everything): the chosen job's officer.* fields
// are kept as it says, the jobs themselves always.
func Start(data map[string]string, rules *Rules, keep []string) (map[string]string, error) {
	profiles, err := Parse(data[Scope])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Scope, err)
	}
	if rules != nil {
		if len(profiles) == 0 {
			return nil, ErrNoProfile
		}
		if profiles = rules.Filter(profiles); len(profiles) == 0 {
			return nil, ErrNotAllowed
		}
	}
	if len(profiles) == 0 {
		return nil, nil
	}
	j := Jobs{Profiles: profiles, Chosen: -1}
	if len(profiles) == 1 {
		j.Chosen = 0
	}
	out := make(map[string]string, 2+len(FieldKeys))
	j.put(out, keep)
	return out, nil
}

// Reason is the reason, for the error path's query, that a login refused
// by Start ends with: "no_officer_profile" for ErrNoProfile,
// "officer_not_allowed" for ErrNotAllowed, "" for any other error.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrNoProfile):
		return "no_officer_profile"
	case errors.Is(err, ErrNotAllowed):
		return "officer_not_allowed"
	}
	return ""
}

// CompileFor compiles allow_officer's patterns for a handler asking for
// scopes: nil rules without patterns; an error when there are patterns
// but the scopes do not include Scope, since no profile would ever come.
func CompileFor(patterns, scopes []string) (*Rules, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	if !slices.Contains(scopes, Scope) {
		return nil, fmt.Errorf("allow_officer: add the scope %s, or no officer profile ever comes", Scope)
	}
	r, err := Compile(patterns)
	if err != nil {
		return nil, fmt.Errorf("allow_officer: %w", err)
	}
	return &r, nil
}
