package lua_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/redisstats"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/lua"
)

// BenchmarkHoldBatchRedisCost runs hold_batch.lua on the real Redis with
// runs of 64 successful holds, each with a gate, by users holding their first
// seat: the hot path of a rush. Besides time per hold it reports what Redis
// itself spent per hold, from INFO commandstats: the calls the script made
// and the microseconds of the script runs. Those figures are the server's
// totals, so they mean something only on a Redis no one else uses:
//
//	redis-server --port 16499 --save '' --appendonly no &
//	TEST_REDIS_URL=redis://127.0.0.1:16499/0 go test -run x -bench RedisCost ./lua
func BenchmarkHoldBatchRedisCost(b *testing.B) {
	holds, stats := runHoldCost(b, lua.HoldBatch, true, false)
	reportCost(b, stats, holds, "hold")
}

// BenchmarkHoldBatchRedisCostOwnTokens is BenchmarkHoldBatchRedisCost with
// each buyer admitted by a token of their own, as in a rush: each hold then
// reads the gate (one ZSCORE), where the holds of BenchmarkHoldBatchRedisCost
// share one admitted token and read it once a run.
func BenchmarkHoldBatchRedisCostOwnTokens(b *testing.B) {
	holds, stats := runHoldCost(b, lua.HoldBatch, true, true)
	reportCost(b, stats, holds, "hold")
}

// BenchmarkHoldBatchScriptParts splits the time Redis spends in a run of
// hold_batch.lua (the runs of BenchmarkHoldBatchRedisCost, on a Redis no one
// else uses, as there) into its parts, each a sub-benchmark whose
// script-µs/hold is what that run cost inside EVALSHA:
//
//   - script: the script itself;
//   - lua-only: the same script with its Redis calls answered by a Lua
//     stand-in that gives the success path's answers (the block of ids is
//     still read from Redis, once per run): what interpreting the script
//     costs, its arguments included;
//   - arguments-only: a script that returns at once, sent the same keys and
//     arguments: what taking in a run's arguments costs.
//
// script minus lua-only is what the Redis calls cost, their own time (the
// calls-µs/hold of BenchmarkHoldBatchRedisCost) and the cost of calling them
// from Lua together.
func BenchmarkHoldBatchScriptParts(b *testing.B) {
	src, err := os.ReadFile("hold_batch.lua")
	if err != nil {
		b.Fatal(err)
	}
	variants := []struct {
		name   string
		script *redis.Script
	}{
		{"script", lua.HoldBatch},
		{"lua-only", redis.NewScript(luaOnlyStandIn + string(src))},
		{"arguments-only", redis.NewScript("return 1")},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			holds, stats := runHoldCost(b, v.script, false, false)
			b.ReportMetric((stats["evalsha"].Usec+stats["eval"].Usec)/holds, "script-µs/hold")
		})
	}
}

// luaOnlyStandIn shadows the redis table of hold_batch.lua with one whose
// call answers as Redis would on the success path of a buyer's first hold:
// admitted, the date's seat locks loaded, no live holds, the seat free (the
// seat's SET NX GET finds no lock; the record's SET is not read). The block of ids is read from Redis, so that ids run on.
const luaOnlyStandIn = `local real_call, real_error = redis.call, redis.error_reply
local redis = {error_reply = real_error, call = function(cmd, key, ...)
  if cmd == 'HMGET' then return real_call(cmd, key, ...) end
  if cmd == 'ZMSCORE' then
    local scores = {}
    for i = 1, select('#', ...) do scores[i] = '1000000000000000' end
    return scores
  end
  if cmd == 'GET' then return 'loaded' end
  if cmd == 'ZCOUNT' then return 0 end
  if cmd == 'SET' then return false end
  return 1
end}
`

// costBatch is the number of holds in each run of the cost benchmarks.
const costBatch = 64

// ownTokenPool is how many admitted tokens the buyers of
// BenchmarkHoldBatchRedisCostOwnTokens take in turn: every hold of a run has
// its own.
const ownTokenPool = 50 * costBatch

