package caddysgid

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/caddy-sgid/caddy-sgid/internal/cfgargs"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/store"
)

func init() {
	// Not RegisterHandlerDirective: that strips the directive's matcher
	// before the parser runs, and the parser needs it to refuse protect
	// patterns the matcher keeps the handler from seeing.
	httpcaddyfile.RegisterDirective("sgid", setupDirective)
	// Before rewrite, and so before try_files: an SPA's
	// `try_files {path} /index.html` must not turn /api/redirect into
	// /index.html before sgid sees it.
	httpcaddyfile.RegisterDirectiveOrder("sgid", httpcaddyfile.Before, "rewrite")
}

// setupDirective does what RegisterHandlerDirective would, and checks the
// directive's matcher against protect in between.
func setupDirective(helper httpcaddyfile.Helper) ([]httpcaddyfile.ConfigValue, error) {
	if !helper.Next() {
		return nil, helper.ArgErr()
	}
	matcherSet, err := helper.ExtractMatcherSet()
	if err != nil {
		return nil, err
	}
	h, err := parseCaddyfile(helper)
	if err != nil {
		return nil, err
	}
	if err := checkProtectReachable(matcherSet, h.(*Handler).Guard); err != nil {
		return nil, helper.Errf("%v", err)
	}
	return helper.NewRoute(matcherSet, h), nil
}

func parseCaddyfile(helper httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var h Handler
	err := h.UnmarshalCaddyfile(helper.Dispenser)
	return &h, err
}

