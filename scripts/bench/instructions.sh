#!/usr/bin/env bash
# instructions.sh: what the hot scripts cost Redis, counted in instructions.
#
# Runs a private redis-server under valgrind's callgrind and, for each cost
# benchmark of ./lua, counts the instructions Redis executes during the
# benchmark's loop alone (the benchmarks mark their loops: see markCost in
# lua/redis_cost_bench_test.go): a seat hold (runs of 64 buyers' first holds,
# sharing one admitted token, and each with their own, as in a rush),
# a token issue (runs of 64 new users), the heartbeat a poll of a waiting
# token leaves for its replica's next flush (flushes of 64 polled users) and
# the EVALSHA of make bench's baseline (one INCR). Times move by a fifth from
# run to run on a shared machine; these counts repeat to within a fraction of
# a percent, so a change to a script can be judged by them before it is
# judged by make bench.
#
#   bash scripts/bench/instructions.sh            # a Markdown table on stdout
#   INSTR_RUNS=400 bash scripts/bench/instructions.sh
#   # other cost benchmarks of ./lua too, as NAME:UNITS_PER_ITERATION
#   INSTR_MORE='BenchmarkHoldBatchScriptParts/lua-only:64' bash scripts/bench/instructions.sh
#
# Valgrind slows Redis some fifty times: the runs are short (INSTR_RUNS
# iterations of each benchmark, 200 by default), which is enough because the
# counts do not vary. Installs valgrind when missing and run as root.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
RUNS=${INSTR_RUNS:-200}

if ! command -v valgrind >/dev/null && [[ $(id -u) == 0 ]]; then
	echo "instructions: installing valgrind" >&2
	apt-get install -y -qq valgrind >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
fi
for tool in valgrind callgrind_control redis-server redis-cli; do
	command -v "$tool" >/dev/null || { echo "instructions: $tool is missing (apt-get install valgrind redis-server)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/rushgate-instr.XXXXXX)
PORT=$((20000 + RANDOM % 10000))
VG_PID=
cleanup() {
	if [[ -n $VG_PID ]]; then
		redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill "$VG_PID" 2>/dev/null || true
		wait "$VG_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

go test -c -o "$WORK/lua.test" ./lua

# Redis' timer work (10 times a second by default) is counted with the loop
# it falls in, and under valgrind a loop lasts fifty times longer than
# without: --hz 1 keeps that work from weighing on the counts.
valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
	redis-server --port "$PORT" --bind 127.0.0.1 --hz 1 --save '' --appendonly no --dir "$WORK" >"$WORK/valgrind.log" 2>&1 &
VG_PID=$!
for _ in $(seq 300); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$PORT" ping >/dev/null || { echo "instructions: redis-server under valgrind does not answer" >&2; cat "$WORK/valgrind.log" >&2; exit 1; }

# count BENCHMARK UNITS_PER_RUN: instructions per unit of work in the loop.
count() {
	local bench=$1 per=$2 dump
	local before
	before=$(ls "$WORK"/cg.*.* 2>/dev/null | wc -l)
	(cd lua && TEST_REDIS_URL="redis://127.0.0.1:$PORT/0" \
		REDIS_COST_ZERO="callgrind_control -z $VG_PID >/dev/null" \
		REDIS_COST_DUMP="callgrind_control -d $VG_PID >/dev/null" \
		"$WORK/lua.test" -test.run '^$' -test.bench "^$bench\$" -test.benchtime "${RUNS}x" -test.count 1 >"$WORK/${bench//\//_}.log" 2>&1) ||
		{ echo "instructions: $bench failed:" >&2; cat "$WORK/${bench//\//_}.log" >&2; exit 1; }
	dump=$(ls -t "$WORK"/cg.*.* | head -1)
	if (($(ls "$WORK"/cg.*.* | wc -l) != before + 1)); then
		echo "instructions: $bench left no dump of its loop" >&2
		exit 1
	fi
	awk -v units=$((RUNS * per)) '/^(summary|totals):/ { printf "%.0f", $2 / units; exit }' "$dump"
}

hold=$(count BenchmarkHoldBatchRedisCost 64)
hold_own=$(count BenchmarkHoldBatchRedisCostOwnTokens 64)
enter=$(count BenchmarkEnterBatchRedisCost 64)
beat=$(count BenchmarkHeartbeatRedisCost 64)
evalsha=$(count BenchmarkEvalshaBaselineRedisCost 1)

echo "| Work (on Redis, per unit) | Instructions | × one EVALSHA |"
echo "|---|---:|---:|"
awk -v h="$hold" -v o="$hold_own" -v e="$enter" -v p="$beat" -v b="$evalsha" 'BEGIN {
	printf "| seat hold, batched (runs of 64 buyers'"'"' first holds, one admitted token) | %d | %.2f |\n", h, h / b
	printf "| seat hold, batched, each buyer with a token of their own (as in a rush) | %d | %.2f |\n", o, o / b
	printf "| token issue, batched (runs of 64 new users) | %d | %.2f |\n", e, e / b
	printf "| poll of a waiting token, its heartbeat (flushes of 64 polled users) | %d | %.2f |\n", p, p / b
	printf "| EVALSHA of one INCR (make bench'"'"'s baseline) | %d | 1.00 |\n", b
}'
for more in ${INSTR_MORE:-}; do
	n=$(count "${more%:*}" "${more##*:}")
	awk -v name="${more%:*}" -v n="$n" -v b="$evalsha" 'BEGIN { printf "| %s | %d | %.2f |\n", name, n, n / b }'
done
echo
echo "Counted by \`bash scripts/bench/instructions.sh\` (callgrind, $RUNS runs of each; the loops alone)."
