#!/usr/bin/env bash
# fairness.sh: the fairness figures of docs/fairness.md. For each setting of
# ABANDON_AFTER given, it serves one gateway on the local Redis and
# PostgreSQL (a database and key prefix of its own, removed afterwards),
# seeds one date of SEATS seats, admits RATE a second, and runs rushload:
# USERS users arrive at once; ABANDON (30%) of them stop polling after their
# first answer; HOLD_LEAVE (10%), once admitted, hold a seat and walk away
# (the hold lapses after HOLD_TTL); the rest buy a seat each, until the
# concert sells out when SEATS is below their number. The reports land in
# OUT; rushload exits non-zero when an invariant breaks (the silent share
# does with skipping off), which the script reports and goes on.
#
#   scripts/fairness.sh                       # skipping off (24h) and on (5s)
#   SEATS=1000 scripts/fairness.sh 5s         # a rush that sells out
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-2000}
SEATS=${SEATS:-2000}
RATE=${RATE:-10}
ABANDON=${ABANDON:-0.3}
HOLD_LEAVE=${HOLD_LEAVE:-0.1}
HOLD_TTL=${HOLD_TTL:-5s}
OUT=${OUT:-$(mktemp -d /tmp/rushgate-fairness.XXXXXX)}
SETTINGS=("$@")
[ ${#SETTINGS[@]} -gt 0 ] || SETTINGS=(24h 5s)

mkdir -p "$OUT"
go build -o "$OUT/rushgate" ./cmd/rushgate
go build -o "$OUT/rushload" ./cmd/rushload

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

run() {
  local abandon_after=$1
  local name="abandon-after-$abandon_after"
  local db="rgfair_${abandon_after}_$$" prefix="rgfair:${abandon_after}:$$:" port
  port=$(free_port)
  export ADDR="127.0.0.1:$port" DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
  export KEY_PREFIX="$prefix" ADMIN_TOKEN=fairness-admin-token TOKEN_SECRET=fairness-token-secret
  export ENTER_RATE_PER_IP=0 ADMIT_PER_SECOND="$RATE" MAX_ACTIVE=100000 HOLD_TTL="$HOLD_TTL"
  export ABANDON_AFTER="$abandon_after" LOG_LEVEL=warn
  "$OUT/rushgate" seed --dates 1 --seats "$SEATS" --price 10000 >/dev/null
  nice -n 10 "$OUT/rushgate" serve 2>"$OUT/$name.gateway.log" &
  local pid=$!
  for _ in $(seq 100); do curl -fs "http://$ADDR/readyz" >/dev/null && break; sleep 0.1; done
  local rc=0
  nice -n 10 "$OUT/rushload" -url "http://$ADDR" -users "$USERS" -seats "$SEATS" -abandon "$ABANDON" \
    -hold-leave "$HOLD_LEAVE" -admin-token "$ADMIN_TOKEN" -duration 10m -quiet -json >"$OUT/$name.json" || rc=$?
  kill "$pid"
  wait "$pid" || true
  dropdb --if-exists -h 127.0.0.1 -U postgres "$db"
  redis-cli --scan --pattern "$prefix*" | xargs -r -n 500 redis-cli unlink >/dev/null
  jq -r --arg name "$name" --arg rc "$rc" '
    def inv(n): (.invariants[] | select(.name == n));
    "\($name): rushload exit \($rc)",
    "  admitted_total grew by \(.admission.admitted_total_delta), users seen admitted \(.admission.admitted), silent admissions \(.admission.silent_admissions) (\(.admission.silent_share * 10000 | round / 100)%), skipped_inactive_total grew by \(.admission.skipped_inactive_delta)",
    "  outcomes \(.outcomes | to_entries | map("\(.key) \(.value)") | join(", ")); seats \(.seats_sold)/\(.seats_offered)",
    (.invariants[] | "  \(.name): \(.violations) violations of \(.checked) checked"),
    "  report: '"$OUT"'/\($name).json"' "$OUT/$name.json"
}

for s in "${SETTINGS[@]}"; do run "$s"; done