// checkProtectReachable refuses protect patterns that the directive's own
// matcher would keep from the handler: a request the handler never sees
// is never guarded, so `sgid /app/* { protect /api/* }` would leave /api/*
// open without a word. With a path matcher, each protect pattern must lie
// inside one of its patterns (see pathWithin); any other matcher (a named
// one, host, method, header, ...) cannot be compared with paths, so protect
// is refused with it altogether. This fails closed: an operator who needs
// both can wrap sgid in a handle block, where the limit is visible.
func checkProtectReachable(matcherSet caddy.ModuleMap, g *Guard) error {
	if len(matcherSet) == 0 || g == nil || len(g.Protect) == 0 {
		return nil
	}
	const fix = "protect needs the sgid directive to see every request it protects: remove the matcher from sgid (or wrap sgid in a handle block)"
	raw, ok := matcherSet["path"]
	if len(matcherSet) != 1 || !ok {
		return fmt.Errorf("sgid: a matcher other than a plain path list cannot be checked against protect; %s", fix)
	}
	var scope []string
	if err := json.Unmarshal(raw, &scope); err != nil {
		return fmt.Errorf("sgid: reading the directive's path matcher: %w", err)
	}
	for _, p := range g.Protect {
		if !slices.ContainsFunc(scope, func(s string) bool { return pathview.Within(p, s) }) {
			return fmt.Errorf("sgid: protect %s is not inside the directive's matcher %s, so sgid never sees those requests and cannot guard them; %s",
				p, strings.Join(scope, " "), fix)
		}
	}
	return nil
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
//	    keep_fields      <field...>
//	    typed_data
//	    allow_officer    <pattern...>
//	    auth_url_path    <path>
//	    callback_path    <path>
//	    userinfo_path    <path>
//	    logout_path      <path>
//	    session_path     <path>
//	    profiles_path    <path>
//	    success_path     <path>
//	    error_path       <path>
//	    cookie_name      <name>
//	    cookie_secure    on|off
//	    login_timeout    <duration>
//	    session_lifetime <duration>
//	    session_idle_timeout <duration>
//	    store            memory|storage|redis [{ ... }]
//	    cache_ttl        <duration>
//	    sealing_key      <secret>
//	    key_rotation     <duration>
//	    provider_timeout <duration>
//	    mock
//	    protect          <path pattern...>
//	    login_page       <path>
//	    profile_page     <path>
//	    identity_header  <field> <Header-Name>
//	    allow_sub        <sub...>
//	    allow_field      <field> <value...>
//	    forward_cookie
//	    ambiguous_paths  refuse|protect
//	    trusted_origins  <origin...>
//	    fresh_login      <max_age> <path pattern...>
//	    identity_assertion <Header-Name> [{ audience <aud>; lifetime <duration>; fields <field...>; jwks_path <path> }]
//	}
//
// protect to fresh_login, but trusted_origins, configure the Guard;
// identity_assertion the signed identity assertion (see
// parseIdentityAssertion). scopes, app_param, protect,
// identity_header, allow_sub and allow_field may be repeated: repeated
// scopes, protect and allow_sub lines add up, each app_param and
// identity_header line adds one entry, and each allow_field line is a rule
// of its own. private_key may be given twice, for a key rollover: the
// current key and the next, in either order (the second line becomes
// private_keys). Every other subdirective may appear once, so that a
// second line cannot silently override the first.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		sub := d.Val()
		if seen[sub] && !repeatable[sub] && sub != "private_key" {
			return d.Errf("%s is given twice", sub)
		}
		seen[sub] = true
		var err error
		switch sub {
		case "client_id":
			err = cfgargs.One(d, &h.ClientID)
		case "client_secret":
			err = cfgargs.One(d, &h.ClientSecret)
		case "private_key":
			// The current key and, during a rollover, the next one.
			err = cfgargs.Upto(d, &h.PrivateKey, &h.PrivateKeys, 2)
		case "host":
			err = cfgargs.One(d, &h.Host)
		case "redirect_uri":
			err = cfgargs.One(d, &h.RedirectURI)
		case "scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			h.Scopes = append(h.Scopes, args...)
		case "app_param":
			err = h.unmarshalAppParam(d)
		case "keep_fields":
			err = cfgargs.Append(d, &h.KeepFields, "field")
		case "typed_data":
			err = cfgargs.None(d, &h.TypedData)
		case "allow_officer":
			err = cfgargs.Append(d, &h.AllowOfficer, "pattern")
		case "auth_url_path":
			err = cfgargs.One(d, &h.AuthURLPath)
		case "callback_path":
			err = cfgargs.One(d, &h.CallbackPath)
		case "userinfo_path":
			err = cfgargs.One(d, &h.UserinfoPath)
		case "logout_path":
			err = cfgargs.One(d, &h.LogoutPath)
		case "session_path":
			err = cfgargs.One(d, &h.SessionPath)
		case "profiles_path":
			err = cfgargs.One(d, &h.ProfilesPath)
		case "success_path":
			err = cfgargs.One(d, &h.SuccessPath)
		case "error_path":
			err = cfgargs.One(d, &h.ErrorPath)
		case "cookie_name":
			err = cfgargs.One(d, &h.CookieName)
		case "cookie_secure":
			err = cfgargs.OnOff(d, &h.CookieSecure)
		case "login_timeout":
			err = cfgargs.Duration(d, &h.LoginTimeout)
		case "session_lifetime":
			err = cfgargs.Duration(d, &h.SessionLifetime)
		case "session_idle_timeout":
			err = cfgargs.Duration(d, &h.SessionIdleTimeout)
		case "store":
			h.StoreRaw, err = store.UnmarshalStore(d)
		case "cache_ttl":
			var ttl caddy.Duration
			err = cfgargs.Duration(d, &ttl)
			h.CacheTTL = &ttl
		case "sealing_key":
			err = cfgargs.One(d, &h.SealingKey)
		case "provider_timeout":
			err = cfgargs.Duration(d, &h.ProviderTimeout)
		case "key_rotation":
			err = cfgargs.Duration(d, &h.KeyRotation)
		case "mock":
			err = cfgargs.None(d, &h.Mock)
		case "protect":
			err = cfgargs.Append(d, &h.guardConfig().Protect, "path pattern")
		case "login_page":
			err = cfgargs.One(d, &h.guardConfig().LoginPage)
		case "profile_page":
			err = cfgargs.One(d, &h.guardConfig().ProfilePage)
		case "identity_header":
			err = h.unmarshalIdentityHeader(d)
		case "allow_sub":
			err = cfgargs.Append(d, &h.guardConfig().AllowSubs, "subject")
		case "allow_field":
			args := d.RemainingArgs()
			if len(args) < 2 {
				return d.Errf("allow_field takes a field and at least one value, got %d arguments", len(args))
			}
			g := h.guardConfig()
			g.AllowFields = append(g.AllowFields, FieldRule{Field: args[0], Values: args[1:]})
		case "ambiguous_paths":
			err = cfgargs.One(d, &h.guardConfig().AmbiguousPaths)
		case "trusted_origins":
			err = cfgargs.Append(d, &h.TrustedOrigins, "origin")
		case "forward_cookie":
			err = cfgargs.None(d, &h.guardConfig().ForwardCookie)
		case "identity_assertion":
			h.IdentityAssertion, err = parseIdentityAssertion(d)
		case "fresh_login":
			h.guardConfig().FreshLogin, err = parseFreshLogin(d)
		default:
			return d.Errf("unknown sgid subdirective %q", sub)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// repeatable are the subdirectives that may be given more than once; every
// other one is refused the second time.
var repeatable = map[string]bool{
	"scopes": true, "app_param": true, "protect": true,
	"identity_header": true, "allow_sub": true, "allow_field": true,
	"trusted_origins": true, "keep_fields": true, "allow_officer": true,
}

// guardConfig returns the handler's Guard, creating it for the first guard
// subdirective, so that a block without any has no guard in its JSON.
func (h *Handler) guardConfig() *Guard {
	if h.Guard == nil {
		h.Guard = new(Guard)
	}
	return h.Guard
}

// unmarshalAppParam reads `app_param <query_param> [<data_key>]`.
func (h *Handler) unmarshalAppParam(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return d.Errf("app_param takes a query parameter and an optional data key, got %d arguments", len(args))
	}
	key := args[0]
	if len(args) == 2 {
		key = args[1]
	}
	if _, dup := h.AppParams[args[0]]; dup {
		return d.Errf("app_param %q is given twice", args[0])
	}
	if h.AppParams == nil {
		h.AppParams = make(map[string]string)
	}
	h.AppParams[args[0]] = key
	return nil
}

// unmarshalIdentityHeader reads `identity_header <field> <header_name>`;
// a header name may be given once, in any case.
func (h *Handler) unmarshalIdentityHeader(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("identity_header takes a field and a header name, got %d arguments", len(args))
	}
	field, name := args[0], args[1]
	g := h.guardConfig()
	for other := range g.IdentityHeaders {
		if http.CanonicalHeaderKey(other) == http.CanonicalHeaderKey(name) {
			return d.Errf("identity_header %s is given twice", name)
		}
	}
	if g.IdentityHeaders == nil {
		g.IdentityHeaders = make(map[string]string)
	}
	g.IdentityHeaders[name] = field
	return nil
}

