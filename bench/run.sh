#!/usr/bin/env bash
# The benchmark suite's entry point: builds the suite (bench/*.go) and runs
# it from the repository's root; the arguments go to it (-pairs, -rounds,
# -window, -out; see bench/main.go). It regenerates BENCHMARKS.md.
#
# Needs Go, wrk and redis-server (Debian packages wrk, redis-server),
# Node.js, and the npm packages of mockpass and the Express peer:
#   npm ci --prefix internal/tests/conformance/node
#   npm ci --prefix bench/peers/express
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
go build -o "$work/bench" ./bench
# On two cores or more the suite itself (and with it wrk, the login
# clients, mockpass and Redis) runs on core 1, and it pins Caddy and the
# Express peer to core 0. It cannot count the machine's cores once pinned,
# so it is told.
BENCH_NPROC="$(nproc)"
export BENCH_NPROC
if [ "$BENCH_NPROC" -ge 2 ]; then
	taskset -c 1 "$work/bench" "$@"
else
	"$work/bench" "$@"
fi
