package confcheck

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinSealingKey is the shortest sealing_key accepted, in bytes.
const MinSealingKey = 32

// MaxAppParams bounds the app parameters a config may declare, so that
// their values fit in a login cookie.
const MaxAppParams = 4

// CheckRoutes refuses a route path that does not start with / or is also
// another route's. routes maps each field to its path.
func CheckRoutes(routes map[string]string) error {
	seen := map[string]string{}
	for _, field := range slices.Sorted(maps.Keys(routes)) {
		p := routes[field]
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%s: %q must start with /", field, p)
		}
		if other, dup := seen[p]; dup {
			return fmt.Errorf("%s: %q is also %s", field, p, other)
		}
		seen[p] = field
	}
	return nil
}

// cookieNameRE is the token syntax of RFC 6265 cookie names, minus the
// characters that need quoting anywhere.
var cookieNameRE = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-.^_|~]+$`)

// CheckCookieName refuses a cookie_name that is not a cookie-name token
// or carries a cookie prefix.
func CheckCookieName(name string) error {
	if !cookieNameRE.MatchString(name) {
		return fmt.Errorf("cookie_name: %q is not a valid cookie name", name)
	}
	// The handler adds __Host- itself on HTTPS; a name that already has a
	// prefix would be refused by browsers on plain HTTP, or get two.
	if lower := strings.ToLower(name); strings.HasPrefix(lower, "__host-") || strings.HasPrefix(lower, "__secure-") {
		return fmt.Errorf("cookie_name: %q has a cookie prefix; give the bare name, the handler adds __Host- on HTTPS", name)
	}
	return nil
}

// CheckAppParams refuses app_params that could not travel in a login
// cookie or that could pass for the user's identity or sgID's data.
// returnToParam is the auth-url parameter the handler keeps for the return
// path, and identityKeys are the keys under http.auth.user. that only the
// handler sets; both are the handler's, given so that this package need
// not know its routes.
func CheckAppParams(params map[string]string, returnToParam string, identityKeys map[string]bool) error {
	if len(params) > MaxAppParams {
		return fmt.Errorf("app_params: %d parameters; at most %d fit in the login cookie", len(params), MaxAppParams)
	}
	for param, key := range params {
		if param == "" || key == "" {
			return fmt.Errorf("app_params: empty parameter or key (%q -> %q)", param, key)
		}
		if param == returnToParam {
			return fmt.Errorf("app_params: %q is reserved for the return path", param)
		}
		// The handler sets {http.auth.user.id} to the sub itself: an app
		// value under that key would replace the user's identity in every
		// placeholder, header_up and the access log's user_id.
		if identityKeys[key] {
			return fmt.Errorf("app_params: data key %q is the user's identity ({http.auth.user.%s}), which only sgID sets; pick another key", key, key)
		}
		// sgID's fields are named like scopes (myinfo.name); an app value
		// under such a key could pass for data sgID vouched for.
		if strings.Contains(key, ".") || key == "sub" || key == "openid" {
			return fmt.Errorf("app_params: data key %q looks like an sgID field; pick a key without a dot", key)
		}
	}
	return nil
}

// ValidAppValue reports whether an app value the browser sent to auth-url
// may be kept: valid UTF-8 without control characters. These values end up
// in placeholders, headers, and logs, where a CR or LF would split a line
// and bytes that are not UTF-8 would be replaced or garble it.
func ValidAppValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, c := range v {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}
