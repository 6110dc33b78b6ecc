package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rushgate/rushgate/internal/redisstats"
)

// The CPU phase of scripts/bench/run.sh leaves in results/cpu, for each
// route and mode (label cpu_ROUTE_MODE): LABEL.before and LABEL.after, the
// readings around its wrk run (the gateway's and Redis's CPU ticks, INFO
// commandstats), LABEL.top and LABEL.cum, pprof's tops of the profile
// taken during the run; idle_MODE.before and .after, the same readings two
// seconds apart with both replicas idle; and meta.txt (clk_tck,
// idle_seconds).

var cpuRoutes = []struct{ key, route string }{
	{"tokens", "POST /api/tokens"},
	{"poll", "GET /api/queue/position"},
	{"hold", "POST /api/reservation"},
	{"pay", "POST /api/payment"},
}

// cpuSnap is one reading of the CPU phase.
type cpuSnap struct {
	gatewayTicks, redisTicks float64
	cmds                     map[string]redisstats.Command
	// runs holds the gateway's rushgate_batch_* sums and counts, by series
	// (name and labels, as /metrics writes them).
	runs map[string]float64
}

func readSnap(path string) (cpuSnap, error) {
	lines, err := readLines(path)
	if err != nil {
		return cpuSnap{}, err
	}
	s := cpuSnap{cmds: map[string]redisstats.Command{}, runs: map[string]float64{}}
	for _, l := range lines {
		if name, c, ok := redisstats.ParseLine(l); ok {
			s.cmds[name] = c
			continue
		}
		if strings.HasPrefix(l, "rushgate_batch_") {
			series, v, _ := strings.Cut(l, " ")
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return s, fmt.Errorf("%s: %q", path, l)
			}
			s.runs[series] = f
			continue
		}
		k, v, _ := strings.Cut(l, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return s, fmt.Errorf("%s: %q", path, l)
		}
		switch k {
		case "gateway_ticks":
			s.gatewayTicks = f
		case "redis_ticks":
			s.redisTicks = f
		}
	}
	return s, nil
}

// isScript tells the entries of scripts (whose time includes the commands
// they run, which have entries of their own) from those of commands.
func isScript(name string) bool {
	return strings.HasPrefix(name, "eval") || strings.HasPrefix(name, "fcall")
}

// cpuCost is what one window between two readings cost: CPU seconds of the
// gateway and of Redis, and the commandstats deltas split into commands and
// script runs.
type cpuCost struct {
	gateway, redis          float64 // seconds of CPU
	cmdCalls, cmdUsec       float64
	scriptCalls, scriptUsec float64
	byCmd                   map[string]redisstats.Command
	runs                    map[string]float64 // rushgate_batch_* deltas
}

func costBetween(a, b cpuSnap, tick float64) cpuCost {
	c := cpuCost{gateway: (b.gatewayTicks - a.gatewayTicks) * tick, redis: (b.redisTicks - a.redisTicks) * tick,
		byCmd: map[string]redisstats.Command{}, runs: map[string]float64{}}
	for series, after := range b.runs {
		c.runs[series] = after - a.runs[series]
	}
	for name, after := range b.cmds {
		before := a.cmds[name]
		d := after.Sub(before)
		if d.Calls == 0 {
			continue
		}
		c.byCmd[name] = d
		if isScript(name) {
			c.scriptCalls += d.Calls
			c.scriptUsec += d.Usec
		} else {
			c.cmdCalls += d.Calls
			c.cmdUsec += d.Usec
		}
	}
	return c
}

// minus takes away what the replicas' own loops cost over secs seconds at
// the idle rate (per second), never below zero.
func (c cpuCost) minus(idle cpuCost, secs float64) cpuCost {
	sub := func(x, rate float64) float64 { return max(0, x-rate*secs) }
	c.gateway = sub(c.gateway, idle.gateway)
	c.redis = sub(c.redis, idle.redis)
	c.cmdCalls = sub(c.cmdCalls, idle.cmdCalls)
	c.cmdUsec = sub(c.cmdUsec, idle.cmdUsec)
	c.scriptCalls = sub(c.scriptCalls, idle.scriptCalls)
	c.scriptUsec = sub(c.scriptUsec, idle.scriptUsec)
	return c
}

func (c cpuCost) per(secs float64) cpuCost {
	c.gateway, c.redis = c.gateway/secs, c.redis/secs
	c.cmdCalls, c.cmdUsec, c.scriptCalls, c.scriptUsec = c.cmdCalls/secs, c.cmdUsec/secs, c.scriptCalls/secs, c.scriptUsec/secs
	return c
}