// holdCostSetup prepares runs of costBatch successful holds, each with a
// gate, by users holding their first seat (the hot path of a rush), and
// returns the keys and arguments of the next run at each call.
// With ownTokens each buyer is admitted by a token of their own (one of a
// pool of ownTokenPool, all admitted beforehand, so that admitting them is
// not counted), else all share one.
func holdCostSetup(b *testing.B, ownTokens bool) (redis.UniversalClient, func() ([]string, []any)) {
	const seats = 50_000
	rdb, keys := testenv.Redis(b)
	ctx := context.Background()
	kc := keys.Concert(1)
	gate := kc.Active()
	// The block of ids outlasts any run of the benchmark.
	if err := rdb.HSet(ctx, kc.HoldIDs(), "id", 0, "last", 1_000_000_000_000).Err(); err != nil {
		b.Fatal(err)
	}
	recordPrefix := strings.TrimSuffix(kc.Hold(0), "0")
	day := func(n int) string { return fmt.Sprintf("2030-%02d-%02d", 1+n/28%12, 1+n%28) }
	next := 0
	runArgs := func() ([]string, []any) {
		runKeys := []string{kc.HoldIDs(), recordPrefix}
		args := []any{bNow, bTTL, 4, bRecordTTL, "", "", "set"}
		// As Go sends a run: each key once, at the first hold that needs it.
		days := map[string]bool{}
		for i := range costBatch {
			d, seat, user := day(next/seats), next%seats+1, "u"+strconv.Itoa(next)
			next++
			runKeys = append(runKeys, kc.Seat(d, seat))
			if !days[d] {
				days[d] = true
				runKeys = append(runKeys, kc.Held(d), kc.SeatLocksLoaded(d))
			}
			runKeys = append(runKeys, kc.UserHolds(user))
			if i == 0 {
				runKeys = append(runKeys, gate)
			}
			member := "admitted"
			if ownTokens {
				member = "t" + strconv.Itoa(next%ownTokenPool)
			}
			args = append(args, user, d, seat, 10000, "0", member)
		}
		return runKeys, args
	}
	// The gate members the holds pass: admitted until long after now.
	admitted := []redis.Z{{Score: bNow + 1e12, Member: "admitted"}}
	if ownTokens {
		for i := range ownTokenPool {
			admitted = append(admitted, redis.Z{Score: bNow + 1e12, Member: "t" + strconv.Itoa(i)})
		}
	}
	if err := rdb.ZAdd(ctx, gate, admitted...).Err(); err != nil {
		b.Fatal(err)
	}
	for n := range 12 * 28 {
		if err := rdb.Set(ctx, kc.SeatLocksLoaded(day(n)), "loaded", 0).Err(); err != nil {
			b.Fatal(err)
		}
	}
	return rdb, runArgs
}

// runHoldCost runs script on runs of holdCostSetup for the benchmark's
// loop and returns the holds sent and what INFO commandstats counted
// meanwhile, command by command; with check, every hold must succeed.
func runHoldCost(b *testing.B, script *redis.Script, check, ownTokens bool) (float64, map[string]redisstats.Command) {
	rdb, runArgs := holdCostSetup(b, ownTokens)
	ctx := context.Background()
	before := commandStats(b, rdb)
	markCost(b, "REDIS_COST_ZERO")
	runs := 0
	for b.Loop() {
		runs++
		keys, args := runArgs()
		cmd := script.Run(ctx, rdb, keys, args...)
		if err := cmd.Err(); err != nil {
			b.Fatal(err)
		}
		if !check {
			continue
		}
		allSucceeded(b, cmd, 0, 3, "hold")
	}
	markCost(b, "REDIS_COST_DUMP")
	return float64(runs * costBatch), costDiff(before, commandStats(b, rdb))
}

// commandStats reads INFO commandstats (see redisstats).
func commandStats(b *testing.B, rdb redis.UniversalClient) map[string]redisstats.Command {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	return redisstats.Parse(info)
}
