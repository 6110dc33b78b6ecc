#!/usr/bin/env bash
# scripts/bench/run.sh — what `make bench` runs: measures rushgate on this
# machine, in one run, against bare baselines built in the same run, and
# writes docs/benchmarks.md.
#
#   1. Go benchmarks of the hot paths on the real Redis and Postgres.
#   2. wrk, 64 connections: GET /api/queue/position, POST /api/tokens,
#      POST /api/reservation, and the fan's waiting page GET /wait/1 and its
#      scripts and styles, of a real gateway, and the baselines of
#      cmd/benchbase (fixed JSON, one ZRANK, one EVALSHA), each route and its
#      baselines in turn, for several rounds: the report takes the median of
#      the rounds, so that a burst of other work on the machine moves a route
#      and its baseline alike. The poll and the token issue again at 4,096
#      connections (a rush of phones, not a few keep-alive clients), each
#      round right after its 64-connection run. And the poll, the token
#      issue and the hold in an open loop (rushload open): 4,096 keep-alive
#      connections that together offer 0.8× the req/s of the 64-connection
#      run just before, on a fixed schedule, latency counted from each
#      request's scheduled time, so that its p99 is that of a crowd of
#      phones each sending now and then (wrk's closed loop at 4,096
#      connections only shows connections ÷ throughput).
#   3. A rush of 20,000 users on one 5,000-seat date through rushload, with
#      its invariants, and the gateway's peak RSS during it.
#   4. Redis memory per waiting user: used_memory before and after 100,000
#      users enter.
#
# Everything runs on 127.0.0.1: a private redis-server on a spare port (so
# that nothing else on the machine moves its memory or its load), databases
# of its own on the local PostgreSQL, each phase its own gateway. All of it
# is removed at the end, also on failure.
#
#   5. The cost of REDIS_WAIT_REPLICAS=1: token issues and holds of a
#      gateway with WAIT and of one without, in turn, on a private master
#      with one replica.
#   6. CPU per request of the token issue, poll, seat hold and payment, on
#      a gateway that sends each token issue and hold to Redis alone and on
#      one that batches them, in turn: the gateway's and Redis's CPU from
#      /proc, Redis's INFO commandstats, and a CPU profile of each run.
#   7. The instructions Redis executes per seat hold, token issue and poll
#      heartbeat (scripts/bench/instructions.sh: callgrind), against one EVALSHA:
#      counts that repeat from run to run where times do not.
#
# BENCH_PHASES (all) picks phases: a space-separated list of gobench, routes,
# cpu, rush, memory, wait and instr. Only a run of all of them writes docs/benchmarks.md;
# any other prints the table of its HTTP routes and the reports of the wait
# and cpu phases (those it ran), for instance
#   BENCH_PHASES=wait BENCH_ROUNDS=1 bash scripts/bench/run.sh
#
# Settings (environment): BENCH_PG (postgres://postgres@127.0.0.1:5432),
# BENCH_WRK_DURATION (5s), BENCH_ROUNDS (3), BENCH_CONNS (64), BENCH_RUSH_USERS (20000),
# BENCH_RUSH_SEATS (5000), BENCH_RUSH_RATE (500), BENCH_MEM_USERS (100000),
# BENCH_HOLD_DATES and BENCH_HOLD_USERS (enough for 35,000 holds a second:
# 189 dates and 236,250 users at 3 rounds of 5 s), BENCH_MANY_DATES (the
# same for the hold's runs at many connections: 105 dates), BENCH_CPU_DURATION (3s, each wrk run of the CPU
# phase), BENCH_CPU_PAY_RATE (2500) and BENCH_CPU_HOLD_RATE (35000) (payments
# and holds a second that the CPU phase prepares for),
# BENCH_GOBENCHTIME (1s), BENCH_OUT (docs/benchmarks.md), BENCH_KEEP (keep
# the work directory), BENCH_MANY_CONNS (4096), BENCH_OPEN_SHARE (0.8: the
# open-loop rate as a share of the 64-connection req/s).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
WRK_DURATION=${BENCH_WRK_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-64}
THREADS=2
RUSH_USERS=${BENCH_RUSH_USERS:-20000}
RUSH_SEATS=${BENCH_RUSH_SEATS:-5000}
RUSH_RATE=${BENCH_RUSH_RATE:-500}
MEM_USERS=${BENCH_MEM_USERS:-100000}
GOBENCHTIME=${BENCH_GOBENCHTIME:-1s}
OUT_MD=${BENCH_OUT:-docs/benchmarks.md}
ADMIN_TOKEN=bench-admin-token
RUN=$(date +%s)$$
PHASES=${BENCH_PHASES:-all}
WAIT_HOLD_DATES=${BENCH_WAIT_HOLD_DATES:-60}
# on PHASE: whether this run measures PHASE.
on() { [[ $PHASES == all || " $PHASES " == *" $1 "* ]]; }
MANY_CONNS=${BENCH_MANY_CONNS:-4096}
OPEN_SHARE=${BENCH_OPEN_SHARE:-0.8}
# wrk's duration in seconds (it takes 5, 5s, 2m or 1h), for the open-loop
# runs' schedule.
OPEN_SECONDS=$(awk -v d="$WRK_DURATION" 'BEGIN { n = d + 0; if (d ~ /m$/) n *= 60; if (d ~ /h$/) n *= 3600; print n }')
# Each round of holds takes its own share of the seats and users: enough for
# a 64-connection run and the open-loop run after it (0.8× as many) at up to
# 35,000 holds a second (a fast run of the baseline's EVALSHA reaches 32,000
# with the holds' requests), so that no hold meets a seat or a user's hold
# limit an earlier one took. 120 dates ran out on a fast machine.
HOLD_DATES=${BENCH_HOLD_DATES:-$(((ROUNDS * 18 * OPEN_SECONDS * 35000 / 10 + 4999) / 5000))}
HOLD_USERS=${BENCH_HOLD_USERS:-$((HOLD_DATES * 5000 / 4))}
# The hold's runs at many connections: one a round, at up to 35,000 a second.
MANY_DATES=${BENCH_MANY_DATES:-$(((ROUNDS * OPEN_SECONDS * 35000 + 4999) / 5000))}
MANY_USERS=$((MANY_DATES * 5000 / 4))

