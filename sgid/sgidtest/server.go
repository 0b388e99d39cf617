package sgidtest

import (
	"net/http"
	"net/http/httptest"
)

// Server runs a Provider on a loopback httptest server.
type Server struct {
	*Provider
	// URL is the server's origin, such as http://127.0.0.1:PORT, with no
	// trailing slash. The issuer is URL + "/v2".
	URL string

	ts *httptest.Server
}

// NewServer starts a plain-HTTP provider on a loopback port. Like httptest, it
// panics when setup fails, since there is nothing a test could do about it.
// Call Close when done.
func NewServer(opts Options) *Server { return newServer(opts, false) }

// NewTLSServer is NewServer over HTTPS with httptest's self-signed
// certificate; use Client, which trusts it, to talk to the server.
func NewTLSServer(opts Options) *Server { return newServer(opts, true) }

func newServer(opts Options, useTLS bool) *Server {
	// The issuer must be known before the provider exists, and the
	// provider must exist before the server starts serving. An unstarted
	// httptest server already holds its listener, so the address is known
	// here and the handler can be set before any request can arrive.
	ts := httptest.NewUnstartedServer(nil)
	scheme := "http://"
	if useTLS {
		scheme = "https://"
	}
	origin := scheme + ts.Listener.Addr().String()
	p, err := NewProvider(origin+"/v2", opts)
	if err != nil {
		ts.Close()
		panic(err)
	}
	ts.Config.Handler = p
	if useTLS {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	if ts.URL != origin {
		ts.Close()
		panic("sgidtest: httptest URL " + ts.URL + " differs from the expected origin " + origin)
	}
	return &Server{Provider: p, URL: ts.URL, ts: ts}
}

// Close shuts the server down and blocks until all requests have finished.
func (s *Server) Close() { s.ts.Close() }

// Client returns an HTTP client configured for the server (it trusts the TLS
// certificate of a NewTLSServer). It follows redirects like any default
// client; set CheckRedirect on a copy to inspect authorize redirects.
func (s *Server) Client() *http.Client { return s.ts.Client() }
