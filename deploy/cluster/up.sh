#!/usr/bin/env bash
# Starts the cluster on loopback: redis-server, mockpass as sgID, three
# Caddy instances sharing sessions in Redis, and a fourth Caddy balancing
# across them. Each part runs in the background with its PID in
# run/<name>.pid and its output in run/<name>.log. Prints the load
# balancer's URL and exits 0 once every part answers.
#
# It starts only the parts that are not running, so it also restarts one
# that was killed or stopped (`down.sh caddy-2; up.sh`). Caddy is built
# from this checkout (go build ./cmd/caddy) when no Caddy of the cluster
# is running; a part restarted next to running ones gets the same binary
# they run.
#
# Ports and the run folder come from environment variables: see
# common.sh and README.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

if [ "$#" -gt 0 ]; then
	echo "usage: up.sh (no arguments; settings come from CLUSTER_* environment variables)" >&2
	exit 2
fi

# The checkout this folder belongs to.
repo="$(cd "$here/../.." && pwd)"

die() {
	echo "up.sh: $*" >&2
	exit 1
}

# Prerequisites, named as the README's set-up installs them.
command -v go >/dev/null || die "go not found in PATH (Go 1.26 builds Caddy from this checkout)"
command -v redis-server >/dev/null || die "redis-server not found in PATH: apt-get install redis-server"
command -v node >/dev/null || die "node not found in PATH: install Node.js 20"
[ -f "$repo/internal/tests/conformance/node/node_modules/@opengovsg/mockpass/package.json" ] ||
	die "mockpass is not installed: npm ci --prefix internal/tests/conformance/node"
command -v setsid >/dev/null || die "setsid not found in PATH (Debian's util-linux)"

# mockpass, as the conformance suite pins and installs it.
nodedir="$repo/internal/tests/conformance/node"
mkdir -p "$run"

# The parts that need starting.
todo=()
for p in "${parts[@]}"; do
	if pid="$(live_pid "$p")"; then
		echo "$p is running (pid $pid)"
	else
		rm -f "$(pidfile_of "$p")"
		todo+=("$p")
	fi
done

# port_open PORT succeeds when something accepts connections on the
# loopback port.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port held by anything else would make a part fail to start, or (Caddy
# listens with SO_REUSEPORT) share its port with a stranger: refuse.
for p in "${todo[@]}"; do
	for n in "${port[$p]}" "${admin_port[$p]:-}"; do
		if [ -n "$n" ] && port_open "$n"; then
			die "port $n is in use (needed by $p); stop whatever holds it, or move $p with the CLUSTER_* variables in README.md"
		fi
	done
done

# On a failure, stop what this run started and show its log's end.
started=()
# launched maps each part this run started to its PID.
declare -A launched=()
finished=false
on_exit() {
	"$finished" && return
	local p pid
	for p in "${started[@]}"; do
		pid="${launched[$p]}"
		# By the PID this run started, not live_pid: a part that has not
		# exec'd its program yet is stopped too.
		if running "$pid"; then
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$(pidfile_of "$p")"
	done
	[ "${#started[@]}" -gt 0 ] && echo "up.sh: stopped what this run had started: ${started[*]}" >&2
}
trap on_exit EXIT

# launch NAME DIR CMD... runs CMD in DIR in a session of its own (so a
# terminal's Ctrl-C or hang-up does not reach it, and down.sh can signal
# its whole process group), output appended to run/NAME.log, and writes
# its PID file. The subshell execs setsid, which execs CMD: all keep the
# PID that $! names (setsid forks only for a group leader, which a
# background job of a script is not).
launch() {
	local name="$1" dir="$2"
	shift 2
	local log="$run/$name.log"
	echo "--- $(date -u +%Y-%m-%dT%H:%M:%SZ) up.sh starts $name" >>"$log"
	(cd "$dir" && exec setsid "$@" </dev/null >>"$log" 2>&1) &
	launched[$name]="$!"
	echo "$!" >"$(pidfile_of "$name")"
	started+=("$name")
}

# ask PORT REQUEST sends REQUEST (printf escapes allowed) to the loopback
# port and prints the answer's lines up to the first empty one or the end
# (bash's /dev/tcp: no curl or redis-cli needed).
ask() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1"
		printf '%b' "$2" >&3
		while IFS= read -r -t 5 line <&3; do
			line="${line%$'\r'}"
			[ -z "$line" ] && break
			printf '%s\n' "$line"
		done
	) 2>/dev/null
}

# http_head PORT PATH prints the status line and headers of a GET.
http_head() {
	ask "$1" "GET $2 HTTP/1.0\r\nHost: 127.0.0.1:$1\r\nConnection: close\r\n\r\n"
}

# answers NAME succeeds once the part serves what the cluster needs of it.
answers() {
	local p="${port[$1]}" head
	case "$1" in
	redis)
		# QUIT makes Redis close the connection after its answers.
		[[ "$(ask "$p" 'PING\r\nQUIT\r\n')" == +PONG* ]]
		;;
	mockpass)
		head="$(http_head "$p" /v2/.well-known/jwks.json)"
		[[ "$head" == "HTTP/1."?" 200"* ]]
		;;
	caddy-*)
		# This very instance: its name in the header, not another
		# process's that shares the port.
		head="$(http_head "$p" /healthz)"
		[[ "$head" == "HTTP/1."?" 200"* ]] && grep -qix "x-instance: $1" <<<"$head"
		;;
	lb)
		head="$(http_head "$p" /healthz)"
		[[ "$head" == "HTTP/1."?" 200"* ]] && grep -qi "^x-instance: caddy-" <<<"$head"
		;;
	esac
}