# wrk and the gateway each hold one descriptor per connection: thousands of
# connections need more than the usual soft limit of 1,024.
want_fds=$((2 * MANY_CONNS + 1024))
if (($(ulimit -n) < want_fds)); then
	ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if (($(ulimit -n) < MANY_CONNS + 256)); then
	echo "bench: open files limited to $(ulimit -n) (hard $(ulimit -Hn)), too few for $MANY_CONNS connections" >&2
	exit 1
fi

WORK=$(mktemp -d /tmp/rushgate-bench.XXXXXX)
BIN=$WORK/bin
R=$WORK/results
mkdir -p "$BIN" "$R"
: >"$R/wrk.jsonl"
: >"$R/commands.txt"

log() { printf '\n== %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "bench: $1 is missing ($2)" >&2; exit 1; }; }
if ! command -v wrk >/dev/null && [[ $(id -u) == 0 ]]; then
	echo "bench: installing wrk" >&2
	apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
need wrk "apt-get install wrk"
need redis-server "apt-get install redis-server"
need redis-cli "apt-get install redis-tools"
need psql "apt-get install postgresql-client"

# spare_port: a port nobody listens on, below the ephemeral range: thousands
# of client connections (wrk, rushload open) hold ports of that range, and a
# server cannot listen on a port a live connection uses.
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
spare_port() {
	local p
	for _ in $(seq 50); do
		p=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	echo "bench: no spare port" >&2
	exit 1
}

PIDS=()
DBS=()
cleanup() {
	local rc=$?
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	for db in "${DBS[@]}"; do
		psql -q "$PG/postgres?sslmode=disable" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
	done
	if [[ -n ${BENCH_KEEP:-} ]]; then echo "bench: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# note CMD...: remember a command for the report; record CMD...: and run it.
note() {
	printf '%s\n' "$*" | sed "s|$WORK|\$WORK|g; s|$ROOT/||g; s|-run ^\\$ |-run '^\$' |" >>"$R/commands.txt"
}
record() {
	note "$@"
	"$@"
}

wait_http() { # url (a gateway loads its whole catalogue first: up to a minute)
	for _ in $(seq 600); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: $1 does not answer; the servers' logs end with:" >&2
	tail -n 3 "$WORK"/*.log >&2 || true
	return 1
}

log "machine"
{
	echo "nproc: $(nproc)"
	lscpu | grep -E '^(Model name|Architecture|CPU\(s\)|Thread\(s\) per core|CPU MHz|L3 cache):' || true
	free -m | awk 'NR==2 { print "memory: " $2 " MiB" }'
	echo "kernel: $(uname -r)"
	echo "go: $(go version | awk '{print $3}')"
	echo "redis: $(redis-server --version | awk '{print $3}' | tr -d v=)"
	echo "postgres: $(psql "$PG/postgres?sslmode=disable" -tAc 'SHOW server_version' 2>/dev/null || echo unknown)"
	echo "wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
	echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (with local changes)')"
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "open files limit: $(ulimit -n)"
} >"$R/machine.txt"
cat "$R/machine.txt" >&2

log "build"
go build -o "$BIN/rushgate" ./cmd/rushgate
go build -o "$BIN/rushload" ./cmd/rushload
go build -o "$BIN/benchbase" ./cmd/benchbase

RPORT=$(spare_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
	--logfile "$WORK/redis.log" &
PIDS+=($!)
REDIS_URL=redis://127.0.0.1:$RPORT/0
for _ in $(seq 50); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
rcli() { redis-cli -p "$RPORT" "$@"; }

if on gobench; then
log "Go benchmarks"
record env TEST_REDIS_URL="$REDIS_URL" TEST_DATABASE_URL="$PG/postgres?sslmode=disable" \
	go test -run '^$' -bench . -benchmem -benchtime "$GOBENCHTIME" -count 1 -timeout 15m \
	./queue ./booking ./payment ./checkout ./httpapi 2>&1 | tee "$R/gobench.txt" >&2 ||
	echo "bench: a Go benchmark failed; the report lists it, the run goes on" >&2
fi

if on instr; then
log "Redis instructions per hold, token issue and poll heartbeat (callgrind)"
record bash scripts/bench/instructions.sh >"$R/instructions.md" ||
	echo "bench: the instruction counts failed; the report leaves them out, the run goes on" >&2
fi

# wrk_run LABEL URL [wrk args...]: one wrk run, its JSON line in wrk.jsonl.
wrk_run() {
	local label=$1 url=$2
	shift 2
	log "wrk $label"
	record env WRK_LABEL="$label" WRK_JSON="$R/wrk.jsonl" "$@" \
		wrk -t"$THREADS" -c"${WRK_CONNS:-$CONNS}" -d"$WRK_DURATION" --latency "${WRK_SCRIPT_ARGS[@]}" "$url" >>"$R/wrk-$label.txt"
	tail -1 "$R/wrk.jsonl" | cut -c1-150 >&2
}

# last_wrk FIELD: FIELD of the last line of wrk.jsonl (the run just made).
last_wrk() { tail -1 "$R/wrk.jsonl" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# open_rate: the open-loop rate that follows the last run, OPEN_SHARE of its
# req/s; open_total RATE: the requests an open-loop run of RATE schedules.
# Rounded up: rounded to the nearest, an offer could fall a fraction of a
# request a second under the share it stands for.
open_rate() { awk -v r="$(last_wrk rps)" -v s="$OPEN_SHARE" 'BEGIN { x = r * s; n = int(x); if (n < x) n++; printf "%d", n }'; }
open_total() { awk -v r="$1" -v d="$OPEN_SECONDS" 'BEGIN { printf "%.0f", r * d }'; }

# bench_dates FIRST N: N consecutive dates from FIRST, comma separated.
bench_dates() { for i in $(seq 0 $(($2 - 1))); do date -d "$1 + $i day" +%F; done | paste -sd,; }

# open_run LABEL URL RATE [rushload open args...]: one open-loop run of
# MANY_CONNS connections offering RATE req/s, its JSON line in wrk.jsonl.
open_run() {
	local label=$1 url=$2 rate=$3
	shift 3
	log "open loop $label: $MANY_CONNS connections offering $rate req/s"
	record "$BIN/rushload" open -url "$url" -label "$label" -conns "$MANY_CONNS" -rate "$rate" \
		-duration "${OPEN_SECONDS}s" "$@" >>"$R/wrk.jsonl"
	tail -1 "$R/wrk.jsonl" | cut -c1-150 >&2
}

# gateway PHASE VAR=VALUE...: start bin/rushgate serve with its own database
# and key prefix (after seeding with $SEED_ARGS); sets GW_URL and GW_PID.
gateway() {
	local phase=$1
	shift
	local db=rgbench_${RUN}_$phase port
	port=$(spare_port)
	DBS+=("$db")
	GW_ENV=(ADDR="127.0.0.1:$port" REDIS_URL="$REDIS_URL" DATABASE_URL="$PG/$db?sslmode=disable"
		KEY_PREFIX="rgbench:$RUN:$phase:" ADMIN_TOKEN="$ADMIN_TOKEN" TOKEN_SECRET="bench-token-secret-$RUN"
		ENTER_RATE_PER_IP=0 LOG_LEVEL=warn "$@")
	record env "${GW_ENV[@]}" "$BIN/rushgate" seed $SEED_ARGS >/dev/null
	env "${GW_ENV[@]}" "$BIN/rushgate" serve 2>"$WORK/gateway-$phase.log" &
	GW_PID=$!
	PIDS+=("$GW_PID")
	note env "${GW_ENV[@]}" "$BIN/rushgate" serve
	GW_URL=http://127.0.0.1:$port
	wait_http "$GW_URL/readyz"
}
stop_gateway() {
	kill -TERM "$GW_PID"
	wait "$GW_PID" 2>/dev/null || true
}

if on routes; then
log "baselines (cmd/benchbase), kept serving while the routes are measured"
BPORT=$(spare_port)
note "$BIN/benchbase" -addr "127.0.0.1:$BPORT" -redis-url "$REDIS_URL" -key-prefix "benchbase:$RUN:"
"$BIN/benchbase" -addr "127.0.0.1:$BPORT" -redis-url "$REDIS_URL" -key-prefix "benchbase:$RUN:" 2>"$WORK/benchbase.log" &
BASE_PID=$!
PIDS+=("$BASE_PID")
BASE_URL=http://127.0.0.1:$BPORT
wait_http "$BASE_URL/fixed"

log "gateway: queue routes (admission paused, so every poll is of a waiting token)"
SEED_ARGS="--dates 1 --seats 100 --price 10000"
gateway queue ADMIT_PER_SECOND=0 MAX_ACTIVE=1000000
record "$BIN/rushload" tokens -url "$GW_URL" -users 1000 -out "$R/poll-tokens.tsv"
# The waiting page's first load: the page and every script and style it
# names (its module imports are preloaded, so it names them all), gzipped.
PAGE_ASSETS=$(curl -fsS "$GW_URL/wait/1" | grep -o '/fan/[^"]*' | sort -u | paste -sd,)
{
	echo "page_bytes=$(curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$GW_URL/wait/1")"
	total=0
	for a in ${PAGE_ASSETS//,/ }; do
		total=$((total + $(curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null -w '%{size_download}' "$GW_URL$a")))
	done
	echo "asset_bytes=$total"
	echo "assets=$(echo "$PAGE_ASSETS" | tr ',' '\n' | grep -c .)"
} >"$R/page.txt"
cat "$R/page.txt" >&2
for round in $(seq "$ROUNDS"); do
	WRK_SCRIPT_ARGS=(-s scripts/bench/get.lua)
	wrk_run base_fixed "$BASE_URL/fixed"
	wrk_run base_zrank "$BASE_URL/zrank"
	WRK_SCRIPT_ARGS=(-s scripts/bench/poll.lua)
	wrk_run gw_poll "$GW_URL" WRK_TOKENS="$R/poll-tokens.tsv"
	open_run gw_poll_open "$GW_URL" "$(open_rate)" -route poll -tokens "$R/poll-tokens.tsv"
	WRK_SCRIPT_ARGS=(-s scripts/bench/page.lua)
	wrk_run gw_page "$GW_URL" WRK_PATHS=/wait/1
	wrk_run gw_assets "$GW_URL" WRK_PATHS="$PAGE_ASSETS"
	WRK_SCRIPT_ARGS=(-s scripts/bench/tokens.lua)
	wrk_run base_evalsha "$BASE_URL" WRK_PATH=/evalsha WRK_PREFIX="base$RUN-$round"
	wrk_run gw_tokens "$GW_URL" WRK_PREFIX="wrk$RUN-$round"
	open_run gw_tokens_open "$GW_URL" "$(open_rate)" -route tokens -user-prefix "open$RUN-$round-"
	WRK_CONNS=$MANY_CONNS
	wrk_run gw_tokens_many "$GW_URL" WRK_PREFIX="many$RUN-$round"
	WRK_SCRIPT_ARGS=(-s scripts/bench/poll.lua)
	wrk_run gw_poll_many "$GW_URL" WRK_TOKENS="$R/poll-tokens.tsv"
	unset WRK_CONNS
done
stop_gateway

log "gateway: seat holds ($HOLD_DATES dates of 5,000 seats, $HOLD_USERS admitted users, 4 holds each; at $MANY_CONNS connections a second concert's $MANY_DATES dates and $MANY_USERS users)"
FIRST=$(date -d tomorrow +%F)
SEED_ARGS="--dates $HOLD_DATES --seats 5000 --price 10000 --first-date $FIRST"
gateway hold ADMIT_PER_SECOND=100000 MAX_ACTIVE=1000000 MAX_HOLDS_PER_USER=4
printf 'dates=%s\nusers=%s\n' "$HOLD_DATES" "$HOLD_USERS" >"$R/holds.txt"
record "$BIN/rushload" tokens -url "$GW_URL" -users "$HOLD_USERS" -active -out "$R/hold-tokens.tsv"
DATES=$(bench_dates "$FIRST" "$HOLD_DATES")
PER_ROUND=$((HOLD_DATES * 5000 / ROUNDS / 4 * 4))
# A concert has at most 1,000,000 seats, so the runs at many connections
# hold seats of a second concert of the same shape, made by the admin API.
MANY_CONCERT_DATES=$(bench_dates "$FIRST" "$MANY_DATES")
record curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
	-d "{\"name\":\"many connections\",\"dates\":[\"${MANY_CONCERT_DATES//,/\",\"}\"],\"seats\":[{\"from\":1,\"to\":5000,\"price\":10000}]}" \
	"$GW_URL/admin/concerts"
record "$BIN/rushload" tokens -url "$GW_URL" -concert 2 -users "$MANY_USERS" -active -out "$R/hold-many-tokens.tsv"
MANY_PER_ROUND=$((MANY_DATES * 5000 / ROUNDS / 4 * 4))
# overrun NEXT END: warn when a run's holds went past the seats it was given.
overrun() {
	if (($1 > $2)); then
		echo "bench: holds ran $(($1 - $2)) past the seats of their run; expect 409s (raise BENCH_HOLD_DATES or BENCH_MANY_DATES)" >&2
	fi
}
for round in $(seq "$ROUNDS"); do
	# The baseline is sent the holds' own requests (the EVALSHA ignores them).
	WRK_SCRIPT_ARGS=(-s scripts/bench/hold.lua)
	wrk_run base_evalsha_hold "$BASE_URL" WRK_PATH=/evalsha WRK_TOKENS="$R/hold-tokens.tsv" WRK_DATES="$DATES" \
		WRK_SEATS=5000 WRK_THREADS=$THREADS WRK_HOLDS_PER_USER=4 WRK_OFFSET=0
	wrk_run gw_hold "$GW_URL" WRK_TOKENS="$R/hold-tokens.tsv" WRK_DATES="$DATES" WRK_SEATS=5000 \
		WRK_THREADS=$THREADS WRK_HOLDS_PER_USER=4 WRK_OFFSET=$(((round - 1) * PER_ROUND))
	# The round's holds are numbered from its offset: wrk's count up from
	# the start, the open loop's end where the next round begins (from a
	# multiple of 4, so that no user holds in both), so neither meets a
	# seat or a user's hold limit the other took while both fit the round.
	rate=$(open_rate)
	open_from=$(((round * PER_ROUND - $(open_total "$rate")) / 4 * 4))
	overrun "$(last_wrk next_hold)" "$open_from"
	open_run gw_hold_open "$GW_URL" "$rate" -route hold -tokens "$R/hold-tokens.tsv" -dates "$DATES" -seats 5000 \
		-holds-per-user 4 -offset "$open_from"
	WRK_CONNS=$MANY_CONNS
	wrk_run gw_hold_many "$GW_URL" WRK_TOKENS="$R/hold-many-tokens.tsv" WRK_DATES="$MANY_CONCERT_DATES" WRK_SEATS=5000 \
		WRK_THREADS=$THREADS WRK_HOLDS_PER_USER=4 WRK_OFFSET=$(((round - 1) * MANY_PER_ROUND))
	unset WRK_CONNS
	overrun "$(last_wrk next_hold)" $((round * MANY_PER_ROUND))
done
stop_gateway
kill "$BASE_PID"
wait "$BASE_PID" 2>/dev/null || true
fi

if on cpu; then
	log "CPU per request: the hot routes on a gateway without batching and one with, in turn"
	# Two replicas of one deployment (one key prefix, one database, one
	# token secret): "before" sends every token issue and hold alone
	# (REDIS_BATCH=1 HOLD_BATCH=1), "after" batches them (64). Both are
	# cmd/benchbase -gateway, the same binary, with a pprof listener each;
	# each route runs on one and then the other, and every run of both is
	# profiled, so the profiler's small cost weighs on both alike.
	# Short runs: a route's CPU per request needs no more, and the phase
	# stays near a minute and a half with its preparation.
	CPU_DURATION=${BENCH_CPU_DURATION:-3s}
	CPU_SECS=${CPU_DURATION%s}
	[[ $CPU_SECS =~ ^[0-9]+$ ]] || { echo "bench: BENCH_CPU_DURATION must be whole seconds (3s)" >&2; exit 1; }
	# Enough holds and seats for two runs at rates above this machine's.
	CPU_PAY_PER_RUN=$((CPU_SECS * ${BENCH_CPU_PAY_RATE:-2500}))
	CPU_HOLD_PER_RUN=$((CPU_SECS * ${BENCH_CPU_HOLD_RATE:-35000}))
	CPU_PAY_USERS=$((2 * CPU_PAY_PER_RUN))
	CPU_HOLD_USERS=$((2 * CPU_HOLD_PER_RUN / 4))
	CPU_DATES=$(((CPU_PAY_USERS + 2 * CPU_HOLD_PER_RUN + 4999) / 5000))
	CPU_FIRST=$(date -d tomorrow +%F)
	CPU_DATE_LIST=$(bench_dates "$CPU_FIRST" "$CPU_DATES")
	CPU=$R/cpu
	mkdir -p "$CPU"
	db=rgbench_${RUN}_cpu
	DBS+=("$db")
	CPU_ENV=(REDIS_URL="$REDIS_URL" DATABASE_URL="$PG/$db?sslmode=disable" KEY_PREFIX="rgbench:$RUN:cpu:"
		ADMIN_TOKEN="$ADMIN_TOKEN" TOKEN_SECRET="bench-token-secret-$RUN" ENTER_RATE_PER_IP=0 LOG_LEVEL=warn
		ADMIT_PER_SECOND=100000 MAX_ACTIVE=1000000 MAX_HOLDS_PER_USER=4 HOLD_TTL=30m)
	record env "${CPU_ENV[@]}" "$BIN/rushgate" seed --dates "$CPU_DATES" --seats 5000 --price 10000 --first-date "$CPU_FIRST" >/dev/null
	declare -A CPU_URL CPU_PID CPU_PPROF
	for mode in before after; do
		batch=1
		[[ $mode == after ]] && batch=64
		port=$(spare_port)
		pport=$(spare_port)
		note env "${CPU_ENV[@]}" REDIS_BATCH=$batch HOLD_BATCH=$batch "$BIN/benchbase" -gateway -addr "127.0.0.1:$port" -pprof "127.0.0.1:$pport"
		env "${CPU_ENV[@]}" REDIS_BATCH=$batch HOLD_BATCH=$batch "$BIN/benchbase" -gateway -addr "127.0.0.1:$port" \
			-pprof "127.0.0.1:$pport" 2>"$WORK/gateway-cpu-$mode.log" &
		CPU_PID[$mode]=$!
		PIDS+=("${CPU_PID[$mode]}")
		CPU_URL[$mode]=http://127.0.0.1:$port
		CPU_PPROF[$mode]=http://127.0.0.1:$pport
		wait_http "${CPU_URL[$mode]}/readyz"
	done
	GW_URL=${CPU_URL[after]}
	# Admitted users first (holds take the first seats in order, so the
	# wrk holds start after them), then admission paused, so that the polls
	# are of waiting tokens and every new token waits, as in the routes phase.
	# The holds go through the before gateway and the rest through the
	# after one, so that neither meets its first payment with no Postgres
	# connection open.
	record "$BIN/rushload" holds -url "${CPU_URL[before]}" -users "$CPU_PAY_USERS" -out "$CPU/pay-holds.tsv"
	record "$BIN/rushload" tokens -url "$GW_URL" -users "$CPU_HOLD_USERS" -active -out "$CPU/hold-tokens.tsv"
	record curl -fsS -o /dev/null -X PATCH -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
		-d '{"paused":true}' "$GW_URL/admin/queue?concert_id=1"
	sleep 1.5 # every replica applies new settings within a second
	record "$BIN/rushload" tokens -url "$GW_URL" -users 1000 -out "$CPU/poll-tokens.tsv"
	REDIS_PID=$(rcli info server | awk -F: '/^process_id:/ { print $2 }' | tr -d '\r')
	echo "clk_tck=$(getconf CLK_TCK)" >"$CPU/meta.txt"
	echo "pay_holds_per_run=$CPU_PAY_PER_RUN" >>"$CPU/meta.txt"
	# cpu_snap FILE MODE: MODE's gateway's and Redis's CPU ticks (utime+stime,
	# from /proc; the fields after the command name), INFO commandstats and
	# the sums and counts of the gateway's script runs (rushgate_batch_*).
	cpu_snap() {
		{
			echo "gateway_ticks=$(sed 's/^.*) //' "/proc/${CPU_PID[$2]}/stat" | awk '{ print $12 + $13 }')"
			echo "redis_ticks=$(sed 's/^.*) //' "/proc/$REDIS_PID/stat" | awk '{ print $12 + $13 }')"
			rcli info commandstats | tr -d '\r' | grep '^cmdstat_'
			curl -fsS "${CPU_URL[$2]}/metrics" | grep -E '^rushgate_batch_[a-z_]+_(sum|count)\{' || true
		} >"$1"
	}
	# What the two idle replicas' own loops (admission ticks, live counts)
	# cost: the report takes it away from the runs' figures.
	for mode in before after; do cpu_snap "$CPU/idle_$mode.before" "$mode"; done
	sleep 2
	for mode in before after; do cpu_snap "$CPU/idle_$mode.after" "$mode"; done
	echo "idle_seconds=2" >>"$CPU/meta.txt"
	# cpu_run ROUTE MODE SCRIPT [VAR=VALUE...]: one wrk run on MODE's
	# gateway, with the CPU readings around it and a CPU profile during it.
	cpu_run() {
		local route=$1 mode=$2 script=$3 label=cpu_${1}_$2
		shift 3
		WRK_SCRIPT_ARGS=(-s "scripts/bench/$script")
		cpu_snap "$CPU/$label.before" "$mode"
		curl -fsS -o "$CPU/$label.pprof" "${CPU_PPROF[$mode]}/debug/pprof/profile?seconds=$((CPU_SECS > 2 ? CPU_SECS - 1 : 1))" &
		local prof=$!
		WRK_DURATION=$CPU_DURATION wrk_run "$label" "${CPU_URL[$mode]}" "$@"
		cpu_snap "$CPU/$label.after" "$mode"
		wait "$prof" || echo "bench: no CPU profile of $label" >&2
	}
	for mode in before after; do
		cpu_run tokens "$mode" tokens.lua WRK_PREFIX="cpu$RUN-$mode"
	done
	for mode in before after; do
		cpu_run poll "$mode" poll.lua WRK_TOKENS="$CPU/poll-tokens.tsv"
	done
	i=0
	for mode in before after; do
		cpu_run hold "$mode" hold.lua WRK_TOKENS="$CPU/hold-tokens.tsv" WRK_DATES="$CPU_DATE_LIST" WRK_SEATS=5000 \
			WRK_THREADS=$THREADS WRK_HOLDS_PER_USER=4 WRK_OFFSET=$((CPU_PAY_USERS + i * CPU_HOLD_PER_RUN))
		i=$((i + 1))
	done
	i=0
	for mode in before after; do
		cpu_run pay "$mode" pay.lua WRK_HOLDS="$CPU/pay-holds.tsv" WRK_THREADS=$THREADS WRK_STATUSES="$CPU/cpu_pay_$mode.statuses" \
			WRK_FIRST=$((i * CPU_PAY_PER_RUN)) WRK_COUNT=$CPU_PAY_PER_RUN
		i=$((i + 1))
	done
	# The report shows the after gateway's profiles: the top functions by
	# their own share.
	CPU_LANDMARKS='httpapi\.\(\*server\)\.handle[A-Z][A-Za-z]*$|go-redis/v9\.\(\*baseClient\)\._process$|lib/pq\.\(\*conn\)\.(query|Exec)$'
	CPU_LANDMARKS+='|^encoding/json\.(Unmarshal|Marshal)$|net/http\.\(\*conn\)\.readRequest$|net/http\.\(\*response\)\.finishRequest$'
	CPU_LANDMARKS+='|^runtime\.mallocgc$|^runtime\.gcBgMarkWorker$|linux\.Syscall6$'
	# Batches and payments run partly off the handler's goroutine.
	CPU_LANDMARKS+='|internal/coalesce\.\(\*Batcher\[.*\]\)\.send$|rushgate/payment\.\(\*Service\)\.pay$'
	for f in "$CPU"/cpu_*_after.pprof; do
		[[ -s $f ]] || continue
		go tool pprof -top -nodecount=8 "$f" >"${f%.pprof}.top" 2>/dev/null
		# And the cumulative share of a few landmarks: the route's handler,
		# a batch's run, a payment, the Redis and Postgres clients, JSON,
		# reading and answering HTTP, allocation and GC, system calls.
		go tool pprof -top -cum -nodecount=10 -show="$CPU_LANDMARKS" "$f" >"${f%.pprof}.cum" 2>/dev/null
	done
	for mode in before after; do
		kill -TERM "${CPU_PID[$mode]}"
		wait "${CPU_PID[$mode]}" 2>/dev/null || true
	done
fi

if on rush; then
log "rush: $RUSH_USERS users, one date of $RUSH_SEATS seats, admission $RUSH_RATE/s"
rcli flushall >/dev/null
SEED_ARGS="--dates 1 --seats $RUSH_SEATS --price 10000"
gateway rush ADMIT_PER_SECOND="$RUSH_RATE" MAX_ACTIVE=1000000
set +e
record "$BIN/rushload" -url "$GW_URL" -users "$RUSH_USERS" -seats "$RUSH_SEATS" -concurrency 256 \
	-duration 5m -admin-token "$ADMIN_TOKEN" -json >"$R/rush.json" 2>"$R/rush.progress"
echo $? >"$R/rush.exit"
set -e
tail -3 "$R/rush.progress" >&2
grep -E '^(VmHWM|VmRSS)' "/proc/$GW_PID/status" >"$R/rss.txt"
cat "$R/rss.txt" >&2
stop_gateway
fi

if on memory; then
log "Redis memory per waiting user ($MEM_USERS users)"
rcli flushall >/dev/null
SEED_ARGS="--dates 1 --seats 100 --price 10000"
gateway mem ADMIT_PER_SECOND=0 MAX_ACTIVE=1000000
sleep 1
before=$(rcli info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
record "$BIN/rushload" tokens -url "$GW_URL" -users "$MEM_USERS" -concurrency 64
sleep 1
after=$(rcli info memory | awk -F: '/^used_memory:/ { print $2 }' | tr -d '\r')
waiting=$(curl -fsS -H "Authorization: Bearer $ADMIN_TOKEN" "$GW_URL/admin/queue?concert_id=1" | sed 's/.*"waiting":\([0-9]*\).*/\1/')
printf 'users=%s\nwaiting=%s\nbefore=%s\nafter=%s\n' "$MEM_USERS" "$waiting" "$before" "$after" >"$R/memory.txt"
cat "$R/memory.txt" >&2
stop_gateway
fi

if on wait; then
	log "REDIS_WAIT_REPLICAS: token issues and holds with WAIT 1 and without, on a master with one replica"
	WPORT=$(spare_port)
	redis-server --port "$WPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
		--dbfilename wait-master.rdb --logfile "$WORK/redis-wait-master.log" &
	PIDS+=($!)
	for _ in $(seq 50); do redis-cli -p "$WPORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
	mkdir -p "$WORK/replica"
	WRPORT=$(spare_port)
	redis-server --port "$WRPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK/replica" \
		--replicaof 127.0.0.1 "$WPORT" --logfile "$WORK/redis-wait-replica.log" &
	PIDS+=($!)
	for _ in $(seq 100); do
		redis-cli -p "$WRPORT" info replication 2>/dev/null | grep -q master_link_status:up && break
		sleep 0.1
	done
	redis-cli -p "$WRPORT" info replication | grep -q master_link_status:up || { echo "bench: the replica did not sync" >&2; exit 1; }
	FIRST=$(date -d tomorrow +%F)
	SEED_ARGS="--dates $WAIT_HOLD_DATES --seats 5000 --price 10000 --first-date $FIRST"
	DATES=$(bench_dates "$FIRST" "$WAIT_HOLD_DATES")
	WAIT_USERS=$((WAIT_HOLD_DATES * 5000 / 4))
	PER_ROUND=$((WAIT_HOLD_DATES * 5000 / ROUNDS))
	declare -A WGW
	for w in 0 1; do
		gateway "wait$w" REDIS_URL="redis://127.0.0.1:$WPORT/0" REDIS_WAIT_REPLICAS=$w REDIS_WAIT_TIMEOUT=100ms \
			ADMIT_PER_SECOND=100000 MAX_ACTIVE=1000000 MAX_HOLDS_PER_USER=4
		WGW[$w]=$GW_URL
		record "$BIN/rushload" tokens -url "$GW_URL" -users "$WAIT_USERS" -active -out "$R/wait$w-tokens.tsv"
	done
	for round in $(seq "$ROUNDS"); do
		for w in 0 1; do
			WRK_SCRIPT_ARGS=(-s scripts/bench/tokens.lua)
			wrk_run "wait${w}_tokens" "${WGW[$w]}" WRK_PREFIX="wait$w-$RUN-$round"
		done
		for w in 0 1; do
			WRK_SCRIPT_ARGS=(-s scripts/bench/hold.lua)
			wrk_run "wait${w}_hold" "${WGW[$w]}" WRK_TOKENS="$R/wait$w-tokens.tsv" WRK_DATES="$DATES" WRK_SEATS=5000 \
				WRK_THREADS=$THREADS WRK_HOLDS_PER_USER=4 WRK_OFFSET=$(((round - 1) * PER_ROUND))
		done
	done
fi

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$R/machine.txt"
if [[ $PHASES != all ]]; then
	log "report of the phases run ($PHASES; a partial run does not write $OUT_MD)"
	if on routes; then go run ./scripts/bench/report -http-only -dir "$R"; fi
	if on wait; then go run ./scripts/bench/report -wait-only -dir "$R"; fi
	if on cpu; then go run ./scripts/bench/report -cpu-only -dir "$R"; fi
	if on instr && [[ -s $R/instructions.md ]]; then cat "$R/instructions.md"; fi
	exit 0
fi
log "report"
mkdir -p "$(dirname "$OUT_MD")"
go run ./scripts/bench/report -dir "$R" >"$OUT_MD.tmp"
mv "$OUT_MD.tmp" "$OUT_MD"
echo "bench: wrote $OUT_MD (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
if [[ $(cat "$R/rush.exit") != 0 ]]; then
	echo "bench: rushload exited $(cat "$R/rush.exit")" >&2
	exit 1
fi
