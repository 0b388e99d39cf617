// Package caddysgid is a Caddy v2 HTTP handler that logs users in with sgID
// (Singapore's government OpenID Connect provider) for a single-page app
// served by the same Caddy, so the SPA, its login routes and its APIs share
// one origin: no CORS, first-party cookies.
package caddysgid

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/confcheck"
	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/crossorigin"
	"github.com/caddy-sgid/caddy-sgid/internal/identity"
	"github.com/caddy-sgid/caddy-sgid/internal/metrics"
	"github.com/caddy-sgid/caddy-sgid/internal/officer"
	"github.com/caddy-sgid/caddy-sgid/internal/pathview"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
	"github.com/caddy-sgid/caddy-sgid/internal/upgrade"
	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/mock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves the sgID login routes of a single-page app (by default
// those of sgID's own SPA example) and passes every other request on. For
// every request from a logged-in user it sets these placeholders, as
// Caddy's authentication handler does:
//
//	{http.auth.user.id}       the user's sgID sub (the access log records it as user_id)
//	{http.auth.user.auth_time} when the user logged in, in Unix seconds
//	{http.auth.user.<field>}  each field of the user's data, e.g.
//	                          {http.auth.user.myinfo.name}, and each app
//	                          value, e.g. {http.auth.user.iceCream}
type Handler struct {
	// The client ID sgID issued at registration. Required (except with
	// mock). Takes placeholders such as {env.SGID_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`
	// The client secret sgID issued. Required (except with mock). Takes
	// placeholders such as {env.SGID_CLIENT_SECRET} or
	// {file./run/secrets/sgid-secret}.
	ClientSecret string `json:"client_secret,omitempty"`
	// The PEM text (PKCS#1 or PKCS#8) of the RSA key whose public half is
	// registered with sgID; userinfo is encrypted to it. Required (except
	// with mock). Takes placeholders, typically
	// {file./etc/caddy/sgid-key.pem}; literal `\n` escapes, as environment
	// variables hold them, are read as line breaks.
	PrivateKey string `json:"private_key,omitempty"`
	// Further RSA keys, like private_key, for a key rollover: userinfo
	// encrypted to any of the keys decrypts. Takes placeholders. In the
	// Caddyfile, a second private_key line. Default: none.
	PrivateKeys []string `json:"private_keys,omitempty"`
	// sgID's origin. Only https is accepted, except for a loopback host.
	// Takes placeholders. Default: https://api.id.gov.sg.
	Host string `json:"host,omitempty"`
	// The callback URL registered with sgID; its path must be
	// callback_path. Takes placeholders. Default: the request's scheme and
	// host followed by callback_path.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// The scopes asked of sgID; openid must be one of them. Default:
	// ["openid", "myinfo.name"].
	Scopes []string `json:"scopes,omitempty"`
	// The query parameters of the auth-url route that the app may pass,
	// each mapped to the key under which the userinfo route hands it back
	// in data, e.g. {"icecream": "iceCream"}. At most 4; a value is at
	// most 256 bytes of UTF-8 without control characters. The values
	// travel in the sealed login cookie, never in the state sent to sgID;
	// parameters not listed are ignored. A key may not contain a dot
	// (sgID's fields do) nor be "id", "sub" or "openid". Default: none.
	AppParams map[string]string `json:"app_params,omitempty"`
	// The sgID data fields kept from a login, e.g. ["myinfo.name"]; every
	// other field sgID returns is dropped before the session is stored,
	// so it is never stored, logged, answered by the userinfo route nor
	// forwarded. App values are always kept. Default: every field.
	KeepFields []string `json:"keep_fields,omitempty"`
	// Whether the userinfo route answers sgID's data typed: the fields
	// sgID sends as JSON text (such as myinfo.vehicles) as arrays and
	// objects, and "NA" as null, rather than every value a string. App
	// values, identity headers, placeholders and the assertion keep the
	// strings. Default: false.
	TypedData bool `json:"typed_data,omitempty"`
	// Patterns a public officer's job must match for the login to
	// succeed (docs/officers.md): a work email domain ("tech.gov.sg",
	// "*.gov.sg"), "agency:NAME" or "type:TYPE"; any match passes. Needs
	// the scope pocdex.public_officer_details. Default: none, so no job
	// is required.
	AllowOfficer []string `json:"allow_officer,omitempty"`

	// The route that answers GET with {"url": "<sgID authorization
	// URL>"} and starts a login. Default: /api/auth-url.
	AuthURLPath string `json:"auth_url_path,omitempty"`
	// The route sgID sends the browser back to: the path of the
	// registered redirect URI. Default: /api/redirect.
	CallbackPath string `json:"callback_path,omitempty"`
	// The route that answers GET with {"sub": ..., "data": {...}} for a
	// logged-in user, and 401 with a JSON null otherwise. Default:
	// /api/userinfo.
	UserinfoPath string `json:"userinfo_path,omitempty"`
	// The route that ends the session on GET or POST; POST with
	// ?everywhere=1 ends every session of the user. Default: /api/logout.
	LogoutPath string `json:"logout_path,omitempty"`
	// The route that answers GET with the session's state for a page,
	// {"active", "sub", "auth_time", "expires_at", "idle_expires_at",
	// "login_url", "logout_url"}, without counting as a use; POST to it
	// followed by /extend counts as one. The client module sgid.js and
	// the login window are served in the folder of auth_url_path.
	// Default: /api/session.
	SessionPath string `json:"session_path,omitempty"`
	// The officer profiles route, with the scope
	// pocdex.public_officer_details (docs/officers.md): GET answers
	// {"profiles": [{"id", "agency_name", ...}], "chosen": id or null};
	// POST to it followed by /<id> chooses the job to act as, again later
	// with no new login. Default: /api/profiles.
	ProfilesPath string `json:"profiles_path,omitempty"`
	// Where a login lands when auth-url got no return_to. Default:
	// /logged-in.
	SuccessPath string `json:"success_path,omitempty"`
	// Where a failed login lands, with ?reason=<code>. Default: /error.
	ErrorPath string `json:"error_path,omitempty"`

	// The name of the session cookie. Each login in progress has a cookie
	// of its own, named after this one followed by "_login_" and a hash
	// of its state. On HTTPS both carry the __Host- prefix. Default:
	// sgid_session.
	CookieName string `json:"cookie_name,omitempty"`
	// Whether the cookies are Secure (and so carry the __Host- prefix),
	// instead of deciding per request: true for a site that is HTTPS to
	// the browser whatever reaches Caddy (this also makes the derived
	// redirect URI https), false for plain names without Secure
	// (development only). Default: Secure when the request came over TLS,
	// or from one of the server's trusted_proxies with X-Forwarded-Proto
	// https, as Caddy decides for its own cookies.
	CookieSecure *bool `json:"cookie_secure,omitempty"`
	// How long a started login may take. At least 1m. Default: 10m.
	LoginTimeout caddy.Duration `json:"login_timeout,omitempty"`
	// How long a login lasts. At least 1m. Default: 12h.
	SessionLifetime caddy.Duration `json:"session_lifetime,omitempty"`
	// Ends a session that has not been used for this long, within its
	// lifetime (which it does not extend; the cookie's Max-Age stays the
	// lifetime). A use is recorded in the store at most once a minute per
	// session on each instance, so a session ends between this timeout and
	// a minute more after its last use. At least 1m and shorter than
	// session_lifetime. Default: off.
	SessionIdleTimeout caddy.Duration `json:"session_idle_timeout,omitempty"`

	// Where sessions live: a module of the sgid.stores namespace, named by
	// its "module" key. "storage" is Caddy's configured storage (the file
	// system unless another storage module is set): sessions survive
	// restarts and are shared by the instances that share the storage.
	// "redis" is shared, with native expiry. "memory" is this process
	// only, lost on restart. Logins in progress are never stored: they
	// travel sealed in the browser's cookies. Default: storage.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=sgid.stores inline_key=module"`
	// How long this instance may answer from its in-process copy of a
	// session kept in a shared store (storage, redis), and so the bound
	// within which a logout on another instance takes effect here; a
	// logout on this instance takes effect at once. 0 turns the copy off.
	// The memory store needs no copy. With every store, it is also how
	// long a decrypted session is kept for its user's next request, which
	// changes no bound. Default: 10s.
	CacheTTL *caddy.Duration `json:"cache_ttl,omitempty"`
	// A secret of at least 32 bytes from which every key of the sessions
	// is derived: the keys sealing login cookies and the key naming each
	// user's index of sessions. With it, the store holds nothing that
	// opens a login cookie or names a user; recommended for shared stores.
	// Takes placeholders such as {env.SGID_SEALING_KEY} or
	// {file./run/secrets/sgid-sealing-key}. Default: none; the keys are
	// then made at random by the first instance that needs them and kept
	// in the store, so instances sharing the store share them.
	SealingKey string `json:"sealing_key,omitempty"`
	// How often the key sealing login cookies changes. A login started
	// under the previous key still finishes for login_timeout after a
	// change. At least login_timeout. Default: 24h.
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
	// Bounds the back channel of one login: the token exchange, the JWKS
	// fetches it needs and userinfo, together. A sgID that does not
	// answer in time ends the login at error_path?reason=provider_error
	// (or userinfo_failed). At least 1s. Default: 10s.
	ProviderTimeout caddy.Duration `json:"provider_timeout,omitempty"`

	// Replaces sgID with a built-in mock provider for development: no
	// credentials, a same-origin login page (under /sgid-mock/) where one
	// picks a made-up persona, and the real protocol otherwise. It cannot
	// be combined with client_id, client_secret, private_key,
	// private_keys or host, and
	// it logs a warning at start-up. Never use it in production. Default:
	// false.
	Mock bool `json:"mock,omitempty"`

	// Protects the paths this handler passes on and tells them who the
	// user is. Default: nothing is protected, no identity headers are set,
	// and the session cookies are cut from the requests passed on.
	Guard *Guard `json:"guard,omitempty"`
	// Origins (scheme://host[:port]) other than the site's own whose pages
	// may write as the user: the unsafe methods (POST, PUT, PATCH, DELETE)
	// and WebSocket openings on protected paths, and logout. Every other
	// page's write is refused 403 {"error":"cross_origin"} on protected
	// paths and logout, and passed on without the user's identity
	// elsewhere; a page on a sibling subdomain is another origin. Requests
	// without a browser's Sec-Fetch-Site and Origin (curl, servers) pass.
	// Default: none.
	TrustedOrigins []string `json:"trusted_origins,omitempty"`
	// Signs, for each request passed on with a session, a short-lived JWT
	// telling the upstream who the user is, verifiable with the keys the
	// site publishes. Default: none.
	IdentityAssertion *IdentityAssertion `json:"identity_assertion,omitempty"`

	client *sgid.Client
	// gate is the compiled Guard, or an empty one when there is none.
	gate     *Guard
	identity *identity.Rules // what a session's requests carry upstream
	officers *officer.Rules  // allow_officer compiled; nil without it
	signer   *assertionSigner
	sessions *session.Manager
	spa      *sparoutes.Routes // the single-page app's session routes
	// nestingReported makes noteNesting report once per handler; a
	// pointer, since Handler values are copied.
	nestingReported *atomic.Bool
	upgrades        *upgrade.Tracker // upgraded connections, closed with their session
	cookies         cookie.Jar
	origins         *crossorigin.Policy
	metrics         *metrics.Metrics
	// releaseMetrics gives back the hold on the shared metrics, at Cleanup.
	releaseMetrics func()
	mock           *mock.Provider
	// st is the store's scope (cached when shared), ownStore the default
	// backend to clean up, scope the scope's name, site the Caddy server.
	st        store.Store
	ownStore  *store.Storage
	scope     string
	site      string
	clientKey string
	logger    *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sgid",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves placeholders, applies defaults, builds the sgID
// client and opens the session store. It makes no network calls: it also
// runs for caddy validate and caddy adapt.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.site = metrics.SiteFromContext(ctx)
	m, release, err := metrics.Acquire(ctx.GetMetricsRegistry(), live.RefreshHeld)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	h.metrics, h.releaseMetrics = m, release
	if err := h.resolveConfig(); err != nil {
		return err
	}
	if h.officers, err = officer.CompileFor(h.AllowOfficer, h.Scopes); err != nil {
		return err
	}
	h.cookies = cookie.NewJar(h.CookieName, h.CookieSecure)
	if h.origins, err = crossorigin.New(h.TrustedOrigins); err != nil {
		return err
	}
	h.nestingReported = new(atomic.Bool)
	h.gate = cmp.Or(h.Guard, new(Guard))
	if err := h.gate.setup(ctx, h.ErrorPath, h.AuthURLPath); err != nil {
		return err
	}
	h.gate.profilesURL = h.ProfilesPath
	if a := h.IdentityAssertion; a != nil {
		a.applyDefaults()
	}

	var httpClient *http.Client
	if h.Mock {
		if err := h.provisionMock(); err != nil {
			return err
		}
		httpClient = h.mockHTTPClient()
	}
	cfg := h.clientConfig()
	cfg.HTTPClient, cfg.Observe = httpClient, h.metrics.ObserveProvider
	if h.client, h.clientKey, err = pooledClient(cfg, h.Mock); err != nil {
		return err
	}

	if err := h.provisionSessions(ctx); err != nil {
		return err
	}
	h.spa = h.spaRoutes()
	register(h)
	return nil
}

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
		if err := confcheck.Resolve(repl, f.name, f.v, f.trim); err != nil {
			return err
		}
	}
	for i := range h.PrivateKeys {
		if err := confcheck.Resolve(repl, fmt.Sprintf("private_keys[%d]", i), &h.PrivateKeys[i], false); err != nil {
			return err
		}
	}
	applyDefaults(h)
	return nil
}

