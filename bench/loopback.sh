#!/usr/bin/env bash
# Throughput of the sgid handler through a running Caddy over loopback,
# each figure against a baseline measured in the same run:
#   /api/userinfo (from the session) vs a `respond` route with the same JSON;
#   a guarded reverse_proxy route vs the same route unguarded.
# The sessions live in the store given as the first argument. For redis the
# script runs its own redis-server on a free loopback port and stops it on
# exit. The storage store writes to a temporary data folder, not the user's.
# Needs wrk (Debian package wrk), and redis-server for the redis store.
# Usage: bench/loopback.sh [memory|storage|redis] [seconds] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
store="${1:-storage}"
secs="${2:-10}"
rounds="${3:-3}"
case "$store" in
memory | storage | redis) ;;
*)
	echo "usage: $0 [memory|storage|redis] [seconds] [rounds]" >&2
	exit 2
	;;
esac

work="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Caddy listens with SO_REUSEPORT, so a second server on a port would
# share it silently and skew the figures: refuse to start instead.
for port in 2990 7080 7081; do
	if in_use "$port"; then
		echo "port $port is in use" >&2
		exit 1
	fi
done

case "$store" in
memory | storage) export SGID_STORE="$store" ;;
redis)
	command -v redis-server >/dev/null || {
		echo "redis-server not found: install Debian's redis-server package" >&2
		exit 1
	}
	# A random free port; another process may take it between the check
	# and the bind, so a server that exits at start is retried elsewhere.
	redis_port=
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 20000))
		in_use "$port" && continue
		taskset -c 0 redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes \
			--save '' --appendonly no --dir "$work" --logfile "$work/redis.log" &
		pid=$!
		pids+=("$pid")
		for _ in $(seq 50); do
			if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
				redis_port=$port
				break 2
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	done
	[ -n "$redis_port" ] || {
		echo "redis-server did not start: $(tail -3 "$work/redis.log" 2>/dev/null)" >&2
		exit 1
	}
	# The Caddyfile substitutes the variable before parsing, so it may hold
	# the whole block.
	export SGID_STORE="redis {
				address 127.0.0.1:$redis_port
			}"
	;;
esac

bin="$work/caddy"
go build -o "$bin" ./cmd/caddy
# Caddy on one core, wrk on the other, so the two do not steal from each
# other unevenly between runs (this machine has 2 cores). Caddy's data
# folder (the storage store's records) is the temporary one.
XDG_DATA_HOME="$work/data" XDG_CONFIG_HOME="$work/config" \
	taskset -c 0 "$bin" run --config bench/Caddyfile.bench >"$work/caddy.log" 2>&1 &
pids=("$!" "${pids[@]}")
for _ in $(seq 50); do curl -fs -o /dev/null http://localhost:7080/baseline && break; sleep 0.2; done

