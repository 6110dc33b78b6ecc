// Command report turns the results of scripts/bench/run.sh (a directory of
// wrk JSON lines, go test -bench output, a rushload JSON report, the
// gateway's peak RSS and Redis memory readings) into docs/benchmarks.md.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rushgate/rushgate/internal/rush"
)

func main() {
	dir := flag.String("dir", "", "the results directory of scripts/bench/run.sh")
	httpOnly := flag.Bool("http-only", false, "print only the table of the wrk runs found (a run of some phases)")
	waitOnly := flag.Bool("wait-only", false, "write only the REDIS_WAIT_REPLICAS section (BENCH_PHASES=wait)")
	cpuOnly := flag.Bool("cpu-only", false, "write only the CPU per request section (BENCH_PHASES=cpu)")
	flag.Parse()
	run := write
	switch {
	case *httpOnly:
		run = writeHTTP
	case *waitOnly:
		run = writeWaitOnly
	case *cpuOnly:
		run = writeCPUOnly
	}
	if err := run(os.Stdout, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

type wrkResult struct {
	Label         string  `json:"label"`
	Requests      int64   `json:"requests"`
	Seconds       float64 `json:"seconds"`
	RPS           float64 `json:"rps"`
	P50           float64 `json:"p50_ms"`
	P90           float64 `json:"p90_ms"`
	P99           float64 `json:"p99_ms"`
	Max           float64 `json:"max_ms"`
	Non2xx        int64   `json:"non_2xx"`
	ConnectErrors int64   `json:"connect_errors"`
	ReadErrors    int64   `json:"read_errors"`
	WriteErrors   int64   `json:"write_errors"`
	Timeouts      int64   `json:"timeouts"`
	Conns         int     `json:"-"` // from the run's command line
}

func (w wrkResult) errors() int64 {
	return w.Non2xx + w.ConnectErrors + w.ReadErrors + w.WriteErrors + w.Timeouts
}

type goBench struct {
	Pkg, Name           string
	N                   int64
	NsOp, BOp, AllocsOp float64
	Extra               []string // the benchmark's own metrics, "value unit"
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

func readKV(path string) (map[string]string, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range lines {
		for _, sep := range []string{"=", ":"} {
			if k, v, ok := strings.Cut(l, sep); ok {
				m[strings.TrimSpace(k)] = strings.TrimSpace(v)
				break
			}
		}
	}
	return m, nil
}

func parseGoBench(lines []string) []goBench {
	var out []goBench
	pkg := ""
	for _, l := range lines {
		if p, ok := strings.CutPrefix(l, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/rushgate/rushgate/")
			continue
		}
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || f[3] != "ns/op" {
			continue
		}
		b := goBench{Pkg: pkg, Name: f[0]}
		b.N, _ = strconv.ParseInt(f[1], 10, 64)
		b.NsOp, _ = strconv.ParseFloat(f[2], 64)
		for i := 4; i+1 < len(f); i += 2 {
			v, _ := strconv.ParseFloat(f[i], 64)
			switch f[i+1] {
			case "B/op":
				b.BOp = v
			case "allocs/op":
				b.AllocsOp = v
			default:
				b.Extra = append(b.Extra, f[i]+" "+f[i+1])
			}
		}
		out = append(out, b)
	}
	return out
}

type target struct {
	what, want, got string
	ok              bool
}

func write(w io.Writer, dir string) error {
	if dir == "" {
		return fmt.Errorf("-dir is required")
	}
	machine, err := readLines(filepath.Join(dir, "machine.txt"))
	if err != nil {
		return err
	}
	gobenchLines, err := readLines(filepath.Join(dir, "gobench.txt"))
	if err != nil {
		return err
	}
	benches := parseGoBench(gobenchLines)
	wrkLines, err := readLines(filepath.Join(dir, "wrk.jsonl"))
	if err != nil {
		return err
	}
	runs := map[string][]wrkResult{}
	for _, l := range wrkLines {
		var r wrkResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return fmt.Errorf("wrk.jsonl: %w", err)
		}
		runs[r.Label] = append(runs[r.Label], r)
	}
	if err := readConns(dir, runs); err != nil {
		return err
	}
	open, err := readOpen(dir, runs)
	if err != nil {
		return err
	}
	wrk := map[string]wrkResult{}
	for label, rs := range runs {
		wrk[label] = median(rs)
	}
	for _, l := range []string{"base_fixed", "base_zrank", "base_evalsha", "base_evalsha_hold", "gw_poll", "gw_tokens", "gw_hold", "gw_page", "gw_assets",
		"gw_poll_many", "gw_tokens_many", "gw_hold_many"} {
		if _, ok := wrk[l]; !ok {
			return fmt.Errorf("wrk.jsonl: no %s run", l)
		}
	}
	var rep rush.Report
	raw, err := os.ReadFile(filepath.Join(dir, "rush.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("rush.json: %w", err)
	}
	rushExit, _ := os.ReadFile(filepath.Join(dir, "rush.exit"))
	rss, err := readKV(filepath.Join(dir, "rss.txt"))
	if err != nil {
		return err
	}
	mem, err := readKV(filepath.Join(dir, "memory.txt"))
	if err != nil {
		return err
	}
	page, err := readKV(filepath.Join(dir, "page.txt"))
	if err != nil {
		return err
	}
	holdSet, err := readKV(filepath.Join(dir, "holds.txt"))
	if err != nil {
		return err
	}
	commands, err := readLines(filepath.Join(dir, "commands.txt"))
	if err != nil {
		return err
	}

	hwmKB, _ := strconv.ParseFloat(strings.TrimSuffix(rss["VmHWM"], " kB"), 64)
	hwmMB := hwmKB / 1024
	users, _ := strconv.ParseFloat(mem["users"], 64)
	before, _ := strconv.ParseFloat(mem["before"], 64)
	after, _ := strconv.ParseFloat(mem["after"], 64)
	perUser := (after - before) / users

	poll, tokens, hold := wrk["gw_poll"], wrk["gw_tokens"], wrk["gw_hold"]
	pollMany, tokensMany, holdMany := wrk["gw_poll_many"], wrk["gw_tokens_many"], wrk["gw_hold_many"]
	pageRun, assets := wrk["gw_page"], wrk["gw_assets"]
	pageBytes, _ := strconv.Atoi(page["page_bytes"])
	assetBytes, _ := strconv.Atoi(page["asset_bytes"])
	assetCount, _ := strconv.Atoi(page["assets"])
	firstLoad := pageBytes + assetBytes
	fixed, zrank, evalsha := wrk["base_fixed"], wrk["base_zrank"], wrk["base_evalsha"]
	evalshaHold := wrk["base_evalsha_hold"]
	ratio := func(a, b wrkResult) float64 { return a.RPS / b.RPS }
	adm := rep.Admission
	// measured is a ratio of medians with the ratio of each round beside it
	// (a route and its baseline run back to back in a round), so that a
	// machine whose speed moves between rounds shows it.
	measured := func(a, b wrkResult) string {
		return fmt.Sprintf("%.2f× (rounds %s)", ratio(a, b), roundRatios(runs[a.Label], runs[b.Label]))
	}
	targets := []target{
		{"poll vs one ZRANK", "≥ 1.5×", measured(poll, zrank), ratio(poll, zrank) >= 1.5},
		{"poll vs fixed JSON (ceiling)", "≥ 0.85×", measured(poll, fixed), ratio(poll, fixed) >= 0.85},
		{"token issue vs one EVALSHA", "≥ 1.2×", measured(tokens, evalsha), ratio(tokens, evalsha) >= 1.2},
		{"seat hold vs one EVALSHA", "≥ 1.0×", measured(hold, evalshaHold), ratio(hold, evalshaHold) >= 1.0},
		{"waiting page, first load (gzip)", "< 60 KB", fmt.Sprintf("%.1f KB in %d requests", float64(firstLoad)/1024, 1+assetCount), firstLoad > 0 && firstLoad < 60*1024},
		{"poll p99 at 64 connections", "< 20 ms", fmt.Sprintf("%.2f ms", poll.P99), poll.P99 < 20},
		{"token issue p99 at 64 connections", "< 20 ms", fmt.Sprintf("%.2f ms", tokens.P99), tokens.P99 < 20},
		manyTarget("poll", pollMany, poll),
		manyTarget("token issue", tokensMany, tokens),
		manyTarget("seat hold", holdMany, hold),
		openTarget("poll", open, "gw_poll_open"),
		openTarget("token issue", open, "gw_tokens_open"),
		openTarget("seat hold", open, "gw_hold_open"),
		{"rush invariants", "0 violations", fmt.Sprintf("%d violations", rep.Violations), rep.Violations == 0},
		{"rush admission rate", "within 5% of configured", fmt.Sprintf("%.1f/s vs %.0f/s (%+.2f%%)", adm.MeasuredRate, adm.ConfiguredRate, adm.RateErrorPct),
			adm.RateNote == "" && adm.RateErrorPct >= -5 && adm.RateErrorPct <= 5},
		{"gateway peak RSS during the rush", "< 150 MB", fmt.Sprintf("%.1f MB", hwmMB), hwmMB > 0 && hwmMB < 150},
		{"Redis per waiting user", "≤ 250 B", fmt.Sprintf("%.0f B", perUser), perUser > 0 && perUser <= 250},
	}

	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("# Benchmarks")
	p("")
	p("Measured by `make bench` (scripts/bench/run.sh) in one run on one machine: the gateway, its")
	p("baselines, Redis, PostgreSQL and the load generators all share the same %s cores, so every", nproc(machine))
	p("figure is a floor for a real deployment, and the ratios to the baselines built in the same run")
	p("are what carries over. Regenerate with `make bench`; this file is overwritten.")
	p("")
	p("## Machine")
	p("")
	p("```")
	for _, l := range machine {
		p("%s", l)
	}
	p("```")
	p("")
	p("## Targets")
	p("")
	p("| what | target | measured | |")
	p("| --- | --- | --- | --- |")
	missed := 0
	for _, t := range targets {
		mark := "met"
		if !t.ok {
			mark, missed = "**missed**", missed+1
		}
		p("| %s | %s | %s | %s |", t.what, t.want, t.got, mark)
	}
	p("")
	if missed > 0 {
		p("%d of %d targets missed; see the notes at the end.", missed, len(targets))
	} else {
		p("Every target met.")
	}
	p("")
	p("## HTTP routes against bare baselines (wrk, %d connections, %d threads, %d rounds of %.0f s)", 64, 2, len(runs["gw_poll"]), poll.Seconds)
	p("")
	p("Baselines are `cmd/benchbase`: gin with no middleware and the gateway's Redis client settings,")
	p("answering a fixed JSON of a poll's shape (the ceiling of any route), one `ZRANK` on a 100,000-member")
	p("sorted set, or one `EVALSHA` of a one-line script. Each route and its baselines ran in turn, round")
	p("after round; every figure is the median over the rounds (the req/s range beside it), so that other")
	p("work on the machine weighs on a route and its baseline alike. Latencies are wrk's (ms).")
	p("")
	p("| server | route | req/s | (range) | p50 | p90 | p99 | max | errors | ratio |")
	p("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
	row := func(server, route string, r wrkResult, ratio string) {
		lo, hi := r.RPS, r.RPS
		for _, x := range runs[r.Label] {
			lo, hi = min(lo, x.RPS), max(hi, x.RPS)
		}
		p("| %s | %s | %.0f | %.0f–%.0f | %.2f | %.2f | %.2f | %.2f | %d | %s |", server, route, r.RPS, lo, hi, r.P50, r.P90, r.P99, r.Max, r.errors(), ratio)
	}
	row("baseline", "GET /fixed (fixed JSON)", fixed, "")
	row("baseline", "GET /zrank (one ZRANK)", zrank, "")
	row("baseline", "POST /evalsha (one EVALSHA)", evalsha, "")
	row("baseline", "POST /evalsha (one EVALSHA), a hold's requests", evalshaHold, "")
	row("gateway", "GET /api/queue/position", poll, fmt.Sprintf("%.2f× ZRANK, %.2f× fixed", ratio(poll, zrank), ratio(poll, fixed)))
	row("gateway", "POST /api/tokens", tokens, fmt.Sprintf("%.2f× EVALSHA", ratio(tokens, evalsha)))
	row("gateway", "POST /api/reservation", hold, fmt.Sprintf("%.2f× EVALSHA (a hold's requests), %.2f× EVALSHA", ratio(hold, evalshaHold), ratio(hold, evalsha)))
	row("gateway", fmt.Sprintf("GET /api/queue/position, %s connections", conns(pollMany)), pollMany, fmt.Sprintf("%.2f× at 64", ratio(pollMany, poll)))
	row("gateway", fmt.Sprintf("POST /api/tokens, %s connections", conns(tokensMany)), tokensMany, fmt.Sprintf("%.2f× at 64", ratio(tokensMany, tokens)))
	row("gateway", fmt.Sprintf("POST /api/reservation, %s connections", conns(holdMany)), holdMany, fmt.Sprintf("%.2f× at 64", ratio(holdMany, hold)))
	row("gateway", "GET /wait/1 (waiting page)", pageRun, fmt.Sprintf("%.2f× fixed", ratio(pageRun, fixed)))
	row("gateway", "GET /fan/… (its scripts and styles)", assets, fmt.Sprintf("%.2f× fixed", ratio(assets, fixed)))
	p("")
	p("Polls use 1,000 waiting tokens round robin (admission paused, so each is answered from the")
	p("replica's copy of the admission head). Each token request is a new user (201). Each hold is a")
	p("different seat of %s dates × 5,000 seats, by %s admitted users making 4 holds each (the",
		holdSet["dates"], thousands(holdSet["users"]))
	p("gateway's MAX_HOLDS_PER_USER). The EVALSHA baseline is sent the token issue's requests in the")
	p("queue phase and, in the hold phase, the holds' own requests (the same wrk script, bodies and bearer")
	p("tokens, to POST /evalsha): on shared cores the load generator's cost per request weighs on the")
	p("server it drives, and a hold's request costs wrk more to build and send than a token issue's. errors")
	p("counts any answer but 2xx. The rows at %s connections are the poll, the token issue and the hold again,", conns(pollMany))
	p("each round after its 64-connection run on the same gateway: a rush is thousands of phones")
	p("opening connections at once, not a few keep-alive clients.")
	p("")
	writeOpen(p, open)
	p("The waiting page and its %d scripts and styles are asked for as a browser does (gzip, Korean", assetCount)
	p("Accept-Language), the assets in turn by their fingerprinted URLs. A first load transfers %d bytes", firstLoad)
	p("of page and %d of assets, gzipped, in %d requests (then the API calls); a reload asks only for the", assetBytes, 1+assetCount)
	p("page (304 when unchanged), since every asset URL carries its content's hash and is cached as immutable.")
	p("")
	p("## Go benchmarks (real Redis and PostgreSQL)")
	p("")
	p("| package | benchmark | ns/op | ops/s | B/op | allocs/op | its own figures |")
	p("| --- | --- | ---: | ---: | ---: | ---: | --- |")
	for _, b := range benches {
		p("| %s | %s | %.0f | %.0f | %.0f | %.0f | %s |", b.Pkg, strings.TrimPrefix(b.Name, "Benchmark"), b.NsOp, 1e9/b.NsOp, b.BOp, b.AllocsOp,
			strings.Join(b.Extra, ", "))
	}
	p("")
	for i, l := range gobenchLines {
		// A package that did not build or set up: none of its benchmarks ran.
		if strings.HasPrefix(l, "FAIL\t") && strings.HasSuffix(l, " failed]") {
			p("**%s: no benchmark of it ran**", strings.TrimPrefix(l, "FAIL\t"))
			p("")
		}
		if strings.HasPrefix(l, "--- FAIL: ") {
			why := ""
			if i+1 < len(gobenchLines) {
				why = ": " + strings.TrimSpace(gobenchLines[i+1])
			}
			p("**%s failed in this run**%s", strings.TrimPrefix(l, "--- FAIL: "), why)
			p("")
		}
	}
	p("Parallel benchmarks (`RunParallel`) run GOMAXPROCS goroutines, so their ns/op is wall time per")
	p("operation across both cores; the others are one operation at a time.")
	p("")
	writeWait(p, runs)
	writeCPU(p, dir, runs)
	writeInstructions(p, dir)
	p("## The rush")
	p("")
	p("%d users arrive at once for one date of %d seats; the gateway admits %.0f per second. rushload", rep.Users, rep.SeatsOffered, adm.ConfiguredRate)
	p("exited %s. Gateway peak RSS during the rush (VmHWM of a gateway started for it): **%.1f MB**.", strings.TrimSpace(string(rushExit)), hwmMB)
	p("")
	p("```")
	var sb strings.Builder
	rep.WriteText(&sb)
	p("%s", strings.TrimRight(sb.String(), "\n"))
	p("```")
	p("")
	p("## Redis memory per waiting user")
	p("")
	p("`used_memory` of a private redis-server before and after %s users entered the line (admission", mem["users"])
	p("paused; the gateway then counted %s waiting): %.0f → %.0f bytes, **%.0f bytes per waiting user**.", mem["waiting"], before, after, perUser)
	p("")
	if notes, err := os.ReadFile(filepath.Join(notesDir(), "notes.md")); err == nil {
		p("%s", strings.TrimRight(string(notes), "\n"))
		p("")
	}
	p("## Commands")
	p("")
	p("`$WORK` is the run's temporary directory; `$R` its results.")
	p("")
	p("```sh")
	for _, c := range commands {
		p("%s", strings.ReplaceAll(c, "$WORK/results", "$R"))
	}
	p("```")
	return nil
}

// writeInstructions writes the instruction counts of the instr phase, when
// it ran and counted.
func writeInstructions(p func(string, ...any), dir string) {
	table, err := os.ReadFile(filepath.Join(dir, "instructions.md"))
	if err != nil || !strings.HasPrefix(string(table), "|") {
		return
	}
	p("## Redis instructions per hold, token issue and poll heartbeat")
	p("")
	p("What the hot scripts cost Redis, counted by callgrind during the loops of the cost benchmarks")
	p("of `lua/` (a private redis-server under valgrind): unlike the times above, these counts repeat")
	p("from run to run, so they show what a change to a script saves even when the machine's load hides it.")
	p("")
	p("%s", strings.TrimRight(string(table), "\n"))
	p("")
}

// manyTarget is a route at many connections in wrk's closed loop against
// the same route at 64: at least 0.8× the rate and no error. Its latency is
// connections ÷ rate by Little's law, so the p99 target is the open loop's
// (openTarget).
func manyTarget(route string, many, at64 wrkResult) target {
	r := many.RPS / at64.RPS
	return target{
		what: fmt.Sprintf("%s at %s connections vs 64 (closed loop)", route, conns(many)),
		want: "≥ 0.8×, 0 errors",
		got:  fmt.Sprintf("%.2f×, %d errors", r, many.errors()),
		ok:   r >= 0.8 && many.errors() == 0,
	}
}

// conns is the connection count of a run, from its label's command line in
// commands.txt when known; the runs of many connections are labelled _many.
func conns(r wrkResult) string {
	if r.Conns > 0 {
		return strconv.Itoa(r.Conns)
	}
	return "many"
}

// writeHTTP prints the wrk runs of a run of some phases: each label's
// median, with the ratios that the runs found allow.
func writeHTTP(w io.Writer, dir string) error {
	lines, err := readLines(filepath.Join(dir, "wrk.jsonl"))
	if err != nil {
		return err
	}
	runs := map[string][]wrkResult{}
	var labels []string
	for _, l := range lines {
		var r wrkResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return fmt.Errorf("wrk.jsonl: %w", err)
		}
		if _, ok := runs[r.Label]; !ok {
			labels = append(labels, r.Label)
		}
		runs[r.Label] = append(runs[r.Label], r)
	}
	if err := readConns(dir, runs); err != nil {
		return err
	}
	open, err := readOpen(dir, runs)
	if err != nil {
		return err
	}
	med := map[string]wrkResult{}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("| run | connections | rounds | req/s (median) | p50 | p99 | max | errors |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, l := range labels {
		m := median(runs[l])
		med[l] = m
		p("| %s | %s | %d | %.0f | %.2f | %.2f | %.2f | %d |", l, conns(m), len(runs[l]), m.RPS, m.P50, m.P99, m.Max, m.errors())
	}
	p("")
	for _, q := range [][3]string{
		{"gw_tokens", "base_evalsha", "token issue vs one EVALSHA"},
		{"gw_poll", "base_zrank", "poll vs one ZRANK"},
		{"gw_poll", "base_fixed", "poll vs fixed JSON"},
		{"gw_tokens_many", "gw_tokens", "token issue at many connections vs 64"},
		{"gw_poll_many", "gw_poll", "poll at many connections vs 64"},
		{"gw_hold_many", "gw_hold", "seat hold at many connections vs 64"},
	} {
		a, okA := med[q[0]]
		b, okB := med[q[1]]
		if okA && okB {
			p("%s: %.2f×", q[2], a.RPS/b.RPS)
		}
	}
	p("")
	writeOpen(p, open)
	return nil
}

// readConns sets the connection count of every run from the wrk command
// lines of commands.txt (WRK_LABEL=label … wrk … -cN).
func readConns(dir string, runs map[string][]wrkResult) error {
	cmds, err := readLines(filepath.Join(dir, "commands.txt"))
	if err != nil {
		return err
	}
	for _, c := range cmds {
		label, n := "", 0
		for _, f := range strings.Fields(c) {
			if v, ok := strings.CutPrefix(f, "WRK_LABEL="); ok {
				label = v
			}
			if v, ok := strings.CutPrefix(f, "-c"); ok {
				n, _ = strconv.Atoi(v)
			}
		}
		for i := range runs[label] {
			if n > 0 {
				runs[label][i].Conns = n
			}
		}
	}
	return nil
}

func nproc(machine []string) string {
	for _, l := range machine {
		if v, ok := strings.CutPrefix(l, "nproc: "); ok {
			return v
		}
	}
	return "?"
}

// median is a run whose every figure is the median of that figure over rs.
func median(rs []wrkResult) wrkResult {
	pick := func(f func(wrkResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	m := rs[0]
	m.RPS = pick(func(r wrkResult) float64 { return r.RPS })
	m.P50 = pick(func(r wrkResult) float64 { return r.P50 })
	m.P90 = pick(func(r wrkResult) float64 { return r.P90 })
	m.P99 = pick(func(r wrkResult) float64 { return r.P99 })
	m.Max = pick(func(r wrkResult) float64 { return r.Max })
	m.Seconds = pick(func(r wrkResult) float64 { return r.Seconds })
	var errs, reqs int64
	for _, r := range rs {
		errs += r.errors()
		reqs += r.Requests
	}
	// Errors are summed over the rounds, not taken as a median.
	m.Non2xx, m.ConnectErrors, m.ReadErrors, m.WriteErrors, m.Timeouts = errs, 0, 0, 0, 0
	m.Requests = reqs
	return m
}

// notesDir is where notes.md lives: beside this program's source, run from
// the repository root by scripts/bench/run.sh.
func notesDir() string { return filepath.Join("scripts", "bench") }

// readRuns reads wrk.jsonl into the runs of each label.
func readRuns(dir string) (map[string][]wrkResult, error) {
	lines, err := readLines(filepath.Join(dir, "wrk.jsonl"))
	if err != nil {
		return nil, err
	}
	runs := map[string][]wrkResult{}
	for _, l := range lines {
		var r wrkResult
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return nil, fmt.Errorf("wrk.jsonl: %w", err)
		}
		runs[r.Label] = append(runs[r.Label], r)
	}
	return runs, nil
}

// writeWait reports the cost of REDIS_WAIT_REPLICAS=1: token issues and
// holds of a gateway on a master with one replica, with WAIT and without,
// measured in turn. It writes nothing when the run has no such phase.
func writeWait(p func(string, ...any), runs map[string][]wrkResult) {
	labels := []string{"wait0_tokens", "wait1_tokens", "wait0_hold", "wait1_hold"}
	for _, l := range labels {
		if len(runs[l]) == 0 {
			return
		}
	}
	m := map[string]wrkResult{}
	for _, l := range labels {
		m[l] = median(runs[l])
	}
	p("## The cost of REDIS_WAIT_REPLICAS=1 (wrk, %d connections, %d rounds of %.0f s)", 64, len(runs["wait0_tokens"]), m["wait0_tokens"].Seconds)
	p("")
	p("Two gateways on one private master with one replica (both local): one with `REDIS_WAIT_REPLICAS=0`,")
	p("one with `1` (`REDIS_WAIT_TIMEOUT` 100ms), measured in turn. With WAIT each new token and hold")
	p("is answered once the replica acknowledged it (one more round trip to the replica inside the")
	p("master's answer). errors counts any answer but 2xx (a write the replica did not acknowledge in")
	p("time is 503).")
	p("")
	p("| route | WAIT | req/s | p50 | p99 | errors | with WAIT ÷ without |")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range []struct{ route, base string }{{"POST /api/tokens", "tokens"}, {"POST /api/reservation", "hold"}} {
		off, on := m["wait0_"+r.base], m["wait1_"+r.base]
		p("| %s | off | %.0f | %.2f | %.2f | %d | |", r.route, off.RPS, off.P50, off.P99, off.errors())
		p("| %s | 1 replica | %.0f | %.2f | %.2f | %d | %.2f× |", r.route, on.RPS, on.P50, on.P99, on.errors(), on.RPS/off.RPS)
	}
	p("")
}

// writeWaitOnly is the report of a run of the WAIT phase alone.
func writeWaitOnly(w io.Writer, dir string) error {
	return writeSection(w, dir, func(p func(string, ...any), runs map[string][]wrkResult) { writeWait(p, runs) })
}

// writeSection is the report of a run of one phase alone: its section, then
// the commands that produced it.
func writeSection(w io.Writer, dir string, section func(p func(string, ...any), runs map[string][]wrkResult)) error {
	runs, err := readRuns(dir)
	if err != nil {
		return err
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	section(p, runs)
	commands, err := readLines(filepath.Join(dir, "commands.txt"))
	if err != nil {
		return err
	}
	p("```sh")
	for _, c := range commands {
		p("%s", c)
	}
	p("```")
	return nil
}

// thousands writes a count in digits with commas between thousands, as the
// prose around it does ("236,250"); anything else is returned as it is.
func thousands(s string) string {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// roundRatios is the req/s of each round of a over that of the same round
// of b ("1.12, 1.22, 1.08"), as far as both have rounds.
func roundRatios(a, b []wrkResult) string {
	var out []string
	for i := range min(len(a), len(b)) {
		if b[i].RPS > 0 {
			out = append(out, fmt.Sprintf("%.2f", a[i].RPS/b[i].RPS))
		}
	}
	return strings.Join(out, ", ")
}
