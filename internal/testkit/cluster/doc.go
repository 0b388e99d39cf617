// Package cluster runs several real Caddy processes built from this
// checkout, so tests can prove what only separate processes show: a login
// started on one instance and finished on another, sessions that outlive a
// restart, a logout seen by every instance, a store that goes away. The
// suite that uses it is internal/tests/cluster; deploy/cluster uses it too.
//
// The harness builds ./cmd/caddy once per test binary (on first use; Main
// removes the binary afterwards), starts each instance on free loopback ports
// with its own admin address and its own HOME, XDG_DATA_HOME and
// XDG_CONFIG_HOME, writes its log to a file, and stops it (SIGTERM to its
// process group, then SIGKILL) in the test's cleanup, also when the test
// fails, printing the tail of the log then.
//
// sgID's built-in mock cannot serve a login that spans two processes: its
// provider lives inside one Caddy, so a code it issues can only be
// exchanged there. Tests therefore run the fake provider of sgid/sgidtest in
// the test process (NewProvider) and point every instance at it.
//
// A Browser keeps one cookie jar for all instances. Every instance is
// http://localhost:<port>, and cookies are not scoped by port, so the jar
// sends the same cookies to each of them, just as a browser behind a load
// balancer would. A login that spans instances goes through a Balancer, a
// reverse proxy in the test process that passes each request to the
// instance the test chose: every instance then sees the same Host, so the
// redirect URI it derives is the same, as in production.
package cluster
