package officer

import (
	"errors"
	"fmt"
	"slices"
)

// Scope is sgID's scope, and data field, of the public officer details.
const Scope = "pocdex.public_officer_details"

// The ways Choose refuses a login.
var (
	// ErrNoProfile: the user is not a public officer (no profile at all).
	ErrNoProfile = errors.New("the user has no public officer profile")
	// ErrNotAllowed: the user has profiles, none of which allow_officer
	// allows.
	ErrNotAllowed = errors.New("none of the user's public officer profiles passes allow_officer")
)

// Choose reads the profiles in a login's sgID data and returns the data
// keys of the profile chosen, for the session: the Fields of the one
// profile rules allow (every profile, without rules). With several allowed
// profiles it returns no keys, since a picker would have to choose (none is
// wired yet): an upstream then gets no officer.* value rather than the
// wrong job's. With rules, a login with no allowed profile is refused
// (ErrNoProfile, ErrNotAllowed); without rules, a user with no profile
// logs in with no officer.* keys. Malformed details give an error wrapping
// ErrMalformed.
func Choose(data map[string]string, rules *Rules) (map[string]string, error) {
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
	if len(profiles) != 1 {
		return nil, nil
	}
	return profiles[0].Fields(), nil
}

// Reason is the reason, for the error path's query, that a login refused
// by Choose ends with: "no_officer_profile" for ErrNoProfile,
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
