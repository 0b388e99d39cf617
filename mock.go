package caddysgid

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/caddy-sgid/caddy-sgid/sgid/mock"
)

// Mock mode: like `tls internal` for TLS, one line in the sgid block gives a
// working login without registered credentials. The provider is package
// mock's, run inside Caddy: its login page is served same-origin under
// mockPrefix, and the handler's back-channel calls (token, userinfo, JWKS)
// reach it in-process through its Transport. Everything else is the real protocol
// path: authorize URL with PKCE and nonce, single-use code, RS256 ID-token
// checks, encrypted userinfo.
const (
	// mockPrefix is where the browser sees the mock provider.
	mockPrefix = "/sgid-mock"
	// mockHost is the mock's issuer origin. The .invalid TLD never resolves
	// (RFC 2606), so nothing can leave the process.
	mockHost = "https://mock.sgid.invalid"
	// mock credentials; the mock accepts only these.
	mockClientID     = "sgid-mock-client"
	mockClientSecret = "sgid-mock-secret"
)

// mockProviders keeps the mock's keys, codes and personas across config
// reloads, so a reload does not break logins in progress or the sessions
// the store keeps.
var mockProviders = caddy.NewUsagePool()

type pooledProvider struct{ *mock.Provider }

func (pooledProvider) Destruct() error { return nil }

// provisionMock sets up the built-in mock provider, or fails when mock is
// combined with settings that belong to real sgID.
func (h *Handler) provisionMock() error {
	for field, v := range map[string]string{
		"client_id": h.ClientID, "client_secret": h.ClientSecret, "private_key": h.PrivateKey, "host": h.Host,
		"private_keys": strings.Join(h.PrivateKeys, ""),
	} {
		if v != "" {
			return fmt.Errorf("mock: cannot be combined with %s; the mock is for development and needs no credentials (remove %s, or remove mock to use real sgID)", field, field)
		}
	}
	v, _, err := mockProviders.LoadOrNew("sgid-mock", func() (caddy.Destructor, error) {
		p, err := mock.NewProvider(mockHost+"/v2", mock.Options{
			ClientID:     mockClientID,
			ClientSecret: mockClientSecret,
			LoginPage:    true,
			// Only the callback serveMock names for each request: the
			// provider is shared by every handler with mock, so the
			// allowance cannot be part of its options.
			AllowRedirect: mockRedirectAllowed,
		})
		return pooledProvider{p}, err
	})
	if err != nil {
		return fmt.Errorf("mock: %w", err)
	}
	h.mock = v.(pooledProvider).Provider
	h.ClientID = mockClientID
	h.ClientSecret = mockClientSecret
	h.PrivateKey = h.mock.ClientPrivateKeyPEM()
	h.Host = mockHost
	h.logger.Warn("sgID MOCK is on: logins are fake and anyone can log in as any persona; never use `mock` in production",
		zap.String("login_page", mockPrefix+"/v2/oauth/authorize"))
	return nil
}

// mockHTTPClient sends the handler's back-channel requests straight to the
// in-process mock.
func (h *Handler) mockHTTPClient() *http.Client {
	return &http.Client{Transport: h.mock.Transport()}
}

// mockBrowserURL turns the mock's authorization URL into a same-origin
// relative URL the browser can open.
func mockBrowserURL(authURL string) string {
	return mockPrefix + strings.TrimPrefix(authURL, mockHost)
}

// mockRedirectKey is the context key under which serveMock tells the mock
// the one redirect URI a request may use.
type mockRedirectKey struct{}

// mockRedirectAllowed lets the mock send the browser only to the redirect
// URI that serveMock put in the request's context. A request that did not
// come through serveMock carries none and may redirect nowhere.
func mockRedirectAllowed(r *http.Request, uri string) bool {
	allowed, ok := r.Context().Value(mockRedirectKey{}).(string)
	return ok && uri == allowed
}

// serveMock serves the mock provider's pages under mockPrefix. The mock is
// served same-origin, so the only place it may send a browser back to is
// this handler's own callback: the configured redirect_uri, or the
// callback on the origin of this very request. Anything else would make
// the mock an open redirector that hands out codes and states.
func (h *Handler) serveMock(w http.ResponseWriter, r *http.Request) error {
	redirectURI, err := h.cookies.RedirectURI(r, h.RedirectURI, h.CallbackPath)
	if err != nil {
		return writeError(w, http.StatusBadRequest, "invalid_host", "The Host header is not a valid host name and port.")
	}
	ctx := context.WithValue(r.Context(), mockRedirectKey{}, redirectURI)
	http.StripPrefix(mockPrefix, h.mock).ServeHTTP(w, r.WithContext(ctx))
	return nil
}
