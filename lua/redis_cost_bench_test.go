package lua_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/redisstats"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/lua"
)

// The cost benchmarks of this package mark their loops for a counter that
// watches the Redis they use: when REDIS_COST_ZERO and REDIS_COST_DUMP are
// set, they are run (by sh) right before and right after the loop, so that
// the counter sees the loop alone, without the benchmark's setup and the
// deletion of its keys. scripts/bench/instructions.sh runs Redis under
// callgrind and counts its instructions this way: unlike times, which move
// by a fifth from run to run on a shared machine, the counts repeat.
func markCost(b *testing.B, env string) {
	b.Helper()
	cmd := os.Getenv(env)
	if cmd == "" {
		return
	}
	if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
		b.Fatalf("%s (%s): %v: %s", env, cmd, err, out)
	}
}

// enterCostBatch is the number of new users in each run of
// BenchmarkEnterBatchRedisCost.
const enterCostBatch = 64

// BenchmarkEnterBatchRedisCost runs enter.lua on the real Redis with runs of
// 64 new users, an open line's hot path in a rush, and reports what Redis
// spent per entry from INFO commandstats (figures of the whole server, as in
// BenchmarkHoldBatchRedisCost: use a Redis no one else uses).
func BenchmarkEnterBatchRedisCost(b *testing.B) {
	rdb, keys := testenv.Redis(b)
	ctx := context.Background()
	kc := keys.Concert(1)
	runKeys := []string{kc.Waiting(), kc.Active(), kc.ActiveUsers(), kc.Seq(), kc.Timeline(), kc.Queue(),
		kc.Prequeue(), kc.Heartbeats(), kc.Skipped(), kc.Rejoined(), kc.SkippedUsers()}
	next := 0
	before := commandStats(b, rdb)
	markCost(b, "REDIS_COST_ZERO")
	for b.Loop() {
		// A new second every ten runs, as a rush's entries spread over time.
		args := []any{1_900_000_000_000 + next/enterCostBatch/10*1000, 600_000, 30_000, 12_345, 60_000}
		for range enterCostBatch {
			args = append(args, "u"+strconv.Itoa(next))
			next++
		}
		allSucceeded(b, lua.Enter.Run(ctx, rdb, runKeys, args...), 2, 6, "entry")
	}
	markCost(b, "REDIS_COST_DUMP")
	reportCost(b, costDiff(before, commandStats(b, rdb)), float64(next), "entry")
}

// heartbeatCostBatch is the number of polled users in each flush of
// BenchmarkHeartbeatRedisCost.
const heartbeatCostBatch = 64

// BenchmarkHeartbeatRedisCost runs heartbeat.lua on the real Redis with
// flushes of 64 polled waiters, each a newer sign of life than the one
// kept (no one skipped): what each poll of a waiting token costs Redis
// later, when its replica flushes the polls it answered.
func BenchmarkHeartbeatRedisCost(b *testing.B) {
	const users = 100 * heartbeatCostBatch
	rdb, keys := testenv.Redis(b)
	ctx := context.Background()
	kc := keys.Concert(1)
	runKeys := []string{kc.Heartbeats(), kc.Skipped(), kc.Rejoined()}
	const start = 1_900_000_000_000
	beats := make([]any, 0, 2*users)
	for u := range users {
		beats = append(beats, "u"+strconv.Itoa(u), start)
	}
	if err := rdb.HSet(ctx, kc.Heartbeats(), beats...).Err(); err != nil {
		b.Fatal(err)
	}
	next := 0
	before := commandStats(b, rdb)
	markCost(b, "REDIS_COST_ZERO")
	for b.Loop() {
		// Each user's next poll is a millisecond of life later than its last.
		args := []any{start, 60_000}
		for range heartbeatCostBatch {
			u := next % users
			args = append(args, strconv.Itoa(u+1)+":u"+strconv.Itoa(u), start+1+next/users)
			next++
		}
		res, err := lua.Heartbeat.Run(ctx, rdb, runKeys, args...).Int64Slice()
		if err != nil {
			b.Fatal(err)
		}
		if len(res) != 2 || res[0] != heartbeatCostBatch {
			b.Fatalf("a flush of %d recorded %v", heartbeatCostBatch, res)
		}
	}
	markCost(b, "REDIS_COST_DUMP")
	reportCost(b, costDiff(before, commandStats(b, rdb)), float64(next), "poll")
}

// BenchmarkEvalshaBaselineRedisCost runs the one-line script of the
// EVALSHA baseline of make bench (cmd/benchbase: one INCR), once per
// iteration: what the least a script run costs Redis.
func BenchmarkEvalshaBaselineRedisCost(b *testing.B) {
	rdb, keys := testenv.Redis(b)
	ctx := context.Background()
	incr := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
	key := []string{keys.Prefix() + "{b}:n"}
	if err := incr.Load(ctx, rdb).Err(); err != nil {
		b.Fatal(err)
	}
	before := commandStats(b, rdb)
	markCost(b, "REDIS_COST_ZERO")
	n := 0
	for b.Loop() {
		n++
		if err := incr.EvalSha(ctx, rdb, key).Err(); err != nil {
			b.Fatal(err)
		}
	}
	markCost(b, "REDIS_COST_DUMP")
	reportCost(b, costDiff(before, commandStats(b, rdb)), float64(n), "call")
}

// allSucceeded fails the benchmark unless the script ran and each of its
// answers (stride integers, the first its code) has code 1.
func allSucceeded(b *testing.B, cmd *redis.Cmd, skip, stride int, what string) {
	b.Helper()
	vals, err := cmd.Int64Slice()
	if err != nil {
		b.Fatal(err)
	}
	for i := skip; i < len(vals); i += stride {
		if vals[i] != 1 {
			b.Fatalf("%s %d answered %v", what, i/stride, vals[i:i+stride])
		}
	}
}

// costDiff is what INFO commandstats counted between two readings, command
// by command.
func costDiff(before, after map[string]redisstats.Command) map[string]redisstats.Command {
	stats := make(map[string]redisstats.Command)
	for cmd, a := range after {
		if d := a.Sub(before[cmd]); d.Calls > 0 {
			stats[cmd] = d
		}
	}
	return stats
}

// reportCost reports, per unit of work, the Redis calls the scripts made,
// those calls' own time and the time of the script runs, and logs the calls
// command by command.
func reportCost(b *testing.B, stats map[string]redisstats.Command, units float64, unit string) {
	var inner, innerUsec, scriptUsec float64
	var lines []string
	for cmd, d := range stats {
		switch cmd {
		case "evalsha", "eval":
			scriptUsec += d.Usec
		case "info":
			// The benchmark's own reads of the figures.
		default:
			inner += d.Calls
			innerUsec += d.Usec
		}
		lines = append(lines, fmt.Sprintf("%s %.3f", cmd, d.Calls/units))
	}
	sort.Strings(lines)
	b.Logf("calls per %s: %s", unit, strings.Join(lines, ", "))
	b.ReportMetric(inner/units, "redis-calls/"+unit)
	b.ReportMetric(innerUsec/units, "calls-µs/"+unit)
	b.ReportMetric(scriptUsec/units, "script-µs/"+unit)
}
