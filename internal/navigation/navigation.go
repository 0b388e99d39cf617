// Package navigation tells a browser's top-level page load, which a guard
// may redirect to a login page, from an API call (fetch, XHR, curl, a
// WebSocket), which must get a status it can act on.
package navigation

import (
	"net/http"
	"strconv"
	"strings"
)

// Is tells a top-level page load, which may be redirected to a
// login page, from an API call (fetch, XHR, curl), which must get a status
// it can act on. Browsers say which it is in Sec-Fetch-Mode; for clients
// that do not, a navigation is one whose Accept prefers HTML.
func Is(r *http.Request) bool {
	hdr := r.Header
	if hdr.Get("X-Requested-With") != "" {
		return false
	}
	if mode := hdr.Get("Sec-Fetch-Mode"); mode != "" {
		return mode == "navigate"
	}
	if dest := hdr.Get("Sec-Fetch-Dest"); dest != "" {
		return dest == "document" || dest == "iframe" || dest == "frame"
	}
	return acceptPrefersHTML(hdr.Values("Accept"))
}

// acceptPrefersHTML reports whether HTML has the highest quality among the
// listed media types (a browser's "text/html,...,*/*;q=0.8" does, fetch's
// "*/*" and "application/json" do not).
func acceptPrefersHTML(values []string) bool {
	var htmlQ, otherQ float64
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			typ, params, _ := strings.Cut(elem, ";")
			typ = strings.ToLower(strings.TrimSpace(typ))
			if typ == "" {
				continue
			}
			q := 1.0
			for param := range strings.SplitSeq(params, ";") {
				k, val, _ := strings.Cut(param, "=")
				if strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && f >= 0 && f <= 1 {
						q = f
					}
				}
			}
			if typ == "text/html" || typ == "application/xhtml+xml" {
				htmlQ = max(htmlQ, q)
			} else {
				otherQ = max(otherQ, q)
			}
		}
	}
	return htmlQ > 0 && htmlQ >= otherQ
}
