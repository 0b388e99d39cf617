package pathview

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Covered reports whether the request's path needs a login: one of
// patterns matches it under some reading of its path (see Matches), and
// it is not one of the exempt pages under every reading (see Exempt).
func Covered(patterns caddyhttp.MatchPath, exempt []string, r *http.Request, p *Reading) bool {
	return Matches(patterns, r, p) && !Exempt(exempt, r, p)
}

// Matches reports whether one of patterns matches the request: Caddy's
// path matcher on the request as it is, or, for a path that routers may
// read in more than one way, one of its readings, since the upstream
// routes its own reading, not Caddy's cleaned one. A plain path also
// matches a pattern without its one trailing slash, as routers that take
// /x/ for /x (Express, Spring) route it. A path whose readings are too
// many or too long to read, and a matcher error, count as a match: it
// fails closed.
func Matches(patterns caddyhttp.MatchPath, r *http.Request, p *Reading) bool {
	if len(patterns) == 0 {
		return false
	}
	if p.Plain {
		if ok, sure := matchPlain(patterns, r.URL.Path); sure {
			return ok
		}
	}
	if ok, err := patterns.MatchWithError(r); ok || err != nil {
		return true
	}
	if p.Plain {
		if path := r.URL.Path; len(path) > 1 && path[len(path)-1] == '/' {
			return anyViewMatches(patterns, r, []string{path[:len(path)-1]})
		}
		return false
	}
	views, complete := p.Views()
	return !complete || anyViewMatches(patterns, r, views)
}

// Exempt reports whether the request is for one of pages (login_page and
// error_path) under every reading of its path. An exact match is needed:
// a variant such as /login/ stays protected, which fails closed, and its
// redirect goes to the exempt page. A path sent with escapes (/%6cogin)
// is read in every way, since a router that matches the path as sent
// (Express) does not take it for the page. Case folds in ASCII only:
// strings.EqualFold would also take U+017F (ſ) for s and U+212A (K) for
// k, exempting paths that the upstream may treat as other paths.
func Exempt(pages []string, r *http.Request, p *Reading) bool {
	if len(pages) == 0 {
		return false
	}
	if p.Plain && Literal(r.URL) {
		for _, e := range pages {
			if EqualFold(r.URL.Path, e) {
				return true
			}
		}
		return false
	}
	views, complete := p.Views()
	for _, e := range pages {
		if complete && AllEqualFold(views, e) {
			return true
		}
	}
	return false
}

// anyViewMatches reports whether one of patterns matches one of views
// with the path matcher's semantics (case-insensitive; /x/* by prefix, *.x
// by suffix, *x* by substring, else a glob) but without its cleaning, since
// the views already include the cleaned readings next to the raw ones. A
// pattern holding an escape such as %2f is compared as it is with every
// view (%* standing for *), so it matches the raw view and any view that
// a router decoding too few or too many times would see.
func anyViewMatches(patterns caddyhttp.MatchPath, r *http.Request, views []string) bool {
	lower := make([]string, len(views))
	for i, v := range views {
		lower[i] = strings.ToLower(v)
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	for _, pattern := range patterns {
		if strings.Contains(pattern, "{") && repl != nil {
			pattern = strings.ToLower(repl.ReplaceAll(pattern, ""))
		}
		if strings.Contains(pattern, "%") {
			pattern = strings.ReplaceAll(pattern, "%*", "*")
		}
		for _, v := range lower {
			if Match(pattern, v) {
				return true
			}
		}
	}
	return false
}

// matchPlain is Matches for a plain path without the path matcher's
// general steps, where they cannot change the answer: a path of
// lower-case ASCII that is plain is its own lower-case and cleaned form,
// so the matcher compares it with each pattern as it is. It is sure only
// then, and only for patterns with neither a placeholder, an escape nor a
// run of slashes (which the matcher compares in other forms of the path).
// Otherwise the caller asks the matcher. A path with a trailing slash
// also matches a pattern without it (see Matches).
func matchPlain(patterns caddyhttp.MatchPath, path string) (matched, sure bool) {
	for i := 0; i < len(path); i++ {
		if c := path[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false, false
		}
	}
	for _, pattern := range patterns {
		for i := 0; i < len(pattern); i++ {
			if c := pattern[i]; c == '{' || c == '%' || c == '/' && i > 0 && pattern[i-1] == '/' {
				return false, false
			}
		}
	}
	trimmed := ""
	if len(path) > 1 && path[len(path)-1] == '/' {
		trimmed = path[:len(path)-1]
	}
	for _, pattern := range patterns {
		if Match(pattern, path) || trimmed != "" && Match(pattern, trimmed) {
			return true, true
		}
	}
	return false, true
}