# Log in through the mock's page to get a session cookie.
jar="$work/jar"
url="$(curl -fs -c "$jar" -b "$jar" http://localhost:7080/api/auth-url | sed 's/.*"url":"\([^"]*\)".*/\1/' | sed 's/\\u0026/\&/g')"
page="$(curl -fs -c "$jar" -b "$jar" "http://localhost:7080$url")"
# The page keeps no state on the server: its form carries the login request
# in hidden fields, which go back with the chosen persona.
form=(--data-urlencode "sub=sgidtest:tan-wei-ming")
while IFS= read -r field; do
	[ -n "$field" ] && form+=(--data-urlencode "$field")
done < <(printf '%s\n' "$page" | sed -n 's/.*<input type="hidden" name="\([^"]*\)" value="\([^"]*\)">.*/\1=\2/p' |
	sed 's/&#43;/+/g; s/&#34;/"/g; s/&#39;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g')
callback="$(curl -fs -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" "${form[@]}" \
	http://localhost:7080/sgid-mock/v2/oauth/authorize)"
curl -fs -o /dev/null -c "$jar" -b "$jar" "$callback"
session="$(awk '$6 == "sgid_session" {print $7}' "$jar")"
[ -n "$session" ] || {
	echo "login failed" >&2
	tail -5 "$work/caddy.log" >&2
	exit 1
}

# The comparison is fair only if both routes send the same bytes.
ui_body="$(curl -fs -b "sgid_session=$session" http://localhost:7080/api/userinfo)"
base_body="$(curl -fs http://localhost:7080/baseline)"
if [ "$ui_body" != "$base_body" ]; then
	printf 'the baseline differs from /api/userinfo:\n  %s\n  %s\n' "$base_body" "$ui_body" >&2
	exit 1
fi
curl -fs -o /dev/null -H "Sec-Fetch-Mode: cors" -b "sgid_session=$session" http://localhost:7080/guarded/x

caddy_pid=${pids[0]}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$caddy_pid/stat"; }
ticks_per_sec=$(getconf CLK_TCK)

# run: path -> "requests/s CPU-µs/request". Requests/s depends on what else
# the machine runs at the time; the CPU time Caddy spends per request
# (from /proc, for the whole window) much less so, which makes it the
# steadier figure on a shared machine. A run with any non-2xx answer stops
# the script; wrk's timeouts under load are reported, not fatal.
run() {
	local out before after
	before=$(cpu_ticks)
	out="$(taskset -c 1 wrk -t1 -c16 -d"${secs}s" -H "Cookie: sgid_session=$session" -H "Sec-Fetch-Mode: cors" \
		"http://localhost:7080$1")"
	after=$(cpu_ticks)
	if grep -q 'Non-2xx' <<<"$out"; then
		printf '%s failed under load:\n%s\n' "$1" "$out" >&2
		exit 1
	fi
	if grep -q 'Socket errors' <<<"$out"; then
		printf '%s: %s\n' "$1" "$(grep 'Socket errors' <<<"$out" | sed 's/^ *//')" >&2
	fi
	awk -v cpu=$((after - before)) -v hz="$ticks_per_sec" '
		/requests in/ {n = $1}
		/Requests\/sec/ {rps = $2}
		END {printf "%s %.1f\n", rps, cpu / hz * 1e6 / n}' <<<"$out"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { echo "$1 / $2" | bc -l; }

echo "store $store, ${secs}s windows, $rounds rounds; cpu: Caddy's CPU µs per request; ratios: sgid route over baseline (CPU: baseline's µs over sgid's)"
printf '%-6s %9s %9s %6s %6s %6s %6s | %9s %9s %6s %6s %6s %6s\n' round respond userinfo ratio µs:res µs:ui cpu× \
	unguard guarded ratio µs:ung µs:gu cpu×
ui_ratios=() ui_cpu=() gu_ratios=() gu_cpu=()
for r in $(seq "$rounds"); do
	# Each pair back to back, the order swapped every round.
	if [ $((r % 2)) -eq 1 ]; then
		base=($(run /baseline)); ui=($(run /api/userinfo)); ung=($(run /unguarded/x)); gu=($(run /guarded/x))
	else
		ui=($(run /api/userinfo)); base=($(run /baseline)); gu=($(run /guarded/x)); ung=($(run /unguarded/x))
	fi
	ui_ratios+=("$(ratio "${ui[0]}" "${base[0]}")")
	ui_cpu+=("$(ratio "${base[1]}" "${ui[1]}")")
	gu_ratios+=("$(ratio "${gu[0]}" "${ung[0]}")")
	gu_cpu+=("$(ratio "${ung[1]}" "${gu[1]}")")
	printf '%-6s %9.0f %9.0f %6.3f %6.1f %6.1f %6.3f | %9.0f %9.0f %6.3f %6.1f %6.1f %6.3f\n' "$r" \
		"${base[0]}" "${ui[0]}" "${ui_ratios[-1]}" "${base[1]}" "${ui[1]}" "${ui_cpu[-1]}" \
		"${ung[0]}" "${gu[0]}" "${gu_ratios[-1]}" "${ung[1]}" "${gu[1]}" "${gu_cpu[-1]}"
done
printf '%-6s %9s %9s %6.3f %6s %6s %6.3f | %9s %9s %6.3f %6s %6s %6.3f\n' median '' '' \
	"$(printf '%s\n' "${ui_ratios[@]}" | median)" '' '' "$(printf '%s\n' "${ui_cpu[@]}" | median)" '' '' \
	"$(printf '%s\n' "${gu_ratios[@]}" | median)" '' '' "$(printf '%s\n' "${gu_cpu[@]}" | median)"
