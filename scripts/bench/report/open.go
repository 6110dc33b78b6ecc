package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
)

// The open-loop runs of rushload open: each follows the 64-connection wrk run
// of its route in the same round and offers a share of its req/s over many
// connections, with latency counted from every request's scheduled time.
var openRoutes = []struct{ label, closed, route, name string }{
	{"gw_poll_open", "gw_poll", "GET /api/queue/position", "poll"},
	{"gw_tokens_open", "gw_tokens", "POST /api/tokens", "token issue"},
	{"gw_hold_open", "gw_hold", "POST /api/reservation", "seat hold"},
}

// openRun is a JSON line of rushload open: wrk's fields and the load offered.
type openRun struct {
	wrkResult
	OfferedRate float64 `json:"offered_rate"`
	Scheduled   int64   `json:"scheduled"`
	Conns       int     `json:"conns"`
	LagP99      float64 `json:"send_lag_p99_ms"`
}

// openSummary is the median over the rounds of one open-loop route.
type openSummary struct {
	run     wrkResult // median of wrk's fields, errors summed
	rounds  int
	offered float64 // median offered req/s
	served  float64 // median served req/s (see served)
	lag     float64 // median p99 of the send lag, ms
	// share is the achieved req/s over that of the 64-connection run of the
	// same round: the median over the rounds, and its range.
	share, lo, hi float64
	// offeredShare is the offered req/s over the 64-connection run's.
	offeredShare float64
}

// readOpen reads the open-loop runs of wrk.jsonl, summarised per label, and
// sets their connection count in runs (from the line itself: wrk's come from
// commands.txt).
func readOpen(dir string, runs map[string][]wrkResult) (map[string]openSummary, error) {
	lines, err := readLines(filepath.Join(dir, "wrk.jsonl"))
	if err != nil {
		return nil, err
	}
	byLabel := map[string][]openRun{}
	for _, l := range lines {
		var r openRun
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			return nil, fmt.Errorf("wrk.jsonl: %w", err)
		}
		if r.OfferedRate > 0 {
			byLabel[r.Label] = append(byLabel[r.Label], r)
		}
	}
	out := map[string]openSummary{}
	for _, o := range openRoutes {
		rs := byLabel[o.label]
		if len(rs) == 0 {
			continue
		}
		for i := range runs[o.label] {
			if i < len(rs) {
				runs[o.label][i].Conns = rs[i].Conns
			}
		}
		s := openSummary{run: median(runs[o.label]), rounds: len(rs)}
		var offered, serveds, lags, shares, offeredShares []float64
		for i, r := range rs {
			offered = append(offered, r.OfferedRate)
			serveds = append(serveds, served(r))
			lags = append(lags, r.LagP99)
			// The i-th open run of a label follows the i-th 64-connection run.
			if closed := runs[o.closed]; i < len(closed) && closed[i].RPS > 0 {
				shares = append(shares, served(r)/closed[i].RPS)
				offeredShares = append(offeredShares, r.OfferedRate/closed[i].RPS)
			}
		}
		s.offered, s.served, s.lag = mid(offered), mid(serveds), mid(lags)
		if len(shares) > 0 {
			s.share, s.offeredShare = mid(shares), mid(offeredShares)
			s.lo, s.hi = slices.Min(shares), slices.Max(shares)
		}
		out[o.label] = s
	}
	return out, nil
}

// served is an open-loop run's answers over the length of its schedule
// (scheduled ÷ offered rate): the rate it served of what it was offered.
// Its req/s runs to the last answer instead, which puts a gateway that
// answered every request on time a hair under its offered rate (by the last
// answer's latency); one that falls behind shows it in its latencies and its
// timeouts. Runs of an older rushload without the count keep their req/s.
func served(r openRun) float64 {
	if r.Scheduled <= 0 || r.OfferedRate <= 0 {
		return r.RPS
	}
	return float64(r.Requests) / (float64(r.Scheduled) / r.OfferedRate)
}

// mid is the median of v (0 when empty).
func mid(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

// openTarget is a route's open-loop run against its 64-connection run: it
// kept up with at least 0.8× that rate, with a p99 under 50 ms from the
// scheduled send times, and no error.
func openTarget(name string, open map[string]openSummary, label string) target {
	t := target{what: fmt.Sprintf("%s, open loop at many connections vs 64", name), want: "≥ 0.8×, p99 < 50 ms, 0 errors"}
	s, ok := open[label]
	if !ok {
		t.got = "not measured"
		return t
	}
	r := s.run
	t.what = fmt.Sprintf("%s, open loop at %s connections vs 64", name, conns(r))
	t.got = fmt.Sprintf("%.2f×, p99 %.2f ms, %d errors", s.share, r.P99, r.errors())
	t.ok = s.share >= 0.8 && r.P99 < 50 && r.errors() == 0
	return t
}

// writeOpen writes the table of the open-loop runs, if the run has any.
func writeOpen(p func(string, ...any), open map[string]openSummary) {
	if len(open) == 0 {
		return
	}
	var many string
	for _, o := range openRoutes {
		if s, ok := open[o.label]; ok && many == "" {
			many = conns(s.run)
		}
	}
	p("### Open loop: %s connections at a fixed rate (rushload open)", many)
	p("")
	p("A crowd of phones is many connections each sending now and then, not a few that send back to")
	p("back. Right after each 64-connection run of a route, `rushload open` opens %s keep-alive", many)
	p("connections and sends one GET /healthz on each (all before the clock starts, none counted: the")
	p("crowd has loaded the page; a connection's first request costs both ends more than those after it,")
	p("and 4,096 of them at once made the schedule's first pass, 0.2–0.3 s, late by up to ~100 ms), then")
	p("they together send requests on a fixed schedule at")
	p("a share of the req/s just measured, each connection once every connections ÷ rate seconds,")
	p("whatever the answers before. Latency counts from each request's scheduled time, so a gateway")
	p("that falls behind shows it in full (no coordinated omission). achieved ÷ 64 is the median of")
	p("the rounds' achieved req/s over their 64-connection req/s (the range beside it), achieved being")
	p("the answers over the schedule's length (counted to the last answer instead, a gateway that")
	p("answered all on time would show a hair under what it was offered); send lag is the")
	p("p99 of the wait from a request's scheduled time to its send, the load generator's own delay")
	p("included. errors counts any answer but 2xx, failed connections, and timeouts: answers more than")
	p("2 s after their scheduled time (counted in the latencies too).")
	p("")
	p("| route | rounds | offered ÷ 64 | offered req/s | achieved req/s | achieved ÷ 64 | (range) | p50 | p90 | p99 | max | send lag p99 | errors |")
	p("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, o := range openRoutes {
		s, ok := open[o.label]
		if !ok {
			continue
		}
		r := s.run
		p("| %s | %d | %.2f× | %.0f | %.0f | %.2f× | %.2f–%.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %d |",
			o.route, s.rounds, s.offeredShare, s.offered, s.served, s.share, s.lo, s.hi, r.P50, r.P90, r.P99, r.Max, s.lag, r.errors())
	}
	p("")
	for _, o := range openRoutes {
		if _, ok := open[o.label]; ok {
			t := openTarget(o.name, open, o.label)
			mark := "met"
			if !t.ok {
				mark = "missed"
			}
			p("%s: %s (target %s): %s", t.what, t.got, t.want, mark)
		}
	}
	p("")
}
