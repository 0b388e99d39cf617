package caddysgid

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
)

// FreshLogin asks for a recent login on some protected paths, such as an
// admin API or a payment page: a session whose login is older than max_age
// is refused there, while it keeps working everywhere else. The browser
// logs in again, which replaces its session, so every tab then carries the
// new login.
//
// A refused API call gets 401 {"error":"login_too_old","login_url":…}; a refused
// navigation goes to login_page with return_to, as when no one is logged
// in, or gets a 401 text answer when there is no login_page.
type FreshLogin struct {
	// How old a login may be on these paths, counted from the
	// moment sgID's callback created the session. Required; positive.
	// Default: none.
	MaxAge caddy.Duration `json:"max_age,omitempty"`
	// The path patterns, with the semantics of protect, that ask for a
	// recent login. Each must
	// lie inside one of the protect patterns (for example /api/admin/*
	// inside /api/*), since only a protected request has a login to date.
	// Default: none.
	Paths caddyhttp.MatchPath `json:"paths,omitempty"`

	// now is the clock logins are dated by; time.Now unless a test sets
	// one.
	now func() time.Time
}

// errLoginTooOld is the code of the answer to a login older than max_age.
const errLoginTooOld = "login_too_old"

// setup compiles the fresh-login paths; a nil FreshLogin has nothing to do.
func (f *FreshLogin) setup(ctx caddy.Context) error {
	if f == nil {
		return nil
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f.Paths.Provision(ctx)
}

// validate checks the fresh-login settings against protect, the guard's
// patterns.
func (f *FreshLogin) validate(protect caddyhttp.MatchPath) error {
	if f == nil {
		return nil
	}
	if f.MaxAge <= 0 {
		return fmt.Errorf("fresh_login: max_age %s must be positive", time.Duration(f.MaxAge))
	}
	if len(f.Paths) == 0 {
		return errors.New("fresh_login: needs at least one path pattern")
	}
	for _, p := range f.Paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("fresh_login: pattern %q must start with /", p)
		}
		if !slices.ContainsFunc(protect, func(scope string) bool { return pathview.Within(p, scope) }) {
			return fmt.Errorf("fresh_login: pattern %q is not inside any protect pattern; a fresh login applies to protected paths only", p)
		}
	}
	return nil
}
