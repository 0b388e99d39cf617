#!/usr/bin/env bash
# Throughput of the sgid handler through a running Caddy over loopback,
# each figure against a baseline measured in the same run:
#   /api/userinfo (from the session) vs a `respond` route with the same JSON;
#   a guarded reverse_proxy route vs the same route unguarded.
# Needs wrk (Debian package wrk). Usage: bench/loopback.sh [seconds] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
rounds="${2:-3}"
bin="$(mktemp -d)/caddy"
go build -o "$bin" ./cmd/caddy
# Caddy on one core, wrk on the other, so the two do not steal from each
# other unevenly between runs (this machine has 2 cores).
taskset -c 0 "$bin" run --config bench/Caddyfile.bench >/dev/null 2>&1 &
caddy_pid=$!
trap 'kill $caddy_pid 2>/dev/null; wait $caddy_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs -o /dev/null http://localhost:7080/baseline && break; sleep 0.2; done

# Log in through the mock's page to get a session cookie.
jar="$(mktemp)"
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
[ -n "$session" ] || { echo "login failed" >&2; exit 1; }

run() { # path -> requests/s
	taskset -c 1 wrk -t1 -c16 -d"${secs}s" -H "Cookie: sgid_session=$session" -H "Sec-Fetch-Mode: cors" \
		"http://localhost:7080$1" | awk '/Requests\/sec/ {print $2}'
}
curl -fs -b "sgid_session=$session" http://localhost:7080/api/userinfo >/dev/null
curl -fs -H "Sec-Fetch-Mode: cors" -b "sgid_session=$session" http://localhost:7080/guarded/x >/dev/null

printf '%-6s %12s %12s %7s %12s %12s %7s\n' round respond userinfo ratio unguarded guarded ratio
for r in $(seq "$rounds"); do
	# Each pair back to back, the order swapped every round.
	if [ $((r % 2)) -eq 1 ]; then
		base=$(run /baseline); ui=$(run /api/userinfo); ung=$(run /unguarded/x); gu=$(run /guarded/x)
	else
		ui=$(run /api/userinfo); base=$(run /baseline); gu=$(run /guarded/x); ung=$(run /unguarded/x)
	fi
	printf '%-6s %12s %12s %7.3f %12s %12s %7.3f\n' "$r" "$base" "$ui" "$(echo "$ui / $base" | bc -l)" \
		"$ung" "$gu" "$(echo "$gu / $ung" | bc -l)"
done