// Validate checks the configuration after Provision.
func (h *Handler) Validate() error {
	routes := map[string]string{
		"auth_url_path": h.AuthURLPath,
		"callback_path": h.CallbackPath,
		"userinfo_path": h.UserinfoPath,
		"logout_path":   h.LogoutPath,
	}
	if a := h.IdentityAssertion; a != nil {
		routes["identity_assertion jwks_path"] = a.JWKSPath
	}
	maps.Copy(routes, sparoutes.Paths(spaConfig(sparoutes.Config{AuthURLPath: h.AuthURLPath, SessionPath: h.SessionPath, ProfilesPath: h.ProfilesPath}, h.Scopes)))
	if err := confcheck.CheckRoutes(routes); err != nil {
		return err
	}
	for field, p := range map[string]string{"success_path": h.SuccessPath, "error_path": h.ErrorPath} {
		if !pathview.IsLocal(p) {
			return fmt.Errorf("%s: %q must be a path on this site, starting with a single /", field, p)
		}
	}
	if h.RedirectURI != "" {
		u, _ := url.Parse(h.RedirectURI)
		if u.Path != h.CallbackPath {
			return fmt.Errorf("redirect_uri: its path %q must be callback_path %q, or sgID's callback would not reach this handler", u.Path, h.CallbackPath)
		}
	}
	if err := confcheck.CheckCookieName(h.CookieName); err != nil {
		return err
	}
	if err := confcheck.CheckAppParams(h.AppParams, sparoutes.ReturnToParam, identity.ReservedKeys); err != nil {
		return err
	}
	if time.Duration(h.LoginTimeout) < time.Minute {
		return fmt.Errorf("login_timeout: %s is too short for a person to log in; use at least 1m", time.Duration(h.LoginTimeout))
	}
	if time.Duration(h.SessionLifetime) < time.Minute {
		return fmt.Errorf("session_lifetime: %s must be at least 1m", time.Duration(h.SessionLifetime))
	}
	if idle := time.Duration(h.SessionIdleTimeout); idle != 0 && (idle < time.Minute || idle >= time.Duration(h.SessionLifetime)) {
		return fmt.Errorf("session_idle_timeout: %s must be at least 1m and shorter than session_lifetime %s", idle, time.Duration(h.SessionLifetime))
	}
	if *h.CacheTTL < 0 {
		return fmt.Errorf("cache_ttl: %s must not be negative", time.Duration(*h.CacheTTL))
	}
	if time.Duration(h.ProviderTimeout) < time.Second {
		return fmt.Errorf("provider_timeout: %s is too short for sgID to answer; use at least 1s", time.Duration(h.ProviderTimeout))
	}
	if h.KeyRotation < h.LoginTimeout {
		return fmt.Errorf("key_rotation: %s is shorter than login_timeout %s; a login must be able to finish under the key it started with or the one after", time.Duration(h.KeyRotation), time.Duration(h.LoginTimeout))
	}
	if h.SealingKey != "" && len(h.SealingKey) < confcheck.MinSealingKey {
		return fmt.Errorf("sealing_key: %d bytes is too short; use at least %d random bytes", len(h.SealingKey), confcheck.MinSealingKey)
	}
	if a := h.IdentityAssertion; a != nil {
		if err := a.validate(h.gate.IdentityHeaders); err != nil {
			return err
		}
	}
	if err := checkKept(h); err != nil {
		return err
	}
	return h.gate.validate(slices.Collect(maps.Values(h.AppParams)))
}

// Cleanup releases this config's hold on the session store (the records
// stay: a newer config after a reload opens the same scope) and on the
// pooled sgID client and mock.
func (h *Handler) Cleanup() error {
	unregister(h)
	if h.releaseMetrics != nil {
		h.releaseMetrics()
	}
	if h.sessions != nil {
		h.sessions.Close()
	}
	h.upgrades.Close()
	if h.st != nil {
		_ = h.st.Close()
	}
	if h.ownStore != nil {
		_ = h.ownStore.Cleanup()
	}
	if h.mock != nil {
		if _, err := mockProviders.Delete("sgid-mock"); err != nil {
			return err
		}
	}
	if h.clientKey != "" {
		if _, err := clients.Delete(h.clientKey); err != nil {
			return err
		}
	}
	return nil
}

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
