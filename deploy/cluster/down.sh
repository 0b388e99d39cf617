#!/usr/bin/env bash
# Stops what up.sh started, by the PIDs in run/<name>.pid: every part, or
# only those named (down.sh caddy-2, down.sh redis). Each gets SIGTERM (Caddy
# finishes requests in flight, Redis writes its append-only file), then
# SIGKILL if it is still there after 15s. A PID file whose process is gone,
# or whose number now belongs to another program, is removed, and nothing
# is signalled. Logs and Redis's data stay in run/ for the next up.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
	# The load balancer first, so it stops sending requests before the
	# instances go; Redis last.
	for ((i = ${#parts[@]} - 1; i >= 0; i--)); do
		names+=("${parts[i]}")
	done
fi
for name in "${names[@]}"; do
	is_part "$name" || {
		echo "down.sh: no part named $name; the parts are: ${parts[*]}" >&2
		exit 2
	}
done

status=0
for name in "${names[@]}"; do
	if ! pid="$(live_pid "$name")"; then
		rm -f "$(pidfile_of "$name")"
		continue
	fi
	# up.sh started each part as the leader of its own process group:
	# signal the group, so whatever the part started goes too.
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 150); do
		live_pid "$name" >/dev/null || break
		sleep 0.1
	done
	if live_pid "$name" >/dev/null; then
		echo "down.sh: $name (pid $pid) ignored SIGTERM for 15s; sending SIGKILL" >&2
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		sleep 0.2
	fi
	if live_pid "$name" >/dev/null; then
		echo "down.sh: $name (pid $pid) is still running" >&2
		status=1
		continue
	fi
	rm -f "$(pidfile_of "$name")"
	echo "stopped $name (pid $pid)"
done
exit "$status"
