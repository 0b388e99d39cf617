# shellcheck shell=bash disable=SC2034
# Shared by up.sh and down.sh (sourced, not run): where things are, which
# ports they use, and how a part's PID file is checked. (SC2034: the
# variables set here are used by the scripts that source this file.)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Every port can be moved with an environment variable; the defaults are
# the layout README.md draws.
: "${CLUSTER_LB_PORT:=7500}"
: "${CLUSTER_LB_ADMIN_PORT:=7510}"
: "${CLUSTER_CADDY1_PORT:=7501}"
: "${CLUSTER_CADDY2_PORT:=7502}"
: "${CLUSTER_CADDY3_PORT:=7503}"
: "${CLUSTER_CADDY1_ADMIN_PORT:=7511}"
: "${CLUSTER_CADDY2_ADMIN_PORT:=7512}"
: "${CLUSTER_CADDY3_ADMIN_PORT:=7513}"
: "${CLUSTER_REDIS_PORT:=7579}"
: "${CLUSTER_MOCKPASS_PORT:=7556}"
# PID files, logs and each part's data. The tests point this at a folder
# of their own, so they never meet a cluster a developer left running.
: "${CLUSTER_RUN_DIR:=$here/run}"
# The LB's own knobs: how long it keeps trying other instances for one
# request, and its log level (DEBUG names the instance each request went
# to, which the tests read to time a failover).
: "${CLUSTER_LB_TRY_DURATION:=5s}"
: "${CLUSTER_LB_LOG_LEVEL:=INFO}"
# How long up.sh waits for one part to answer.
: "${CLUSTER_START_TIMEOUT:=60}"

run="$CLUSTER_RUN_DIR"

# The parts, in the order up.sh starts them (down.sh stops them in reverse).
parts=(redis mockpass caddy-1 caddy-2 caddy-3 lb)

# Each part's port (the one up.sh probes) and, for the Caddys, the admin
# port.
declare -A port=(
	[redis]="$CLUSTER_REDIS_PORT" [mockpass]="$CLUSTER_MOCKPASS_PORT"
	[caddy-1]="$CLUSTER_CADDY1_PORT" [caddy-2]="$CLUSTER_CADDY2_PORT" [caddy-3]="$CLUSTER_CADDY3_PORT"
	[lb]="$CLUSTER_LB_PORT"
)
declare -A admin_port=(
	[caddy-1]="$CLUSTER_CADDY1_ADMIN_PORT" [caddy-2]="$CLUSTER_CADDY2_ADMIN_PORT" [caddy-3]="$CLUSTER_CADDY3_ADMIN_PORT"
	[lb]="$CLUSTER_LB_ADMIN_PORT"
)

# markers_of NAME prints, one a line, strings that the part's command line
# holds, so that a PID file whose process died, and whose number the
# system gave to another program since, is never taken for the part (nor
# killed). redis-server rewrites its command line once it runs (to
# "redis-server 127.0.0.1:<port>"), so its markers hold for both forms.
markers_of() {
	case "$1" in
	redis) printf '%s\n' redis-server "$CLUSTER_REDIS_PORT" ;;
	mockpass) printf '%s\n' mockpass.cjs ;;
	*) printf '%s\n' "$run/$1.env" ;;
	esac
}

pidfile_of() { echo "$run/$1.pid"; }

# live_pid NAME prints the PID of the part when it runs, and fails when it
# does not (no PID file, the process is gone, or the number now belongs
# to something else).
live_pid() {
	local f pid args
	f="$(pidfile_of "$1")"
	[ -f "$f" ] || return 1
	pid="$(cat "$f")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	# /proc first: ps is not on every fresh system (Debian's procps is
	# optional). A zombie's command line is empty, so it never matches.
	if [ -r "/proc/$pid/cmdline" ]; then
		args="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
	else
		args="$(ps -o args= -p "$pid" 2>/dev/null)" || return 1
	fi
	while IFS= read -r m; do
		[[ "$args" == *"$m"* ]] || return 1
	done < <(markers_of "$1")
	echo "$pid"
}

# running PID succeeds while process PID exists and has not exited (a
# zombie has). Unlike live_pid it does not read the command line, so it
# holds from the moment up.sh starts a part: until the part's subshell has
# exec'd its program, the command line is still the shell's, which
# live_pid would take for a part that has exited. Use it only for a PID
# this run started, whose number cannot have passed to another program.
running() {
	local stat rest
	if stat="$(cat "/proc/$1/stat" 2>/dev/null)"; then
		# The state follows the program name, which is in parentheses
		# and may itself hold spaces or parentheses.
		rest="${stat##*) }"
		[ "${rest%% *}" != Z ]
	else
		kill -0 "$1" 2>/dev/null
	fi
}

# is_part NAME succeeds for the names in $parts.
is_part() {
	[ -n "${port[$1]:-}" ]
}
