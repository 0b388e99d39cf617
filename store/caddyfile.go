package store

import (
	"encoding/json"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Namespace is the Caddy module namespace of the stores; a store module's
// ID is Namespace + "." + its name.
const Namespace = "sgid.stores"

// UnmarshalStore parses the handler's `store` subdirective, with the
// dispenser on the `store` token:
//
//	store memory|storage|redis [{ ... }]
//
// It hands the rest to the named module's own parser, the way
// reverse_proxy's `transport` does, and returns the module's JSON with its
// name under "module", ready for the handler's store field.
func UnmarshalStore(d *caddyfile.Dispenser) (json.RawMessage, error) {
	if !d.NextArg() {
		return nil, d.ArgErr()
	}
	name := d.Val()
	unm, err := caddyfile.UnmarshalModule(d, Namespace+"."+name)
	if err != nil {
		return nil, err
	}
	if _, ok := unm.(Backend); !ok {
		return nil, d.Errf("module %s.%s is not a session store", Namespace, name)
	}
	var warnings []caddyconfig.Warning
	raw := caddyconfig.JSONModuleObject(unm, "module", name, &warnings)
	if len(warnings) > 0 {
		return nil, d.Errf("encoding store %s: %s", name, warnings[0].Message)
	}
	return raw, nil
}

// UnmarshalCaddyfile sets up the memory store from
//
//	memory {
//	    max_entries <n>
//	}
func (m *Memory) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) error {
		switch sub {
		case "max_entries":
			n, err := intArg(d, 1)
			if err != nil {
				return err
			}
			m.MaxEntries = n
		default:
			return d.Errf("unrecognized store memory subdirective '%s'", sub)
		}
		return nil
	})
}

// UnmarshalCaddyfile sets up the storage store, which has no settings:
// it uses Caddy's global `storage`.
//
//	storage
func (s *Storage) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) error {
		return d.Errf("unrecognized store storage subdirective '%s'; the storage store takes Caddy's global storage option", sub)
	})
}

// UnmarshalCaddyfile sets up the Redis store from
//
//	redis {
//	    address         <host:port> [<host:port>...]
//	    username        <name>
//	    password        <password>
//	    db              <n>
//	    key_prefix      <prefix>
//	    sentinel_master <name>
//	    tls [{
//	        ca_file     <path>
//	        server_name <name>
//	    }]
//	    dial_timeout    <duration>
//	    read_timeout    <duration>
//	    write_timeout   <duration>
//	}
func (r *Redis) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return parseBlock(d, func(sub string) error {
		var err error
		switch sub {
		case "address":
			r.Addresses = d.RemainingArgs()
			if len(r.Addresses) == 0 {
				return d.ArgErr()
			}
		case "username":
			r.Username, err = oneArg(d)
		case "password":
			r.Password, err = oneArg(d)
		case "db":
			r.DB, err = intArg(d, 0)
		case "key_prefix":
			r.KeyPrefix, err = oneArg(d)
		case "sentinel_master":
			r.SentinelMaster, err = oneArg(d)
		case "tls":
			r.TLS, err = parseRedisTLS(d)
		case "dial_timeout":
			r.DialTimeout, err = durationArg(d)
		case "read_timeout":
			r.ReadTimeout, err = durationArg(d)
		case "write_timeout":
			r.WriteTimeout, err = durationArg(d)
		default:
			return d.Errf("unrecognized store redis subdirective '%s'", sub)
		}
		return err
	})
}

func parseRedisTLS(d *caddyfile.Dispenser) (*RedisTLS, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	t := new(RedisTLS)
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] {
			return nil, d.Errf("tls %s specified more than once", sub)
		}
		seen[sub] = true
		var err error
		switch sub {
		case "ca_file":
			t.CAFile, err = oneArg(d)
		case "server_name":
			t.ServerName, err = oneArg(d)
		default:
			return nil, d.Errf("unrecognized store redis tls subdirective '%s'", sub)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// parseBlock consumes the module name, refuses arguments after it, and
// calls sub for each subdirective of the block, refusing a repeat: every
// setting of the stores takes one value (address takes its several on one
// line).
func parseBlock(d *caddyfile.Dispenser, sub func(name string) error) error {
	d.Next() // the module name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		name := d.Val()
		if seen[name] {
			return d.Errf("%s specified more than once", name)
		}
		seen[name] = true
		if err := sub(name); err != nil {
			return err
		}
	}
	return nil
}

// oneArg returns the subdirective's single argument.
func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// intArg returns the single argument as an integer of at least min.
func intArg(d *caddyfile.Dispenser, min int) (int, error) {
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return 0, d.Errf("want a whole number of at least %d, got '%s'", min, v)
	}
	return n, nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil || dur <= 0 {
		return 0, d.Errf("want a positive duration, got '%s'", v)
	}
	return caddy.Duration(dur), nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*Memory)(nil)
	_ caddyfile.Unmarshaler = (*Storage)(nil)
	_ caddyfile.Unmarshaler = (*Redis)(nil)
)
