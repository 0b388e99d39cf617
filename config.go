package caddysgid

import (
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-sgid/caddy-sgid/internal/confcheck"
	"github.com/caddy-sgid/caddy-sgid/internal/sparoutes"
	"github.com/caddy-sgid/caddy-sgid/sgid"
)

// Defaults of the handler's fields.
const (
	DefaultAuthURLPath     = "/api/auth-url"
	DefaultCallbackPath    = "/api/redirect"
	DefaultUserinfoPath    = "/api/userinfo"
	DefaultLogoutPath      = "/api/logout"
	DefaultSessionPath     = "/api/session"
	DefaultProfilesPath    = "/api/profiles"
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
// the 4096 bytes browsers keep of a cookie. The number of app parameters
// is bounded by confcheck.MaxAppParams.
const (
	// maxAppValue bounds an app parameter's value.
	maxAppValue = 256
)

// clients holds the sgID clients across config reloads.
var clients = caddy.NewUsagePool()

type clientDestructor struct{ *sgid.Client }

func (clientDestructor) Destruct() error { return nil }

// pooledClient returns the sgID client of cfg, shared (with its JWKS cache)
// with the config this one replaces when nothing it was built from
// changed, and the pool key to release at cleanup.
func pooledClient(cfg sgid.Config, mock bool) (*sgid.Client, string, error) {
	key := "sgid-client-" + confcheck.HashJSON(cfg.ClientID, cfg.ClientSecret, cfg.PrivateKey, cfg.PrivateKeys, cfg.Host, cfg.RedirectURI, cfg.Scopes, mock)
	c, _, err := clients.LoadOrNew(key, func() (caddy.Destructor, error) {
		client, err := sgid.New(cfg)
		return clientDestructor{client}, err
	})
	if err != nil {
		return nil, "", confcheck.FieldError(err)
	}
	return c.(clientDestructor).Client, key, nil
}

// applyDefaults fills in the Default* values of the fields h leaves out.
func applyDefaults(h *Handler) {
	confcheck.SetDefault(&h.AuthURLPath, DefaultAuthURLPath)
	confcheck.SetDefault(&h.CallbackPath, DefaultCallbackPath)
	confcheck.SetDefault(&h.UserinfoPath, DefaultUserinfoPath)
	confcheck.SetDefault(&h.LogoutPath, DefaultLogoutPath)
	confcheck.SetDefault(&h.SessionPath, DefaultSessionPath)
	confcheck.SetDefault(&h.ProfilesPath, DefaultProfilesPath)
	confcheck.SetDefault(&h.SuccessPath, DefaultSuccessPath)
	confcheck.SetDefault(&h.ErrorPath, DefaultErrorPath)
	confcheck.SetDefault(&h.CookieName, DefaultCookieName)
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

// clientConfig is the sgID client's part of h's configuration, as it
// stands (provisioning resolves placeholders first; caddy sgid check reads
// it as written).
func (h *Handler) clientConfig() sgid.Config {
	return sgid.Config{
		ClientID:     h.ClientID,
		ClientSecret: h.ClientSecret,
		PrivateKey:   h.PrivateKey,
		PrivateKeys:  h.PrivateKeys,
		Host:         h.Host,
		RedirectURI:  h.RedirectURI,
		Scopes:       h.Scopes,
	}
}

// spaRoutes are the single-page app's routes of h (see spaConfig).
func (h *Handler) spaRoutes() *sparoutes.Routes {
	return sparoutes.New(spaConfig(sparoutes.Config{
		AuthURLPath:  h.AuthURLPath,
		LogoutPath:   h.LogoutPath,
		SessionPath:  h.SessionPath,
		ProfilesPath: h.ProfilesPath,
		Sessions:     h.sessions,
		SameOrigin:   h.origins.SameOrigin,
		KeepFields:   h.KeepFields,
	}, h.Scopes))
}
