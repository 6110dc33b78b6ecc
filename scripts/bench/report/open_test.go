package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readOpenLines writes lines as a run's wrk.jsonl and reads its runs and its
// open-loop summaries back.
func readOpenLines(t *testing.T, lines []string) (map[string][]wrkResult, map[string]openSummary) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wrk.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runs, err := readRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	open, err := readOpen(dir, runs)
	if err != nil {
		t.Fatal(err)
	}
	return runs, open
}

func TestOpenRunsAreReadAgainstTheirRoundsRuns(t *testing.T) {
	lines := []string{
		`{"label":"gw_poll","requests":30000,"seconds":3,"rps":10000,"p99_ms":9}`,
		`{"label":"gw_poll_open","requests":24000,"seconds":3,"rps":8000,"p50_ms":1,"p99_ms":12,"non_2xx":0,"offered_rate":8000,"conns":4096,"send_lag_p99_ms":2}`,
		`{"label":"gw_poll","requests":36000,"seconds":3,"rps":12000,"p99_ms":9}`,
		`{"label":"gw_poll_open","requests":21000,"seconds":3,"rps":7000,"p50_ms":1,"p99_ms":80,"non_2xx":3,"timeouts":1,"offered_rate":9600,"conns":4096,"send_lag_p99_ms":4}`,
	}
	runs, open := readOpenLines(t, lines)
	s, ok := open["gw_poll_open"]
	if !ok {
		t.Fatalf("no summary of gw_poll_open: %v", open)
	}
	// Each open run against the 64-connection run of its own round:
	// 8000/10000 and 7000/12000.
	if s.rounds != 2 || s.lo != 7000.0/12000 || s.hi != 0.8 || s.share != (0.8+7000.0/12000)/2 {
		t.Errorf("rounds %d, share %v in %v–%v; want 2, the mean of 0.80 and 0.58 in between", s.rounds, s.share, s.lo, s.hi)
	}
	if got, want := s.run.errors(), int64(4); got != want {
		t.Errorf("errors = %d, want %d (summed over the rounds)", got, want)
	}
	if got := conns(runs["gw_poll_open"][1]); got != "4096" {
		t.Errorf("connections = %s, want 4096 from the line itself", got)
	}
	if tg := openTarget("poll", open, "gw_poll_open"); tg.ok {
		t.Errorf("target met with %s", tg.got)
	}
	if tg := openTarget("token issue", open, "gw_tokens_open"); tg.ok || tg.got != "not measured" {
		t.Errorf("a route not measured: %+v", tg)
	}
	var out strings.Builder
	writeOpen(func(f string, a ...any) { fmt.Fprintf(&out, f+"\n", a...) }, open)
	for _, want := range []string{"### Open loop: 4096 connections", "| GET /api/queue/position | 2 | 0.80× | 8800 | 7500 | 0.69× | 0.58–0.80 |",
		"poll, open loop at 4096 connections vs 64: 0.69×, p99 46.00 ms, 4 errors (target ≥ 0.8×, p99 < 50 ms, 0 errors): missed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}

// A gateway that answered its whole schedule on time served what it was
// offered, although its req/s, counted to the last answer, is a hair under.
func TestAnOpenRunThatAnsweredItsScheduleServedItsOffer(t *testing.T) {
	lines := []string{
		`{"label":"gw_tokens","requests":50000,"seconds":5,"rps":10000,"p99_ms":9}`,
		`{"label":"gw_tokens_open","requests":40000,"seconds":5.004,"rps":7993.6,"p50_ms":1,"p99_ms":12,"offered_rate":8000,"scheduled":40000,"conns":4096,"send_lag_p99_ms":2}`,
	}
	_, open := readOpenLines(t, lines)
	if s := open["gw_tokens_open"]; s.share != 0.8 || s.served != 8000 {
		t.Errorf("share %v, served %v: want 0.8 and 8000", s.share, s.served)
	}
	if tg := openTarget("token issue", open, "gw_tokens_open"); !tg.ok {
		t.Errorf("target missed with %s", tg.got)
	}
	// Half the schedule answered: half the offer served.
	lines[1] = `{"label":"gw_tokens_open","requests":20000,"seconds":5.004,"rps":3996.8,"p99_ms":12,"offered_rate":8000,"scheduled":40000,"conns":4096}`
	_, open = readOpenLines(t, lines)
	if s := open["gw_tokens_open"]; s.share != 0.4 {
		t.Errorf("share %v with half the schedule answered, want 0.4", s.share)
	}
}
