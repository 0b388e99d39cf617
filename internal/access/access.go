// Package access holds the guard's rules for a logged-in user on a
// protected path: allow_subs, allow_fields and fresh_login's maximum age
// on some of the paths. The root's Guard compiles them from its
// configuration; Judge gives the verdict for one request.
package access

import (
	"net/http"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/identity"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
)

// Field passes a user whose field ("sub", "auth_time" or a data key)
// equals one of Values exactly.
type Field struct {
	Name   string
	Values []string
}

// Rules are the rules a logged-in user must pass on a protected path.
// The zero Rules allow everyone.
type Rules struct {
	// Subs, when set, are the only subjects allowed.
	Subs []string
	// Fields must all pass.
	Fields []Field
	// FreshPaths ask for a login no older than MaxAge, dated by Now
	// (time.Now when nil).
	FreshPaths caddyhttp.MatchPath
	MaxAge     time.Duration
	Now        func() time.Time
}

// Verdict is what Judge decides.
type Verdict int

const (
	// Allowed: the request passes on.
	Allowed Verdict = iota
	// Forbidden: the user fails allow_subs or an allow_field rule.
	Forbidden
	// TooOld: the path asks for a fresher login than the session's. A
	// session without a login time (made before logins were dated)
	// counts as too old: its age cannot be shown.
	TooOld
)

// Judge gives the verdict for the user of session s asking for the
// request r, whose path reading is p.
func (ru *Rules) Judge(r *http.Request, p *pathview.Reading, s session.Session) Verdict {
	if !ru.allows(s) {
		return Forbidden
	}
	if len(ru.FreshPaths) > 0 && pathview.Matches(ru.FreshPaths, r, p) {
		now := time.Now
		if ru.Now != nil {
			now = ru.Now
		}
		if s.Login.IsZero() || now().Sub(s.Login) > ru.MaxAge {
			return TooOld
		}
	}
	return Allowed
}

// allows reports whether the user passes every rule.
func (ru *Rules) allows(s session.Session) bool {
	if len(ru.Subs) > 0 && !slices.Contains(ru.Subs, s.Sub) {
		return false
	}
	for _, rule := range ru.Fields {
		v, ok := identity.Field(s, rule.Name)
		if !ok || !slices.Contains(rule.Values, v) {
			return false
		}
	}
	return true
}
