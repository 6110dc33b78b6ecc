#!/usr/bin/env bash
# scripts/bench/idle.sh — what replicas cost Redis while nothing happens, the
# figures of docs/scaling.md: a private redis-server, a concert of IDLE_DATES
# dates and IDLE_REPLICAS gateways on it, no client at all; after a settle,
# the counters are reset and read again IDLE_SECONDS later. Prints Redis
# commands a second, the CPU of Redis and of the gateways (ms a second, from
# /proc) and the busiest commands.
#
#   bash scripts/bench/idle.sh        # IDLE_REPLICAS=2 IDLE_DATES=120 IDLE_SECONDS=5
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
REPLICAS=${IDLE_REPLICAS:-2}
DATES=${IDLE_DATES:-120}
SECONDS_=${IDLE_SECONDS:-5}
RUN=$(date +%s)$$
DB=rgidle_$RUN
WORK=$(mktemp -d /tmp/rushgate-idle.XXXXXX)
PIDS=()
source scripts/bench/private.sh
# ticks PID...: the processes' CPU time (utime+stime) in clock ticks.
ticks() { for p in "$@"; do sed 's/^.*) //' "/proc/$p/stat"; done | awk '{ s += $12 + $13 } END { print s }'; }

psql -q "$PG/postgres?sslmode=disable" -c "CREATE DATABASE $DB" >/dev/null
go build -o "$WORK/rushgate" ./cmd/rushgate
RPORT=$(port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" --logfile "$WORK/redis.log" &
PIDS+=($!)
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
ENV=(REDIS_URL="redis://127.0.0.1:$RPORT/0" DATABASE_URL="$PG/$DB?sslmode=disable"
	ADMIN_TOKEN=idle-admin-token TOKEN_SECRET="idle-$RUN" LOG_LEVEL=warn)
env "${ENV[@]}" "$WORK/rushgate" seed --dates "$DATES" --seats 500 --price 10000 >/dev/null
GW=()
for _ in $(seq "$REPLICAS"); do
	gport=$(port)
	env "${ENV[@]}" ADDR="127.0.0.1:$gport" "$WORK/rushgate" serve 2>>"$WORK/gateway.log" &
	PIDS+=($!)
	GW+=($!)
	for _ in $(seq 300); do curl -fsS -o /dev/null "http://127.0.0.1:$gport/readyz" 2>/dev/null && break; sleep 0.1; done
done
sleep 2 # every replica's admission loop running
REDIS_PID=$(redis-cli -p "$RPORT" info server | tr -d '\r' | awk -F: '/^process_id:/ { print $2 }')
redis-cli -p "$RPORT" config resetstat >/dev/null
r0=$(ticks "$REDIS_PID")
g0=$(ticks "${GW[@]}")
sleep "$SECONDS_"
r1=$(ticks "$REDIS_PID")
g1=$(ticks "${GW[@]}")
hz=$(getconf CLK_TCK)
total=$(redis-cli -p "$RPORT" info stats | tr -d '\r' | awk -F: '/^total_commands_processed:/ { print $2 }')
echo "replicas=$REPLICAS dates=$DATES seconds=$SECONDS_"
awk -v t="$total" -v s="$SECONDS_" -v r=$((r1 - r0)) -v g=$((g1 - g0)) -v hz="$hz" 'BEGIN {
	printf "redis_commands_per_s=%.0f redis_cpu_ms_per_s=%.0f gateways_cpu_ms_per_s=%.0f\n", t / s, r * 1000 / hz / s, g * 1000 / hz / s }'
echo "commandstats (calls a second):"
redis-cli -p "$RPORT" info commandstats | tr -d '\r' | grep '^cmdstat_' |
	sed -E 's/^cmdstat_([^:]+):calls=([0-9]+).*/\2 \1/' | sort -rn | head -8 |
	awk -v s="$SECONDS_" '{ printf "  %s %.0f\n", $2, $1 / s }'
