#!/usr/bin/env bash
# scripts/ci/smoke.sh — a short rush through the real binary, and the check
# of the k6 scripts. CI runs it after `make test`.
#
# Builds bin/rushgate and rushload, serves a gateway on a spare port with its
# own database and key prefix, seeds a small concert, runs rushload with a
# few hundred users (it exits non-zero when an invariant breaks or the rush
# does not finish), stops the gateway and drops the database, then parses
# the k6 scripts and checks their routes and fields against the contract.
# Cleans up on failure too. Settings: SMOKE_USERS (300), SMOKE_SEATS (100
# per date, 2 dates), REDIS_URL, SMOKE_PG (postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

USERS=${SMOKE_USERS:-300}
SEATS=${SMOKE_SEATS:-100}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PG=${SMOKE_PG:-postgres://postgres@127.0.0.1:5432}
RUN=$(date +%s)$$
DB=rgsmoke_$RUN
PREFIX=rgsmoke:$RUN:
ADMIN_TOKEN=smoke-admin-$RUN
WORK=$(mktemp -d /tmp/rushgate-smoke.XXXXXX)
GW_PID=

cleanup() {
	local rc=$?
	if [[ -n $GW_PID ]]; then
		kill -TERM "$GW_PID" 2>/dev/null || true
		wait "$GW_PID" 2>/dev/null || true
	fi
	psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	if command -v redis-cli >/dev/null; then
		redis-cli -u "$REDIS_URL" --scan --pattern "$PREFIX*" 2>/dev/null |
			xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null 2>&1 || true
	fi
	if [[ $rc != 0 && -f $WORK/gateway.log ]]; then
		echo "smoke: gateway log (last lines):" >&2
		tail -20 "$WORK/gateway.log" >&2
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

spare_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "smoke: no spare port" >&2
	return 1
}

echo "smoke: build"
go build -o bin/rushgate ./cmd/rushgate
go build -o "$WORK/rushload" ./cmd/rushload

PORT=$(spare_port)
export ADDR=127.0.0.1:$PORT REDIS_URL DATABASE_URL="$PG/$DB?sslmode=disable" KEY_PREFIX=$PREFIX
export ADMIN_TOKEN TOKEN_SECRET=smoke-token-secret-$RUN ENTER_RATE_PER_IP=0
export ADMIT_PER_SECOND=200 MAX_ACTIVE=10000 LOG_LEVEL=warn
bin/rushgate seed --dates 2 --seats "$SEATS" --price 10000
bin/rushgate serve 2>"$WORK/gateway.log" &
GW_PID=$!
for _ in $(seq 100); do
	curl -fsS -o /dev/null "http://$ADDR/readyz" 2>/dev/null && break
	kill -0 "$GW_PID" 2>/dev/null || { echo "smoke: the gateway exited" >&2; exit 1; }
	sleep 0.1
done

echo "smoke: rush of $USERS users on 2 dates of $SEATS seats"
timeout 100 "$WORK/rushload" -url "http://$ADDR" -users "$USERS" -seats $((2 * SEATS)) -concurrency 32 \
	-poll-scale 0.2 -duration 60s -replay 0.2 -admin-token "$ADMIN_TOKEN" -quiet

kill -TERM "$GW_PID"
wait "$GW_PID" || { echo "smoke: the gateway did not stop cleanly" >&2; exit 1; }
GW_PID=

echo "smoke: the books in Postgres after the rush"
bin/rushgate audit

echo "smoke: k6 scripts"
(cd scripts/k6 && npm ci --no-audit --no-fund --loglevel=error && node check.mjs && node --test check.test.mjs >"$WORK/k6-test.log" 2>&1) || {
	cat "$WORK/k6-test.log" >&2 2>/dev/null || true
	exit 1
}
echo "smoke: ok"