// readCosts reads the phase's readings: each mode's idle rate (per second)
// and each run's cost with that rate taken away.
func readCosts(cpuDir string, runs map[string][]wrkResult) (idle map[string]cpuCost, costs map[string]cpuCost, err error) {
	meta, err := readKV(filepath.Join(cpuDir, "meta.txt"))
	if err != nil {
		return nil, nil, err
	}
	clk, _ := strconv.ParseFloat(meta["clk_tck"], 64)
	idleSecs, _ := strconv.ParseFloat(meta["idle_seconds"], 64)
	if clk <= 0 || idleSecs <= 0 {
		return nil, nil, fmt.Errorf("meta.txt: clk_tck %q, idle_seconds %q", meta["clk_tck"], meta["idle_seconds"])
	}
	pair := func(name string) (cpuCost, error) {
		a, err := readSnap(filepath.Join(cpuDir, name+".before"))
		if err != nil {
			return cpuCost{}, err
		}
		b, err := readSnap(filepath.Join(cpuDir, name+".after"))
		if err != nil {
			return cpuCost{}, err
		}
		return costBetween(a, b, 1/clk), nil
	}
	idle, costs = map[string]cpuCost{}, map[string]cpuCost{}
	for _, mode := range []string{"before", "after"} {
		c, err := pair("idle_" + mode)
		if err != nil {
			return nil, nil, err
		}
		idle[mode] = c.per(idleSecs)
		for _, r := range cpuRoutes {
			label := "cpu_" + r.key + "_" + mode
			if len(runs[label]) == 0 {
				return nil, nil, fmt.Errorf("wrk.jsonl: no %s run", label)
			}
			c, err := pair(label)
			if err != nil {
				return nil, nil, err
			}
			costs[label] = c.minus(idle[mode], runs[label][0].Seconds)
		}
	}
	return idle, costs, nil
}

// writeCPU reports the CPU each hot route costs per request, without
// batching and with it. It writes nothing when the run has no CPU phase.
func writeCPU(p func(string, ...any), dir string, runs map[string][]wrkResult) {
	cpuDir := filepath.Join(dir, "cpu")
	if _, err := os.Stat(filepath.Join(cpuDir, "meta.txt")); err != nil {
		return
	}
	p("## CPU per request, before and after batching (wrk, 64 connections)")
	p("")
	idle, costs, err := readCosts(cpuDir, runs)
	if err != nil {
		p("**The CPU phase's results could not be read: %v.**", err)
		p("")
		return
	}
	secs := runs["cpu_tokens_before"][0].Seconds
	meta, _ := readKV(filepath.Join(cpuDir, "meta.txt"))
	clk, _ := strconv.ParseFloat(meta["clk_tck"], 64)
	p("Two replicas of one deployment (one key prefix, database and token secret) on the bench's private")
	p("Redis, both `benchbase -gateway` (a whole gateway with a pprof listener): **before** sends every")
	p("token issue and seat hold to Redis alone (`REDIS_BATCH=1 HOLD_BATCH=1`), **after** batches them")
	p("(`REDIS_BATCH=64 HOLD_BATCH=64`). Each route ran on one and then the other, one wrk run of %.0f s", secs)
	p("each, the same load. Around each run: the gateway's and Redis's CPU (utime + stime from")
	p("`/proc/PID/stat`, in clock ticks of 1/`getconf CLK_TCK` s, so a run's CPU is known to %.0f ms) and", 1e3/clk)
	p("Redis's `INFO commandstats` (whose usec is the time inside each command: on a busy machine it")
	p("also counts moments when Redis was not on a core). What the replicas' own loops cost when idle")
	p("(admission ticks, live counts; measured over a quiet window with the queue paused, as during the")
	p("runs) is taken away:")
	p("before %.0f calls/s, %.1f ms/s of Redis CPU; after %.0f calls/s, %.1f ms/s.",
		idle["before"].cmdCalls+idle["before"].scriptCalls, idle["before"].redis*1e3, idle["after"].cmdCalls+idle["after"].scriptCalls, idle["after"].redis*1e3)
	p("")
	p("| route | batching | req/s | gateway CPU µs/req | Redis CPU µs/req | Redis commands µs/req | scripts µs/req | Redis commands/req | script runs/req | errors |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range cpuRoutes {
		for _, mode := range []string{"before", "after"} {
			label := "cpu_" + r.key + "_" + mode
			w := runs[label][0]
			c := costs[label]
			n := float64(w.Requests)
			what := "before (1)"
			if mode == "after" {
				what = "after (64)"
			}
			p("| %s | %s | %.0f | %.1f | %.1f | %.1f | %.1f | %.2f | %.3f | %d |", r.route, what, w.RPS,
				c.gateway*1e6/n, c.redis*1e6/n, c.cmdUsec/n, c.scriptUsec/n, c.cmdCalls/n, c.scriptCalls/n, w.errors())
		}
	}
	p("")
	writeRuns(p, costs, runs)
	if why := payErrors(cpuDir); why != "" {
		p("Payments answered other than 201 (status and error code): %s.", why)
		p("")
	}
	p("Redis commands are every command Redis ran (`INFO commandstats` calls and usec of all but")
	p("EVAL/EVALSHA), sent alone or run inside a script; scripts are the EVALSHA runs, whose time")
	p("includes that of the commands they ran, so the two columns overlap. Redis CPU is the whole")
	p("redis-server process: the commands plus reading, parsing and answering the calls. A poll of a")
	p("waiting token makes no Redis call itself: its Redis work is the batched heartbeat (\"still")
	p("here\") of the waiting tokens. Each payment is of its own hold, prepared by `rushload holds`")
	p("(%s per run; an errors count above 0 there means a run needed more).", meta["pay_holds_per_run"])
	p("")
	p("Where the after gateway's CPU goes: a CPU profile (`/debug/pprof/profile`) of it during each run")
	p("(the before gateway was profiled alike, so the profiler's small cost weighs on both): the top")
	p("functions by their own (flat) share, then the cumulative share of some landmarks (the route's")
	p("handler; a batch's run and a payment, which run partly off the handler's goroutine; the Redis")
	p("and Postgres clients; JSON; reading a request and finishing its answer; allocation and GC;")
	p("system calls). Shares overlap: a landmark's includes those it calls.")
	p("")
	for _, r := range cpuRoutes {
		label := "cpu_" + r.key + "_after"
		p("**%s**", r.route)
		p("")
		p("```")
		for _, f := range []string{label + ".top", label + ".cum"} {
			lines, err := readLines(filepath.Join(cpuDir, f))
			if err != nil {
				p("(no profile: %v)", err)
				continue
			}
			for _, l := range pprofTop(lines) {
				p("%s", l)
			}
		}
		p("```")
		p("")
	}
}

