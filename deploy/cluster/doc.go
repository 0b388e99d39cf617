// Package cluster holds the tests of the cluster in this folder: up.sh
// starts redis-server, mockpass as sgID, three Caddy instances built from
// this checkout and a Caddy load balancer in front of them; down.sh stops
// them. The tests run both scripts exactly as an operator would, on free
// loopback ports given through the scripts' CLUSTER_* variables and in a
// run folder of their own, with down.sh in the test's cleanup (also when
// it fails).
//
// TestCluster proves, through the load balancer:
//
//   - a scripted login (auth-url, mockpass's authorize, callback) and then
//     userinfo and a guarded API answered by every instance, all with the
//     same sub;
//   - an instance killed with SIGKILL under load costs no error after
//     lb_try_duration, a new login works, and the instance restarted by
//     up.sh rejoins and serves the existing session;
//   - Redis stopped and started again (with its append-only file, as
//     up.sh runs it): answers are 503 JSON, never 401, while it is down,
//     and the session is back afterwards;
//   - a logout ends the session on every instance within cache_ttl;
//   - no log but mockpass's holds the first login's code, state or
//     session id, although the balancer logs every request at DEBUG.
//
// It logs how long after the SIGKILL the load balancer last sent the dead
// instance a request, read from the balancer's debug log.
// BenchmarkUserinfoThroughLB measures userinfo through the load balancer
// with three instances and with one.
//
// The tests need bash, redis-server, Node.js with the conformance suite's
// npm packages (npm ci --prefix internal/tests/conformance/node) and the go
// command; without one they skip, or fail when the CI environment
// variable is set.
package cluster
