#!/usr/bin/env bash
# scripts/bench/journey.sh — Redis commands and bytes per user journey, the
# figures of docs/scaling.md: a private redis-server and one gateway on it,
# the counters reset, then JOURNEY_USERS users go through the whole journey
# (enter, wait, list, hold, top up, pay, or sold out) with rushload; prints
# INFO commandstats and the network bytes, totals and per user.
#
#   bash scripts/bench/journey.sh        # JOURNEY_USERS=1000 JOURNEY_SEATS=500 JOURNEY_RATE=500
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
USERS=${JOURNEY_USERS:-1000}
SEATS=${JOURNEY_SEATS:-500}
RATE=${JOURNEY_RATE:-500}
ADMIN_TOKEN=journey-admin-token
RUN=$(date +%s)$$
DB=rgjourney_$RUN
WORK=$(mktemp -d /tmp/rushgate-journey.XXXXXX)
PIDS=()
source scripts/bench/private.sh

go build -o "$WORK/rushgate" ./cmd/rushgate
go build -o "$WORK/rushload" ./cmd/rushload
RPORT=$(port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
GPORT=$(port)
ENV=(ADDR="127.0.0.1:$GPORT" REDIS_URL="redis://127.0.0.1:$RPORT/0" DATABASE_URL="$PG/$DB?sslmode=disable"
	ADMIN_TOKEN="$ADMIN_TOKEN" TOKEN_SECRET="journey-$RUN" ENTER_RATE_PER_IP=0 LOG_LEVEL=warn
	ADMIT_PER_SECOND="$RATE" MAX_ACTIVE=1000000)
env "${ENV[@]}" "$WORK/rushgate" seed --dates 1 --seats "$SEATS" --price 10000 >/dev/null
env "${ENV[@]}" "$WORK/rushgate" serve 2>"$WORK/gateway.log" &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$GPORT/readyz" 2>/dev/null && break; sleep 0.1; done
sleep 1
redis-cli -p "$RPORT" config resetstat >/dev/null
"$WORK/rushload" -url "http://127.0.0.1:$GPORT" -users "$USERS" -seats "$SEATS" -admin-token "$ADMIN_TOKEN" -json >"$WORK/rush.json"
stats=$(redis-cli -p "$RPORT" info stats | tr -d '\r')
echo "users=$USERS seats=$SEATS admit_per_second=$RATE"
python3 - "$WORK/rush.json" "$USERS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"http_requests={r['requests']} elapsed_s={r['elapsed_seconds']:.1f} outcomes={r['outcomes']} violations={r['violations']}")
PY
echo "$stats" | grep -E '^(total_commands_processed|total_net_input_bytes|total_net_output_bytes):' | while IFS=: read -r k v; do
	awk -v k="$k" -v v="$v" -v u="$USERS" 'BEGIN { printf "%s=%s per_user=%.1f\n", k, v, v / u }'
done
echo "commandstats (calls):"
redis-cli -p "$RPORT" info commandstats | tr -d '\r' | grep '^cmdstat_' |
	sed -E 's/^cmdstat_([^:]+):calls=([0-9]+).*/\2 \1/' | sort -rn | head -15
