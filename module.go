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
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/sgid"
	"github.com/caddy-sgid/caddy-sgid/sgid/mock"
	"github.com/caddy-sgid/caddy-sgid/store"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the Handler's fields.
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

// Handler serves the sgID login routes of a single-page app (by default the
// paths of sgID's own SPA example: /api/auth-url, /api/redirect,
// /api/userinfo, /api/logout) and passes every other request to the next
// handler.
//
// For every request from a logged-in user, on its own routes and on those it
// passes on, it sets these placeholders, as Caddy's authentication handler
// does:
//
//	{http.auth.user.id}       the user's sgID sub (the access log records it as user_id)
//	{http.auth.user.auth_time} when the user logged in, in Unix seconds
//	{http.auth.user.<field>}  each field of the user's data, e.g.
//	                          {http.auth.user.myinfo.name}, and each app
//	                          value, e.g. {http.auth.user.iceCream}
type Handler struct {
	// ClientID is the client ID sgID issued at registration. Required;
	// takes placeholders such as {env.SGID_CLIENT_ID}.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the client secret sgID issued. Required; takes
	// placeholders such as {env.SGID_CLIENT_SECRET} or
	// {file./run/secrets/sgid-secret}.
	ClientSecret string `json:"client_secret,omitempty"`
	// PrivateKey is the PEM text (PKCS#1 or PKCS#8) of the RSA key whose
	// public half was registered with sgID. Required; takes placeholders,
	// typically {file./etc/caddy/sgid-key.pem}. Literal `\n` escapes from
	// environment variables are accepted.
	PrivateKey string `json:"private_key,omitempty"`
	// Host is sgID's origin. Default https://api.id.gov.sg. Takes
	// placeholders.
	Host string `json:"host,omitempty"`
	// RedirectURI is the callback URL registered with sgID. Default: the
	// request's scheme and host plus CallbackPath. Takes placeholders.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// Scopes requested from sgID. Default ["openid", "myinfo.name"]; must
	// include openid.
	Scopes []string `json:"scopes,omitempty"`
	// AppParams maps query parameters of auth-url that the SPA may pass to
	// the key under which userinfo hands them back in `data`, e.g.
	// {"icecream": "iceCream"}. Values (at most 256 bytes each, no control
	// characters) travel in the sealed login cookie, never in the state
	// sent to sgID. At most 4 parameters. Parameters not listed are
	// ignored.
	AppParams map[string]string `json:"app_params,omitempty"`

	// AuthURLPath answers GET with {"url": "<sgID authorization URL>"}.
	// Default /api/auth-url.
	AuthURLPath string `json:"auth_url_path,omitempty"`
	// CallbackPath is where sgID sends the browser back (the path of the
	// registered redirect URI). Default /api/redirect.
	CallbackPath string `json:"callback_path,omitempty"`
	// UserinfoPath answers GET with {"sub": ..., "data": {...}} for a
	// logged-in user, 401 otherwise. Default /api/userinfo.
	UserinfoPath string `json:"userinfo_path,omitempty"`
	// LogoutPath ends the session on GET or POST; POST with
	// ?everywhere=1 ends every session of the user. Default /api/logout.
	LogoutPath string `json:"logout_path,omitempty"`
	// SuccessPath is where the callback sends the browser after a login
	// when auth-url got no return_to. Default /logged-in.
	SuccessPath string `json:"success_path,omitempty"`
	// ErrorPath is where the callback sends the browser when a login
	// fails, with ?reason=<code>. Default /error.
	ErrorPath string `json:"error_path,omitempty"`

	// CookieName names the session cookie; each login in progress has a
	// cookie of its own named CookieName + "_login_" + a hash of its
	// state. Default sgid_session.
	CookieName string `json:"cookie_name,omitempty"`
	// CookieSecure, when set, decides the cookies' Secure attribute (and
	// with it their __Host- prefix) instead of the request: true for a site
	// that is HTTPS to the browser whatever reaches Caddy, false to keep
	// plain names and no Secure (development only). It also makes the
	// derived redirect URI https when true. Default: Secure when the
	// request came over TLS, or from one of the server's trusted_proxies
	// with X-Forwarded-Proto https, as Caddy decides for its own cookies.
	CookieSecure *bool `json:"cookie_secure,omitempty"`
	// LoginTimeout is how long a started login may take. Default 10m.
	LoginTimeout caddy.Duration `json:"login_timeout,omitempty"`
	// SessionLifetime is how long a login lasts. Default 12h.
	SessionLifetime caddy.Duration `json:"session_lifetime,omitempty"`
	// SessionIdleTimeout ends a session that has not been used for this
	// long, within its lifetime (which it does not extend; the cookie's
	// Max-Age stays the lifetime). A use is recorded in the store at most
	// once a minute per session on each instance, so a session ends
	// between this timeout and a minute more after its last use. At least
	// 1m and shorter than session_lifetime. Default: off.
	SessionIdleTimeout caddy.Duration `json:"session_idle_timeout,omitempty"`

	// StoreRaw is where sessions live, a module of the namespace
	// sgid.stores named by its "module" key: "storage"
	// (Caddy's configured storage: the file system unless the operator set
	// another storage module; sessions survive restarts and are shared by
	// the instances that share the storage), "redis" (shared, with native
	// expiry) or "memory" (this process only; lost on restart). Default
	// storage. Pending logins are never stored: they travel sealed in
	// the browser's cookies.
	StoreRaw json.RawMessage `json:"store,omitempty" caddy:"namespace=sgid.stores inline_key=module"`
	// CacheTTL is how long this instance may answer from its in-process
	// copy of a session kept in a shared store (storage, redis), and so
	// the bound within which a logout on another instance takes effect
	// here; a logout on this instance takes effect at once. Default 10s;
	// 0 turns the cache off. The memory store needs no cache. With every
	// store it is also how long a decrypted session is kept for its
	// user's next request, which changes no bound (see docs/sessions.md).
	CacheTTL *caddy.Duration `json:"cache_ttl,omitempty"`
	// SealingKey is the secret that the keys sealing pending-login
	// cookies are derived from, at least 32 bytes. Default: none; each
	// key is then generated at random by the first instance that needs it
	// and kept in the store, so every instance sharing the store shares it
	// with no configuration. Takes placeholders such as
	// {env.SGID_SEALING_KEY} or {file./run/secrets/sgid-sealing-key}.
	SealingKey string `json:"sealing_key,omitempty"`
	// KeyRotation is how often the sealing key changes. A login started
	// under the previous key still finishes for login_timeout after a
	// rotation. Default 24h; at least login_timeout.
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
	// ProviderTimeout bounds the back channel of one login: the token
	// exchange, the JWKS fetches it needs and userinfo, together. A sgID
	// that does not answer in time ends the login at
	// error_path?reason=provider_error (or userinfo_failed). Default 10s;
	// at least 1s.
	ProviderTimeout caddy.Duration `json:"provider_timeout,omitempty"`

	// Mock replaces sgID with a built-in mock provider for development:
	// no credentials, a same-origin login page (under /sgid-mock/) where you
	// pick a made-up persona, and the real protocol otherwise. It cannot be
	// combined with client_id, client_secret, private_key or host, and it
	// logs a warning at start-up. Never use it in production.
	Mock bool `json:"mock,omitempty"`

	// Guard protects the paths this handler passes on, sets identity
	// headers for them and deletes client-sent copies of those headers;
	// see Guard. Default: nothing protected, no identity headers, and the
	// session cookies cut from the requests passed on.
	Guard *Guard `json:"guard,omitempty"`

	client   *sgid.Client
	guard    *Guard // Guard, or an empty one when there is none
	sessions *session.Manager
	// upgrades holds the upgraded connections passed on, to close them
	// when their session ends.
	upgrades *upgrades
	cookies  cookieJar
	metrics  *metrics
	mock     *mock.Provider
	// st is the session store's scope, behind a cache for a shared store;
	// ownStore is the default backend, which the handler cleans up itself.
	st       store.Store
	ownStore *store.Storage
	// scope names this site's records in the store (see sessionScope).
	scope string
	// site is the name of the Caddy server this handler serves.
	site      string
	clientKey string
	logger    *zap.Logger
	// nestingReported makes noteNesting report once per handler; an
	// atomic, not a sync.Once, since Handler values are copied.
	nestingReported *atomic.Bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sgid",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves placeholders, applies defaults, builds the sgID
// client and opens the session store. It makes no network calls, since it
// also runs for caddy validate and caddy adapt.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	h.site = siteFromContext(ctx)
	h.nestingReported = new(atomic.Bool)
	m, err := newMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("metrics: %v", err)
	}
	h.metrics = m
	if err := h.resolveConfig(); err != nil {
		return err
	}
	h.cookies = cookieJar{name: h.CookieName, secure: h.CookieSecure}
	h.guard = cmp.Or(h.Guard, new(Guard))
	if err := h.guard.setup(ctx, h.ErrorPath, h.CookieName, h.metrics, h.logger); err != nil {
		return err
	}

	var httpClient *http.Client
	if h.Mock {
		if err := h.provisionMock(); err != nil {
			return err
		}
		httpClient = h.mockHTTPClient()
	}
	cfg := sgid.Config{
		ClientID:     h.ClientID,
		ClientSecret: h.ClientSecret,
		PrivateKey:   h.PrivateKey,
		Host:         h.Host,
		RedirectURI:  h.RedirectURI,
		Scopes:       h.Scopes,
		HTTPClient:   httpClient,
		Observe:      observeProvider,
	}
	// The client (with its JWKS cache) is shared with the config this one
	// replaces when nothing it was built from changed.
	h.clientKey = "sgid-client-" + hashJSON(cfg.ClientID, cfg.ClientSecret, cfg.PrivateKey, cfg.Host, cfg.RedirectURI, cfg.Scopes, h.Mock)
	c, _, err := clients.LoadOrNew(h.clientKey, func() (caddy.Destructor, error) {
		client, err := sgid.New(cfg)
		return pooledClient{client}, err
	})
	if err != nil {
		h.clientKey = ""
		return fieldError(err)
	}
	h.client = c.(pooledClient).Client

	if err := h.provisionSessions(ctx); err != nil {
		return err
	}
	register(h)
	return nil
}

