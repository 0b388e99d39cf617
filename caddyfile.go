package caddysgid

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sgid", parseCaddyfile)
	// Before rewrite, and so before try_files: an SPA's
	// `try_files {path} /index.html` must not turn /api/redirect into
	// /index.html before sgid sees it.
	httpcaddyfile.RegisterDirectiveOrder("sgid", httpcaddyfile.Before, "rewrite")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var s Handler
	err := s.UnmarshalCaddyfile(h.Dispenser)
	return &s, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	sgid [<matcher>] {
//	    client_id        <id>
//	    client_secret    <secret>
//	    private_key      <pem>
//	    host             <origin>
//	    redirect_uri     <url>
//	    scopes           <scope...>
//	    app_param        <query_param> [<data_key>]
//	    auth_url_path    <path>
//	    callback_path    <path>
//	    userinfo_path    <path>
//	    logout_path      <path>
//	    success_path     <path>
//	    error_path       <path>
//	    cookie_name      <name>
//	    login_timeout    <duration>
//	    session_lifetime <duration>
//	    max_pending_logins <n>
//	    max_sessions     <n>
//	    mock
//	    protect          <path pattern...>
//	    login_page       <path>
//	    identity_header  <field> <Header-Name>
//	    allow_sub        <sub...>
//	    allow_field      <field> <value...>
//	    forward_cookie
//	}
func (s *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		sub := d.Val()
		switch sub {
		case "client_id", "client_secret", "private_key", "host", "redirect_uri",
			"auth_url_path", "callback_path", "userinfo_path", "logout_path",
			"success_path", "error_path", "cookie_name":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			field := s.stringField(sub)
			if *field != "" {
				return d.Errf("%s is given twice", sub)
			}
			*field = v
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			s.Scopes = append(s.Scopes, args...)
		case "app_param":
			args := d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("app_param takes a query parameter and an optional data key, got %d arguments", len(args))
			}
			key := args[0]
			if len(args) == 2 {
				key = args[1]
			}
			if s.AppParams == nil {
				s.AppParams = make(map[string]string)
			}
			if _, dup := s.AppParams[args[0]]; dup {
				return d.Errf("app_param %q is given twice", args[0])
			}
			s.AppParams[args[0]] = key
		case "login_timeout", "session_lifetime":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(v)
			if err != nil {
				return d.Errf("%s: %v", sub, err)
			}
			if sub == "login_timeout" {
				s.LoginTimeout = caddy.Duration(dur)
			} else {
				s.SessionLifetime = caddy.Duration(dur)
			}
		case "max_pending_logins", "max_sessions":
			var v string
			if err := oneArg(d, &v); err != nil {
				return err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return d.Errf("%s: %q is not a positive number", sub, v)
			}
			if sub == "max_pending_logins" {
				s.MaxPendingLogins = n
			} else {
				s.MaxSessions = n
			}
		case "mock":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.Mock = true
		case "protect", "login_page", "identity_header", "allow_sub", "allow_field", "forward_cookie":
			if err := s.unmarshalGuard(d, sub); err != nil {
				return err
			}
		default:
			return d.Errf("unknown sgid subdirective %q", sub)
		}
	}
	return nil
}

// oneArg reads exactly one argument, failing on none or more.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
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

func (s *Handler) stringField(name string) *string {
	switch name {
	case "client_id":
		return &s.ClientID
	case "client_secret":
		return &s.ClientSecret
	case "private_key":
		return &s.PrivateKey
	case "host":
		return &s.Host
	case "redirect_uri":
		return &s.RedirectURI
	case "auth_url_path":
		return &s.AuthURLPath
	case "callback_path":
		return &s.CallbackPath
	case "userinfo_path":
		return &s.UserinfoPath
	case "logout_path":
		return &s.LogoutPath
	case "success_path":
		return &s.SuccessPath
	case "error_path":
		return &s.ErrorPath
	case "cookie_name":
		return &s.CookieName
	}
	panic("sgid: no string field " + name)
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)
