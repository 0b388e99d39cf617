// Package cluster is the fault and load suite: several real Caddy
// processes, started by the harness internal/testkit/cluster, sharing a
// fake sgID and a session store, each part bounded in time: the scenarios
// of a login that spans instances, restarts and revocation (stores_test.go,
// baseline_test.go, revoke_test.go), a user's own sessions listed and ended
// across instances (own_sessions_test.go), nothing readable at rest
// (atrest_test.go), the config reloaded under load (reload_test.go), sgID
// down, slow, failing or rotating its signing key during concurrent logins,
// with Provider.Down and Up for an outage (faults_test.go), and floods of
// auth-url calls and of bad cookies (flood_test.go; SGID_FLOOD_CALLS sets
// the auth-url flood's size).
//
// The scenarios run for each session store (memory, storage, default,
// redis); the redis ones start Debian's redis-server through
// internal/testkit/testredis, which skips without it, or fails when CI is
// set.
package cluster
