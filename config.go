package caddysgid

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// Defaults of the handler's fields.
const (
	DefaultAuthURLPath     = "/api/auth-url"
	DefaultCallbackPath    = "/api/redirect"
	DefaultUserinfoPath    = "/api/userinfo"
	DefaultLogoutPath      = "/api/logout"
	DefaultSuccessPath     = "/logged-in"
	DefaultErrorPath       = "/error"
	DefaultCookieName      = "sgid_session"
	DefaultLoginTimeout    = 10 * time.Minute
	DefaultSessionLifetime = 12 * time.Hour
	DefaultCacheTTL        = 10 * time.Second
	DefaultKeyRotation     = 24 * time.Hour
	DefaultProviderTimeout = 10 * time.Second
)

// Bounds on what auth-url puts in a login cookie, so that it stays under
// the 4096 bytes browsers keep of a cookie.
const (
	// maxAppValue bounds an app parameter's value.
	maxAppValue = 256
	// maxAppParams bounds the app parameters a config may declare.
	maxAppParams = 4
	// maxLoginCookie bounds a login cookie's name and value together.
	maxLoginCookie = 4000
)

// How the configuration becomes what the handler runs with: placeholders
// resolved, defaults applied, and errors of the sgid client named by the
// field to fix.

// resolvePlaceholders replaces the placeholders in *v, trimming outer
// space when trim. A value that was written but resolves to nothing is an
// error naming the placeholder: an unset {env.X} would otherwise surface as
// a missing client_id, or silently bring back a default (sgID's host, the
// redirect URI derived from the Host header). The error repeats only the
// placeholders, which hold no secret.
func resolvePlaceholders(repl *caddy.Replacer, name string, v *string, trim bool) error {
	raw := *v
	out := repl.ReplaceAll(raw, "")
	if trim {
		out = strings.TrimSpace(out)
	}
	*v = out
	if strings.TrimSpace(out) != "" || strings.TrimSpace(raw) == "" {
		return nil
	}
	var hints []string
	for _, m := range placeholderRE.FindAllStringSubmatch(raw, -1) {
		switch m[1] {
		case "env":
			hints = append(hints, "is "+m[2]+" set?")
		case "file":
			hints = append(hints, "does "+m[2]+" exist, readable by Caddy and not empty?")
		}
	}
	placeholders := strings.Join(placeholderRE.FindAllString(raw, -1), " ")
	if placeholders == "" {
		return fmt.Errorf("%s: the value resolved to an empty value", name)
	}
	msg := fmt.Sprintf("%s: %s resolved to an empty value", name, placeholders)
	if len(hints) > 0 {
		msg += " (" + strings.Join(hints, " ") + ")"
	}
	return errors.New(msg)
}

// checkRoutes refuses a route path that does not start with / or is also
// another route's. routes maps each field to its path.
func checkRoutes(routes map[string]string) error {
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

// checkCookieName refuses a cookie_name that is not a cookie-name token
// or carries a cookie prefix.
func checkCookieName(name string) error {
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

// checkAppParams refuses app_params that could not travel in a login
// cookie or that could pass for the user's identity or sgID's data.
func checkAppParams(params map[string]string) error {
	if len(params) > maxAppParams {
		return fmt.Errorf("app_params: %d parameters; at most %d fit in the login cookie", len(params), maxAppParams)
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
		if reservedIdentityKeys[key] {
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

// placeholderRE finds Caddy placeholders, and the namespace and name of the
// {env.*} and {file.*} ones.
var placeholderRE = regexp.MustCompile(`\{(?:(env|file)\.([^{}]+)|[^{}]+)\}`)

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// fieldError names the Caddy field of an sgid.Config error, so that caddy
// validate points at the line to fix. Caddy names the module already, so
// the sgid package's own "sgid: " prefix is left off.
func fieldError(err error) error {
	var ce *sgid.ConfigError
	if errors.As(err, &ce) {
		if field, ok := configFields[ce.Field]; ok {
			nfe := &namedFieldError{field: field, err: err}
			if ce.Field == "PrivateKeys" {
				// The JSON name with the index says which key; the Go
				// name the client appends for its own callers goes.
				nfe.field = fmt.Sprintf("%s[%d]", field, ce.Index)
				nfe.goName = fmt.Sprintf(" (PrivateKeys[%d])", ce.Index)
			}
			return nfe
		}
	}
	return err
}

// namedFieldError is an error of the sgid client about one field, named
// by its JSON name.
type namedFieldError struct {
	field string
	err   error
	// goName is the client's own name of the field in its message, left
	// out of Error.
	goName string
}

func (e *namedFieldError) Error() string {
	msg := strings.TrimPrefix(e.err.Error(), "sgid: ")
	if e.goName != "" {
		msg = strings.Replace(msg, e.goName, "", 1)
	}
	return e.field + ": " + msg
}

func (e *namedFieldError) Unwrap() error { return e.err }

// configFields maps sgid.Config's fields to the handler's JSON names.
var configFields = map[string]string{
	"ClientID":     "client_id",
	"ClientSecret": "client_secret",
	"PrivateKey":   "private_key",
	"PrivateKeys":  "private_keys",
	"Host":         "host",
	"RedirectURI":  "redirect_uri",
	"Scopes":       "scopes",
}

// hashJSON is a pool key for values that may include secrets: a hash, so
// the secrets do not sit in the pool's keys.
func hashJSON(v ...any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// clients holds the sgID clients across config reloads.
var clients = caddy.NewUsagePool()

type clientDestructor struct{ *sgid.Client }

func (clientDestructor) Destruct() error { return nil }

// pooledClient returns the sgID client of cfg, shared (with its JWKS cache)
// with the config this one replaces when nothing it was built from
// changed, and the pool key to release at cleanup.
func pooledClient(cfg sgid.Config, mock bool) (*sgid.Client, string, error) {
	key := "sgid-client-" + hashJSON(cfg.ClientID, cfg.ClientSecret, cfg.PrivateKey, cfg.PrivateKeys, cfg.Host, cfg.RedirectURI, cfg.Scopes, mock)
	c, _, err := clients.LoadOrNew(key, func() (caddy.Destructor, error) {
		client, err := sgid.New(cfg)
		return clientDestructor{client}, err
	})
	if err != nil {
		return nil, "", fieldError(err)
	}
	return c.(clientDestructor).Client, key, nil
}