// pprofTop keeps of `go tool pprof -top` its totals line and its table.
func pprofTop(lines []string) []string {
	var out []string
	table := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Duration:"):
			out = append(out, l)
		case strings.Contains(l, "flat%") && strings.Contains(l, "cum%"):
			table = true
			out = append(out, l)
		case table && strings.TrimSpace(l) != "":
			out = append(out, shortenShapes(l))
		}
	}
	return out
}

// shortenShapes writes the type arguments of a generic function's name
// (Batcher[go.shape.int64,…]) as […]: they can run to hundreds of
// characters.
func shortenShapes(l string) string {
	i := strings.Index(l, "[go.shape.")
	if i < 0 {
		return l
	}
	depth := 0
	for j := i; j < len(l); j++ {
		switch l[j] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return l[:i] + "[…]" + shortenShapes(l[j+1:])
			}
		}
	}
	return l
}

// writeCPUOnly is the report of a run of the CPU phase alone.
func writeCPUOnly(w io.Writer, dir string) error {
	return writeSection(w, dir, func(p func(string, ...any), runs map[string][]wrkResult) { writeCPU(p, dir, runs) })
}

// payErrors tells the payments answered other than 201 in each mode, from
// the tallies pay.lua leaves ("count status code" lines); empty when there
// were none.
func payErrors(cpuDir string) string {
	var parts []string
	for _, mode := range []string{"before", "after"} {
		lines, err := readLines(filepath.Join(cpuDir, "cpu_pay_"+mode+".statuses"))
		if err != nil || len(lines) == 0 {
			continue
		}
		var tally []string
		for _, l := range lines {
			if n, what, ok := strings.Cut(l, " "); ok {
				tally = append(tally, n+"× "+what)
			}
		}
		slices.Sort(tally)
		parts = append(parts, mode+" "+strings.Join(tally, ", "))
	}
	return strings.Join(parts, "; ")
}

// writeRuns reports the script runs of the token issues and holds, from the
// gateway's rushgate_batch_* metrics and Redis's commandstats: how full
// they were, how long their oldest request waited for them and how long a
// run took seen from the gateway and inside Redis. The difference between
// the last two is the network and the time either side waited for a core.
func writeRuns(p func(string, ...any), costs map[string]cpuCost, runs map[string][]wrkResult) {
	p("The runs of the scripts in these rows (the gateway's `rushgate_batch_*` metrics, sums and counts")
	p("read around each run, and the EVALSHA runs of `INFO commandstats`): requests per run, how long a")
	p("run's oldest request waited for it to go, how long a run took from the gateway, and inside Redis.")
	p("")
	p("| route | batching | script runs/s | requests/run | queued µs/run | run µs, gateway | run µs, inside Redis |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	// The routes whose requests are script runs, by the runs' kind label.
	kinds := map[string]string{"tokens": "enter", "hold": "hold"}
	for _, r := range cpuRoutes {
		kind, ok := kinds[r.key]
		if !ok {
			continue
		}
		for _, mode := range []string{"before", "after"} {
			label := "cpu_" + r.key + "_" + mode
			c := costs[label]
			series := func(name string) float64 { return c.runs[name+`{kind="`+kind+`"}`] }
			n := series("rushgate_batch_calls_count")
			what := "before (1)"
			if mode == "after" {
				what = "after (64)"
			}
			if n <= 0 {
				p("| %s | %s | (no runs counted) | | | | |", r.route, what)
				continue
			}
			inRedis := 0.0
			if c.scriptCalls > 0 {
				inRedis = c.scriptUsec / c.scriptCalls
			}
			p("| %s | %s | %.0f | %.1f | %.0f | %.0f | %.0f |", r.route, what, n/runs[label][0].Seconds,
				series("rushgate_batch_calls_sum")/n, series("rushgate_batch_queued_seconds_sum")/n*1e6,
				series("rushgate_batch_duration_seconds_sum")/n*1e6, inRedis)
		}
	}
	p("")
}
