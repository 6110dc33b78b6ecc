package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes name under dir, failing the test on error.
func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestWriteCPUTakesTheIdleLoopsAwayPerRequest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "cpu/meta.txt", "clk_tck=100\npay_holds_per_run=2400\nidle_seconds=2\n")
	// Idle, per 2 s: the gateway 2 ticks, Redis 4 ticks, 200 ZCOUNT calls
	// of 400 usec and 20 EVALSHA runs of 1,000 usec.
	snap := func(gw, rd, zcCalls, zcUsec, evCalls, evUsec int) string {
		return fmt.Sprintf("gateway_ticks=%d\nredis_ticks=%d\ncmdstat_zcount:calls=%d,usec=%d,usec_per_call=2.00,rejected_calls=0,failed_calls=0\n"+
			"cmdstat_evalsha:calls=%d,usec=%d,usec_per_call=50.00,rejected_calls=0,failed_calls=0\n", gw, rd, zcCalls, zcUsec, evCalls, evUsec)
	}
	var wrk strings.Builder
	for _, mode := range []string{"before", "after"} {
		writeFile(t, dir, "cpu/idle_"+mode+".before", snap(100, 1000, 5000, 9000, 300, 7000))
		writeFile(t, dir, "cpu/idle_"+mode+".after", snap(102, 1004, 5200, 9400, 320, 8000))
		for _, r := range cpuRoutes {
			label := "cpu_" + r.key + "_" + mode
			// 1,000 requests in 2 s: the gateway 52 ticks (50 after taking
			// away 2 s of idle: 500 µs/req), Redis 24 (20: 200 µs/req),
			// 2,200 ZCOUNT of 4,400 usec (2,000 and 4,000: 2 per request,
			// 4 µs/req), 1,020 EVALSHA of 51,000 usec (1,000 and 50,000).
			// And the gateway's script runs: none counted before, after it
			// 40 runs of each kind carrying the 1,000 requests, their oldest
			// queued 500 µs on average and each taking 1,000 µs.
			runs := ""
			for _, kind := range []string{"enter", "hold"} {
				runs += fmt.Sprintf("rushgate_batch_calls_sum{kind=%q} 1000\nrushgate_batch_calls_count{kind=%q} 40\n"+
					"rushgate_batch_queued_seconds_sum{kind=%q} 0.02\nrushgate_batch_queued_seconds_count{kind=%q} 40\n"+
					"rushgate_batch_duration_seconds_sum{kind=%q} 0.04\nrushgate_batch_duration_seconds_count{kind=%q} 40\n",
					kind, kind, kind, kind, kind, kind)
			}
			writeFile(t, dir, "cpu/"+label+".before", snap(1000, 2000, 10000, 20000, 400, 9000))
			writeFile(t, dir, "cpu/"+label+".after", snap(1052, 2024, 12200, 24400, 1420, 60000)+runs)
			fmt.Fprintf(&wrk, `{"label":%q,"requests":1000,"seconds":2.0,"rps":500.0,"p50_ms":1,"p90_ms":1,"p99_ms":1,"max_ms":1,"non_2xx":0,"connect_errors":0,"read_errors":0,"write_errors":0,"timeouts":0}`+"\n", label)
		}
	}
	writeFile(t, dir, "cpu/cpu_tokens_after.top", "File: benchbase\nDuration: 2s, Total samples = 1s (50%)\nShowing nodes\n      flat  flat%   sum%        cum   cum%\n"+
		"     100ms 10% 10%  200ms 20%  internal/coalesce.(*Batcher[go.shape.int64,go.shape.struct { a [8]int64 }]).send\n")
	writeFile(t, dir, "wrk.jsonl", wrk.String())
	writeFile(t, dir, "commands.txt", "wrk -c64\n")
	writeFile(t, dir, "cpu/cpu_pay_after.statuses", "11 503 unavailable\n3 409 already_paid\n")

	var out strings.Builder
	if err := writeCPUOnly(&out, dir); err != nil {
		t.Fatal(err)
	}
	doc := out.String()
	for _, want := range []string{
		"| POST /api/tokens | before (1) | 500 | 500.0 | 200.0 | 4.0 | 50.0 | 2.00 | 1.000 | 0 |",
		"| POST /api/payment | after (64) | 500 | 500.0 | 200.0 | 4.0 | 50.0 | 2.00 | 1.000 | 0 |",
		"before 110 calls/s, 20.0 ms/s of Redis CPU",
		// 40 runs in 2 s, 1,000 requests, 0.02 s queued and 0.04 s run in
		// all; inside Redis 50,000 usec for 1,000 EVALSHA runs.
		"| POST /api/reservation | after (64) | 20 | 25.0 | 500 | 1000 | 50 |",
		"| POST /api/tokens | before (1) | 20 | 25.0 | 500 | 1000 | 50 |",
		"internal/coalesce.(*Batcher[…]).send",
		"(2400 per run;",
		"Payments answered other than 201 (status and error code): after 11× 503 unavailable, 3× 409 already_paid.",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
}

func TestWriteCPUSaysWhenReadingsAreMissing(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "cpu/meta.txt", "clk_tck=100\nidle_seconds=2\n")
	writeFile(t, dir, "wrk.jsonl", "")
	writeFile(t, dir, "commands.txt", "")
	var out strings.Builder
	if err := writeCPUOnly(&out, dir); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "could not be read") {
		t.Errorf("report = %q, want it to say the readings could not be read", out.String())
	}
}

func TestWriteCPUIsSilentWithoutThePhase(t *testing.T) {
	var lines []string
	writeCPU(func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }, t.TempDir(), nil)
	if len(lines) != 0 {
		t.Errorf("wrote %q for a run without the CPU phase", lines)
	}
}

func TestThousandsGroupsDigitsOnly(t *testing.T) {
	for in, want := range map[string]string{
		"236250": "236,250", "1000": "1,000", "999": "999", "1234567": "1,234,567", "": "", "12a4": "12a4",
	} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRoundRatiosPairRoundsInOrder(t *testing.T) {
	a := []wrkResult{{RPS: 200}, {RPS: 150}, {RPS: 90}}
	b := []wrkResult{{RPS: 100}, {RPS: 150}}
	if got := roundRatios(a, b); got != "2.00, 1.00" {
		t.Errorf("roundRatios = %q, want 2.00, 1.00", got)
	}
}
