// Package crossorigin tells a browser request sent by a page of the site's
// own origin from one sent by any other page, a page on a sibling
// subdomain included: SameSite=Lax sends the session cookie on a
// sibling's requests too, since to browsers it is the same site. It is
// net/http's CrossOriginProtection (Sec-Fetch-Site first, then Origin
// against Host), with the operator's trusted origins added.
package crossorigin

import (
	"fmt"
	"net/http"

	"github.com/caddy-sgid/caddy-sgid/internal/upgrade"
)

// Policy is the cross-origin policy of one handler. The nil Policy trusts
// no other origin.
type Policy struct {
	cop *http.CrossOriginProtection
}

// plain is the nil Policy's check. It is never changed.
var plain = http.NewCrossOriginProtection()

// check is p's CrossOriginProtection.
func (p *Policy) check() *http.CrossOriginProtection {
	if p == nil {
		return plain
	}
	return p.cop
}

// New builds the policy; each trusted origin is scheme://host[:port], as
// browsers send Origin.
func New(trusted []string) (*Policy, error) {
	cop := http.NewCrossOriginProtection()
	for _, o := range trusted {
		if err := cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("trusted_origins: %w", err)
		}
	}
	return &Policy{cop: cop}, nil
}

// Write reports whether r is a write that a browser says came from
// another origin: an unsafe method (anything but GET, HEAD and OPTIONS)
// or the opening of an upgraded connection such as a WebSocket, which
// browsers send as a GET on any page's behalf. Requests without the
// browser's headers (curl, server to server) are not cross-origin.
func (p *Policy) Write(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet:
		return upgrade.IsUpgrade(r) && !p.SameOrigin(r)
	case http.MethodHead, http.MethodOptions:
		return false
	}
	return p.check().Check(r) != nil
}

// SameOrigin reports whether r passes the policy as a write would,
// whatever its method: the browser says it came from this origin or from
// the user (Sec-Fetch-Site same-origin or none: a typed address, a
// bookmark), or it has no Sec-Fetch-Site and no Origin of another host
// (curl, or a browser too old to say), or its Origin is trusted. The
// check itself passes every GET, so it is shown r as a POST. A logout,
// GET included, must pass it, so that an image or frame on another page,
// a sibling subdomain's included, cannot log the user out.
func (p *Policy) SameOrigin(r *http.Request) bool {
	w := *r
	w.Method = http.MethodPost
	return p.check().Check(&w) == nil
}
