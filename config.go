package caddysgid

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// How the configuration becomes what the handler runs with: placeholders
// resolved, defaults applied, and errors of the sgid client named by the
// field to fix.

// resolveConfig resolves the placeholders of the fields that take them and
// applies the defaults.
func (h *Handler) resolveConfig() error {
	repl := caddy.NewReplacer()
	for _, f := range []struct {
		name string
		v    *string
		trim bool
	}{
		{"client_id", &h.ClientID, true},
		{"client_secret", &h.ClientSecret, true},
		{"private_key", &h.PrivateKey, false},
		{"host", &h.Host, true},
		{"redirect_uri", &h.RedirectURI, true},
		{"sealing_key", &h.SealingKey, true},
	} {
		if err := resolvePlaceholders(repl, f.name, f.v, f.trim); err != nil {
			return err
		}
	}
	for i := range h.PrivateKeys {
		if err := resolvePlaceholders(repl, fmt.Sprintf("private_keys[%d]", i), &h.PrivateKeys[i], false); err != nil {
			return err
		}
	}
	applyDefaults(h)
	return nil
}

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

// placeholderRE finds Caddy placeholders, and the namespace and name of the
// {env.*} and {file.*} ones.
var placeholderRE = regexp.MustCompile(`\{(?:(env|file)\.([^{}]+)|[^{}]+)\}`)

func applyDefaults(h *Handler) {
	setDefault(&h.AuthURLPath, DefaultAuthURLPath)
	setDefault(&h.CallbackPath, DefaultCallbackPath)
	setDefault(&h.UserinfoPath, DefaultUserinfoPath)
	setDefault(&h.LogoutPath, DefaultLogoutPath)
	setDefault(&h.SuccessPath, DefaultSuccessPath)
	setDefault(&h.ErrorPath, DefaultErrorPath)
	setDefault(&h.CookieName, DefaultCookieName)
	if h.LoginTimeout == 0 {
		h.LoginTimeout = caddy.Duration(DefaultLoginTimeout)
	}
	if h.SessionLifetime == 0 {
		h.SessionLifetime = caddy.Duration(DefaultSessionLifetime)
	}
	if h.CacheTTL == nil {
		ttl := caddy.Duration(DefaultCacheTTL)
		h.CacheTTL = &ttl
	}
	if h.KeyRotation == 0 {
		h.KeyRotation = caddy.Duration(DefaultKeyRotation)
	}
	if h.ProviderTimeout == 0 {
		h.ProviderTimeout = caddy.Duration(DefaultProviderTimeout)
	}
}

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
