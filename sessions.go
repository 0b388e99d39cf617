package caddysgid

import (
	"context"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/internal/confcheck"
	"github.com/caddy-sgid/caddy-sgid/internal/cookie"
	"github.com/caddy-sgid/caddy-sgid/internal/metrics"
	"github.com/caddy-sgid/caddy-sgid/internal/session"
	"github.com/caddy-sgid/caddy-sgid/internal/upgrade"
	"github.com/caddy-sgid/caddy-sgid/store"
)

// provisionSessions loads the configured session store (Caddy's storage
// when none is configured), opens this site's scope in it, and builds the
// session manager on it.
func (h *Handler) provisionSessions(ctx caddy.Context) error {
	var backend store.Backend
	if h.StoreRaw != nil {
		mod, err := ctx.LoadModule(h, "StoreRaw")
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		backend = mod.(store.Backend)
	} else {
		def := new(store.Storage)
		if err := def.Provision(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		h.ownStore, backend = def, def
	}
	h.scope = sessionScope(h.client.Issuer(), h.ClientID, h.CookieName)
	raw, err := backend.Open(h.scope)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	// A shared store is read through a short-lived in-process cache, so a
	// logged-in request costs no round trip; the memory store is local
	// already.
	h.st = raw
	if _, local := backend.(*store.Memory); !local {
		h.st = store.Cached(raw, time.Duration(*h.CacheTTL), 0)
	}
	countEvictions(raw, h.metrics, h.site)
	h.upgrades = upgrade.New(time.Duration(*h.CacheTTL), h.sessionAlive, h.logger)
	if h.identity, err = identityRules(h); err != nil {
		return err
	}
	h.sessions = session.New(sessionOptions(h, h.st, raw))
	h.signer, err = newAssertionSigner(h.IdentityAssertion, h.st, h.SealingKey, time.Duration(h.KeyRotation), cookie.NewJar(h.CookieName, h.CookieSecure), h.logger)
	return err
}

// sessionAlive tells the upgrade tracker whether a session still lives.
// The tracker is made before the session manager, whose hooks close its
// connections, so it asks through h rather than holding the manager.
func (h *Handler) sessionAlive(ctx context.Context, id string) (bool, error) {
	return h.sessions.Alive(ctx, id)
}

// sessionOptions are the options of the session manager of h, on st, a
// store scope behind its cache, and raw, the same scope without it.
func sessionOptions(h *Handler, st, raw store.Store) session.Options {
	var secret []byte
	if h.SealingKey != "" {
		secret = []byte(h.SealingKey)
	}
	rules := h.identity
	return session.Options{
		Store:        st,
		Raw:          raw,
		Secret:       secret,
		LoginTimeout: time.Duration(h.LoginTimeout),
		KeyRotation:  time.Duration(h.KeyRotation),
		IdleTimeout:  time.Duration(h.SessionIdleTimeout),
		MemoTTL:      time.Duration(*h.CacheTTL),
		Prepare:      func(s session.Session) any { return rules.View(s) },
		Hooks:        sessionHooks(h.metrics, h.logger, h.upgrades),
		Cookies:      h.cookies,
		Lifetime:     time.Duration(h.SessionLifetime),
		Scope:        h.scope,
	}
}

// countEvictions counts, under site, the sessions a store that drops them
// to stay within a bound (memory) says it dropped.
func countEvictions(st store.Store, m *metrics.Metrics, site string) {
	if mem, ok := st.(interface{ OnEvict(func()) }); ok {
		mem.OnEvict(func() { m.Evicted(site) })
	}
}

// sessionScope names a site's records in the store: sessions are valid for
// the same sgID client at the same provider under the same cookie,
// whichever instance or config made them, and for nothing else.
func sessionScope(issuer, clientID, cookieName string) string {
	return confcheck.HashJSON(issuer, clientID, cookieName)
}

// sessionHooks count and log what the session manager reports, under the
// site of the request that caused it, and close the upgraded connections
// of the sessions it ends.
func sessionHooks(m *metrics.Metrics, logger *zap.Logger, up *upgrade.Tracker) session.Hooks {
	return session.Hooks{
		// A failing store is logged at WARN with its cause (never a key
		// or value) and counted.
		StoreFailed: func(ctx context.Context, op string, err error) {
			m.StoreError(metrics.SiteFromContext(ctx), op)
			if ce := logger.Check(zap.WarnLevel, "sgid session store failed"); ce != nil {
				ce.Write(zap.String("operation", op), zap.Error(err), zap.String("request_id", requestIDFromContext(ctx)))
			}
		},
		IdleExpired: func(ctx context.Context) { m.IdleExpired(metrics.SiteFromContext(ctx)) },
		Ended:       up.Ended,
	}
}
