// Package cfgargs reads the arguments of one Caddyfile line, with the
// errors the sgid directive gives for a line of the wrong shape. Each
// reader starts with the dispenser on the line's subdirective and leaves
// it on the line's last token.
package cfgargs

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// One reads exactly one argument, failing on none or more. The error never
// repeats the value, which may be a secret.
func One(d *caddyfile.Dispenser, dst *string) error {
	name := d.Val()
	if !d.NextArg() {
		return d.Errf("%s needs a value", name)
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.Errf("%s takes one value, got more", name)
	}
	return nil
}

// None reads a line that takes no argument, a flag, and sets dst.
func None(d *caddyfile.Dispenser, dst *bool) error {
	name := d.Val()
	if d.NextArg() {
		return d.Errf("%s takes no value", name)
	}
	*dst = true
	return nil
}

// OnOff reads exactly one of on and off into dst, which stays nil when the
// line is absent so that the default can depend on the request.
func OnOff(d *caddyfile.Dispenser, dst **bool) error {
	name := d.Val()
	var v string
	if err := One(d, &v); err != nil {
		return err
	}
	switch v {
	case "on", "off":
		b := v == "on"
		*dst = &b
		return nil
	}
	return d.Errf("%s: %q must be on or off", name, v)
}

// Append adds the line's arguments, at least one, to dst: repeated lines
// add up.
func Append[S ~[]string](d *caddyfile.Dispenser, dst *S, what string) error {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("%s needs at least one %s", name, what)
	}
	*dst = append(*dst, args...)
	return nil
}

// Duration reads one duration, in Caddy's syntax (which adds d for days to
// Go's).
func Duration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	name := d.Val()
	var v string
	if err := One(d, &v); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return d.Errf("%s: %v", name, err)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// Upto reads a line of one value that may be given up to max times: the
// first line sets first, the next ones add to rest, and one more is
// refused.
func Upto(d *caddyfile.Dispenser, first *string, rest *[]string, max int) error {
	name := d.Val()
	var v string
	if err := One(d, &v); err != nil {
		return err
	}
	switch {
	case *first == "" && len(*rest) == 0:
		*first = v
	case 1+len(*rest) < max:
		*rest = append(*rest, v)
	default:
		return d.Errf("%s is given more than %d times", name, max)
	}
	return nil
}
