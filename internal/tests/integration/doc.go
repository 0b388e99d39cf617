// Package integration holds the tests that start the plugin in an
// in-process Caddy on fixed loopback ports (admin 2999, sites on 9080, and
// Caddyfile.example's 5001 and 5002) and drive it over HTTP, as a browser,
// an API client or a scraper would. They see the plugin only through its
// exported names and its HTTP behaviour, so the root package's unit tests
// start no Caddy and can run in parallel.
//
// The package has no code of its own besides this file: everything is in
// its tests.
package integration