// cookieNameRE is the token syntax of RFC 6265 cookie names, minus the
// characters that need quoting anywhere.
var cookieNameRE = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+\-.^_|~]+$`)

// Validate checks the configuration after Provision.
func (h *Handler) Validate() error {
	paths := map[string]string{
		"auth_url_path": h.AuthURLPath,
		"callback_path": h.CallbackPath,
		"userinfo_path": h.UserinfoPath,
		"logout_path":   h.LogoutPath,
	}
	seen := map[string]string{}
	for field, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%s: %q must start with /", field, p)
		}
		if other, dup := seen[p]; dup {
			return fmt.Errorf("%s: %q is also %s", field, p, other)
		}
		seen[p] = field
	}
	for field, p := range map[string]string{"success_path": h.SuccessPath, "error_path": h.ErrorPath} {
		if !isLocalPath(p) {
			return fmt.Errorf("%s: %q must be a path on this site, starting with a single /", field, p)
		}
	}
	if h.RedirectURI != "" {
		u, _ := url.Parse(h.RedirectURI)
		if u.Path != h.CallbackPath {
			return fmt.Errorf("redirect_uri: its path %q must be callback_path %q, or sgID's callback would not reach this handler", u.Path, h.CallbackPath)
		}
	}
	if !cookieNameRE.MatchString(h.CookieName) {
		return fmt.Errorf("cookie_name: %q is not a valid cookie name", h.CookieName)
	}
	// The handler adds __Host- itself on HTTPS; a name that already has a
	// prefix would be refused by browsers on plain HTTP, or get two.
	if lower := strings.ToLower(h.CookieName); strings.HasPrefix(lower, "__host-") || strings.HasPrefix(lower, "__secure-") {
		return fmt.Errorf("cookie_name: %q has a cookie prefix; give the bare name, the handler adds __Host- on HTTPS", h.CookieName)
	}
	for param, key := range h.AppParams {
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
	if h.SealingKey != "" && len(h.SealingKey) < minSealingKey {
		return fmt.Errorf("sealing_key: %d bytes is too short; use at least %d random bytes", len(h.SealingKey), minSealingKey)
	}
	if len(h.AppParams) > maxAppParams {
		return fmt.Errorf("app_params: %d parameters; at most %d fit in the login cookie", len(h.AppParams), maxAppParams)
	}
	return h.guard.validate(slices.Collect(maps.Values(h.AppParams)))
}

// Cleanup releases this config's hold on the session store (the records
// stay: a newer config after a reload opens the same scope) and on the
// pooled sgID client and mock.
func (h *Handler) Cleanup() error {
	unregister(h)
	h.upgrades.cleanup()
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

// clients holds the sgID clients across config reloads.
var clients = caddy.NewUsagePool()

type pooledClient struct{ *sgid.Client }

func (pooledClient) Destruct() error { return nil }

// Interface guards.
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