# wait_for NAME... waits until every named part answers; a part that
# exits or stays silent fails the run, with the end of its log. Whether a
# part still runs is asked of the PID this run started (running), never
# of its command line: right after the start that is still the shell's,
# which is no sign that the part exited.
wait_for() {
	local p deadline=$((SECONDS + CLUSTER_START_TIMEOUT))
	for p in "$@"; do
		until answers "$p"; do
			if ! running "${launched[$p]}"; then
				tail -n 20 "$run/$p.log" >&2 || true
				die "$p exited at start; its log: $run/$p.log"
			fi
			if [ "$SECONDS" -ge "$deadline" ]; then
				tail -n 20 "$run/$p.log" >&2 || true
				die "$p does not answer on port ${port[$p]} after ${CLUSTER_START_TIMEOUT}s; its log: $run/$p.log"
			fi
			sleep 0.1
		done
		echo "$p answers on 127.0.0.1:${port[$p]} (pid ${launched[$p]})"
	done
}

wants() {
	local p
	for p in "${todo[@]}"; do
		[ "$p" = "$1" ] && return 0
	done
	return 1
}

origin="http://localhost:$CLUSTER_LB_PORT"

if wants redis; then
	# Persistence on, as an operator runs it: the append-only file is
	# written every second and on shutdown, so a restart keeps sessions.
	mkdir -p "$run/redis"
	launch redis "$run/redis" redis-server \
		--bind 127.0.0.1 --port "$CLUSTER_REDIS_PORT" --protected-mode yes \
		--dir "$run/redis" --appendonly yes --appendfsync everysec --save "" \
		--daemonize no --logfile ""
fi

if wants mockpass; then
	# A clean environment: an inherited SHOW_LOGIN_PAGE or MOCKPASS_*
	# would change what mockpass does. Without a login page it logs
	# everyone in as MOCKPASS_NRIC at once, which makes a login scriptable;
	# that persona has Myinfo data (mockpass crashes on one without).
	launch mockpass "$nodedir" env -i PATH="$PATH" HOME="$run" \
		MOCKPASS_PORT="$CLUSTER_MOCKPASS_PORT" MOCKPASS_NRIC="${CLUSTER_MOCKPASS_NRIC:-S9812379B}" \
		NODE_ENV=production node mockpass.cjs
fi

backing=()
for p in redis mockpass; do
	wants "$p" && backing+=("$p")
done
wait_for "${backing[@]}"

caddys=()
for p in caddy-1 caddy-2 caddy-3 lb; do
	wants "$p" && caddys+=("$p")
done

if [ "${#caddys[@]}" -gt 0 ]; then
	running_caddy=false
	for p in caddy-1 caddy-2 caddy-3 lb; do
		wants "$p" || running_caddy=true
	done
	if "$running_caddy" && [ -x "$run/caddy" ]; then
		echo "reusing $run/caddy, which the running instances run"
	else
		echo "building Caddy from this checkout (go build ./cmd/caddy) ..."
		(cd "$repo" && go build -o "$run/caddy" ./cmd/caddy)
	fi
fi

# start_caddy NAME CADDYFILE writes the part's env file and runs Caddy
# with it, in a folder of its own for Caddy's data and config (never the
# user's ~/.local/share/caddy).
start_caddy() {
	local name="$1" caddyfile="$2" dir="$run/$1"
	mkdir -p "$dir/data" "$dir/config"
	if [ "$name" = lb ]; then
		cat >"$run/$name.env" <<-EOF
			CLUSTER_LB_PORT=$CLUSTER_LB_PORT
			CLUSTER_LB_ADMIN_PORT=$CLUSTER_LB_ADMIN_PORT
			CLUSTER_CADDY1_PORT=$CLUSTER_CADDY1_PORT
			CLUSTER_CADDY2_PORT=$CLUSTER_CADDY2_PORT
			CLUSTER_CADDY3_PORT=$CLUSTER_CADDY3_PORT
			CLUSTER_LB_TRY_DURATION=$CLUSTER_LB_TRY_DURATION
			CLUSTER_LB_LOG_LEVEL=$CLUSTER_LB_LOG_LEVEL
		EOF
	else
		cat >"$run/$name.env" <<-EOF
			CLUSTER_INSTANCE=$name
			CLUSTER_PORT=${port[$name]}
			CLUSTER_ADMIN_PORT=${admin_port[$name]}
			CLUSTER_ORIGIN=$origin
			CLUSTER_REDIS_ADDR=127.0.0.1:$CLUSTER_REDIS_PORT
			CLUSTER_SGID_HOST=http://127.0.0.1:$CLUSTER_MOCKPASS_PORT
			CLUSTER_SGID_KEY_FILE=$nodedir/node_modules/@opengovsg/mockpass/static/certs/key.pem
			CLUSTER_SPA_ROOT=$repo/example
		EOF
	fi
	launch "$name" "$dir" env -i PATH="$PATH" HOME="$dir" \
		XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" \
		"$run/caddy" run --adapter caddyfile --config "$here/$caddyfile" --envfile "$run/$name.env"
}

instances=()
for p in caddy-1 caddy-2 caddy-3; do
	if wants "$p"; then
		start_caddy "$p" Caddyfile.instance
		instances+=("$p")
	fi
done
wait_for "${instances[@]}"
if wants lb; then
	start_caddy lb Caddyfile.lb
	wait_for lb
fi

finished=true
echo "cluster up; logs and PIDs in $run; stop it with $here/down.sh"
echo "$origin"