// parseFreshLogin reads `fresh_login <max_age> <path pattern...>`.
func parseFreshLogin(d *caddyfile.Dispenser) (*FreshLogin, error) {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return nil, d.Errf("fresh_login takes a max age and at least one path pattern, got %d arguments", len(args))
	}
	age, err := caddy.ParseDuration(args[0])
	if err != nil {
		return nil, d.Errf("fresh_login: %v", err)
	}
	return &FreshLogin{MaxAge: caddy.Duration(age), Paths: args[1:]}, nil
}

// Interface guard.
var _ caddyfile.Unmarshaler = (*Handler)(nil)

// parseIdentityAssertion reads
//
//	identity_assertion <Header-Name> [{
//	    audience  <aud>
//	    lifetime  <duration>
//	    fields    <field...>
//	    jwks_path <path>
//	}]
//
// with d on the identity_assertion token. fields may be repeated, adding
// up; every other subdirective may be given once.
func parseIdentityAssertion(d *caddyfile.Dispenser) (*IdentityAssertion, error) {
	a := new(IdentityAssertion)
	args := d.RemainingArgs()
	if len(args) != 1 {
		return nil, d.Errf("identity_assertion takes one header name, got %d arguments", len(args))
	}
	a.Header = args[0]
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] && sub != "fields" {
			return nil, d.Errf("identity_assertion: %s is given twice", sub)
		}
		seen[sub] = true
		var err error
		switch sub {
		case "audience":
			err = cfgargs.One(d, &a.Audience)
		case "lifetime":
			err = cfgargs.Duration(d, &a.Lifetime)
		case "fields":
			err = cfgargs.Append(d, &a.Fields, "field")
		case "jwks_path":
			err = cfgargs.One(d, &a.JWKSPath)
		default:
			return nil, d.Errf("unknown identity_assertion subdirective %q", sub)
		}
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}
