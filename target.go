package caddysgid

import (
	"net/http"
	"strings"
)

// validTarget reports whether the request target is one the handler can
// judge: an origin-form path starting with / (or the absolute form, which
// Go's server reads into the same path), or OPTIONS *. Go's server also
// accepts targets such as "http:api/x" or "mailto:api/x", whose URL is
// opaque with an empty path: Caddy's matchers see no path, while
// reverse_proxy forwards "api/x", which routers read as /api/x. Those,
// an empty path and a relative one are refused before anything else runs.
func validTarget(r *http.Request) bool {
	if r.URL.Opaque != "" {
		return false
	}
	if strings.HasPrefix(r.URL.Path, "/") {
		return true
	}
	return r.Method == http.MethodOptions && r.URL.Path == "*" && r.RequestURI == "*"
}

// How the guard treats a path that routers may read in more than one way
// (one that is not pathview.Plain).
const (
	// ambiguousRefuse answers it 400 when protect is set.
	ambiguousRefuse = "refuse"
	// ambiguousProtect judges it under every reading.
	ambiguousProtect = "protect"
)
