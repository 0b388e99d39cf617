package confcheck

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// placeholderRE finds Caddy placeholders, and the namespace and name of the
// {env.*} and {file.*} ones.
var placeholderRE = regexp.MustCompile(`\{(?:(env|file)\.([^{}]+)|[^{}]+)\}`)

// Resolve replaces the placeholders in *v, the value of the field name,
// trimming outer space when trim. A value that was written but resolves to
// nothing is an error naming the placeholder: an unset {env.X} would
// otherwise surface as a missing client_id, or silently bring back a
// default (sgID's host, the redirect URI derived from the Host header).
// The error repeats only the placeholders, which hold no secret.
func Resolve(repl *caddy.Replacer, name string, v *string, trim bool) error {
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

// SetDefault sets *s to def when it is empty.
func SetDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}
