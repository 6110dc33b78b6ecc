package rush

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a rush.
type Report struct {
	BaseURL     string  `json:"base_url"`
	Users       int     `json:"users"`
	ArrivalRate float64 `json:"arrival_rate"`
	Concurrency int     `json:"concurrency"`
	PollScale   float64 `json:"poll_scale"`
	// ElapsedSeconds is the wall time from the first arrival to the last
	// user done (or the deadline).
	ElapsedSeconds float64 `json:"elapsed_seconds"`

	// DrawNote says whether the pre-queue's draw was read and verified.
	DrawNote string `json:"draw_note,omitempty"`

	Outcomes map[string]int `json:"outcomes"`
	// Failures counts the unexpected answers by route, status and code.
	Failures map[string]int `json:"failures,omitempty"`
	Routes   []RouteReport  `json:"routes"`
	// Requests is every request sent; PerSecond over the elapsed time.
	Requests  int64   `json:"requests"`
	PerSecond float64 `json:"per_second"`
	// ErrorRate is the share of requests answered 5xx or not at all.
	ErrorRate float64 `json:"error_rate"`

	Admission Admission `json:"admission"`

	SeatsSold    int   `json:"seats_sold"`
	SeatsOffered int   `json:"seats_offered"`
	Revenue      int64 `json:"revenue"`

	Invariants []Invariant `json:"invariants"`
	Violations int         `json:"violations"`
	// Record holds the raw facts when the caller asks for them (not in JSON).
	Record Record `json:"-"`
}

// Admission describes how the line moved.
type Admission struct {
	// Admitted users seen active.
	Admitted int `json:"admitted"`
	// TimeToAdmission is from receiving the token to the first answer that
	// said active, for the users admitted; it is late by up to a poll
	// interval, whose mean is PollGranularityMS.
	TimeToAdmission   Latency `json:"time_to_admission"`
	PollGranularityMS float64 `json:"poll_granularity_ms"`

	// From GET /admin/queue, sampled each second (AdminSamples readings).
	AdminSamples int `json:"admin_samples"`
	// ConfiguredRate is admit_per_second; RateChanged is set when it moved
	// during the run.
	ConfiguredRate float64 `json:"configured_rate"`
	RateChanged    bool    `json:"rate_changed,omitempty"`
	// MeasuredRate is the growth of admitted_total per second over the
	// longest stretch of readings in which the line was rate-bound (people
	// waiting, fewer active than max_active, not paused, a seat free, the
	// sale open): WindowSeconds
	// long, AdmittedInWindow admissions. RateErrorPct is its deviation from
	// ConfiguredRate in percent.
	MeasuredRate     float64 `json:"measured_rate"`
	WindowSeconds    float64 `json:"window_seconds"`
	AdmittedInWindow int64   `json:"admitted_in_window"`
	RateErrorPct     float64 `json:"rate_error_pct"`
	AdmittedTotal    int64   `json:"admitted_total_delta"`
	// SilentAdmissions are admissions no user saw (tokens that had stopped
	// polling), SilentShare their share of AdmittedTotal; SkippedInactive is
	// skipped_inactive_total's growth (gateways that skip silent tokens).
	SilentAdmissions int64   `json:"silent_admissions"`
	SilentShare      float64 `json:"silent_share"`
	SkippedInactive  int64   `json:"skipped_inactive_delta"`
	// RateNote explains a missing measure.
	RateNote string `json:"rate_note,omitempty"`
}

func (r *runner) report(rec Record, elapsed time.Duration) *Report {
	rep := &Report{
		BaseURL: r.opt.BaseURL, Users: r.opt.Users, ArrivalRate: r.opt.ArrivalRate,
		Concurrency: r.opt.Concurrency, PollScale: r.opt.PollScale,
		ElapsedSeconds: elapsed.Seconds(), Outcomes: map[string]int{},
		Routes: r.stats.report(elapsed), Record: rec,
	}
	r.mu.Lock()
	if len(r.failures) > 0 {
		rep.Failures = make(map[string]int, len(r.failures))
		for k, v := range r.failures {
			rep.Failures[k] = v
		}
	}
	samples := append([]adminSample(nil), r.samples...)
	r.mu.Unlock()

	for _, u := range rec.Users {
		o := u.Outcome
		if o == "" {
			o = OutcomeFailed
		}
		rep.Outcomes[o]++
	}
	var bad int64
	for _, rr := range rep.Routes {
		if rr.Route == "GET /admin/queue" {
			continue
		}
		rep.Requests += rr.Requests
		bad += rr.ServerErrors + rr.TransportErrors
	}
	if elapsed > 0 {
		rep.PerSecond = float64(rep.Requests) / elapsed.Seconds()
	}
	if rep.Requests > 0 {
		rep.ErrorRate = float64(bad) / float64(rep.Requests)
	}

	rep.Admission = admission(rec.Users, samples)
	rep.SeatsSold = len(rec.Sales)
	for _, s := range rec.Sales {
		rep.Revenue += s.Amount
	}
	rep.SeatsOffered = rec.SeatsOffered
	if rep.SeatsOffered == 0 {
		for _, seats := range rec.Offered {
			rep.SeatsOffered += len(seats)
		}
	}
	rep.Record.AdmittedTotal, rep.Record.SilentAdmissions = rep.Admission.AdmittedTotal, rep.Admission.SilentAdmissions
	for _, s := range samples {
		rep.Record.Line = append(rep.Record.Line, LineSample{At: s.at, Waiting: s.waiting, Active: s.active,
			MaxActive: s.maxActive, Rate: s.rate, Paused: s.paused, State: s.state, FreeSeats: s.free,
			AdmittedTotal: s.admittedTotal, SkippedTotal: s.skipped})
	}
	rep.Invariants = Verify(rep.Record, r.opt.OrderSlack)
	rep.Violations = Violations(rep.Invariants)
	return rep
}

func admission(users []UserRecord, samples []adminSample) Admission {
	var a Admission
	h := newHist()
	var gran time.Duration
	for _, u := range users {
		if !u.Admitted() {
			continue
		}
		a.Admitted++
		h.RecordValue(max(histMin, min(histMax, (u.FirstActiveRecv-u.EnteredAt).Microseconds())))
		if u.LastWaitingSent >= 0 {
			gran += u.FirstActiveRecv - u.LastWaitingSent
		}
	}
	a.TimeToAdmission = summarize(h)
	if a.Admitted > 0 {
		a.PollGranularityMS = float64(gran.Milliseconds()) / float64(a.Admitted)
	}

	a.AdminSamples = len(samples)
	if len(samples) == 0 {
		a.RateNote = "no admin token: admission rate not sampled"
		return a
	}
	a.ConfiguredRate = samples[len(samples)-1].rate
	for _, s := range samples {
		if s.rate != a.ConfiguredRate {
			a.RateChanged = true
		}
	}
	a.AdmittedTotal = samples[len(samples)-1].admittedTotal - samples[0].admittedTotal
	a.SkippedInactive = samples[len(samples)-1].skipped - samples[0].skipped
	a.SilentAdmissions = max(a.AdmittedTotal-int64(a.Admitted), 0)
	if a.AdmittedTotal > 0 {
		a.SilentShare = float64(a.SilentAdmissions) / float64(a.AdmittedTotal)
	}
	// Admission also stands still, by design, while no seat is free (every
	// unsold seat held) and once the sale is over: those readings measure
	// the stock, not the rate. A gateway that reports neither (free -1,
	// state "") is judged on the rest.
	bound := func(s adminSample) bool {
		return s.waiting > 0 && !s.paused && s.active < s.maxActive && s.free != 0 && (s.state == "" || s.state == "open")
	}
	best, bestLen := -1, 0
	for i := 0; i < len(samples); {
		if !bound(samples[i]) {
			i++
			continue
		}
		j := i
		for j+1 < len(samples) && bound(samples[j+1]) {
			j++
		}
		if j-i > bestLen {
			best, bestLen = i, j-i
		}
		i = j + 1
	}
	if best < 0 {
		a.RateNote = errNoWindow.Error()
		return a
	}
	first, last := samples[best], samples[best+bestLen]
	a.WindowSeconds = (last.at - first.at).Seconds()
	a.AdmittedInWindow = last.admittedTotal - first.admittedTotal
	a.MeasuredRate = float64(a.AdmittedInWindow) / a.WindowSeconds
	if a.ConfiguredRate > 0 {
		a.RateErrorPct = (a.MeasuredRate - a.ConfiguredRate) / a.ConfiguredRate * 100
	}
	return a
}

// Incomplete reports whether some users did not finish in time, or too many
// requests failed (maxErrorRate).
func (rep *Report) Incomplete(maxErrorRate float64) bool {
	return rep.Outcomes[OutcomeUnfinished] > 0 || rep.ErrorRate > maxErrorRate
}

// WriteText writes the report as tables for a person.
func (rep *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "rush of %d users on %s: %.1fs, %d requests (%.0f/s), error rate %.3f%%\n\n",
		rep.Users, rep.BaseURL, rep.ElapsedSeconds, rep.Requests, rep.PerSecond, rep.ErrorRate*100)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "route\trequests\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tstatuses\t")
	for _, r := range rep.Routes {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t\n", r.Route, r.Requests, r.PerSecond,
			r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, statuses(r))
	}
	tw.Flush()

	fmt.Fprintln(w)
	var outcomes []string
	for k, v := range rep.Outcomes {
		outcomes = append(outcomes, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(outcomes)
	fmt.Fprintf(w, "users: %s\n", strings.Join(outcomes, ", "))
	fmt.Fprintf(w, "seats: %d sold of %d offered, revenue %d\n", rep.SeatsSold, rep.SeatsOffered, rep.Revenue)
	if len(rep.Failures) > 0 {
		var keys []string
		for k := range rep.Failures {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(w, "unexpected answers:")
		for _, k := range keys {
			fmt.Fprintf(w, "  %6d  %s\n", rep.Failures[k], k)
		}
	}

	if rep.DrawNote != "" {
		fmt.Fprintf(w, "pre-queue: %s\n", rep.DrawNote)
	}
	a := rep.Admission
	t := a.TimeToAdmission
	if a.AdminSamples > 0 {
		defer fmt.Fprintf(w, "admissions no user saw (tokens that had stopped polling): %d of %d (%.2f%%); skipped_inactive_total grew by %d\n",
			a.SilentAdmissions, a.AdmittedTotal, a.SilentShare*100, a.SkippedInactive)
	}
	fmt.Fprintf(w, "\nadmission: %d admitted; time to admission p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, max %.0f ms (poll granularity %.0f ms)\n",
		a.Admitted, t.P50, t.P95, t.P99, t.Max, a.PollGranularityMS)
	switch {
	case a.RateNote != "":
		fmt.Fprintf(w, "admission rate: %s\n", a.RateNote)
	default:
		fmt.Fprintf(w, "admission rate: configured %.1f/s, measured %.1f/s over %.1fs rate-bound (%d admitted), deviation %+.2f%%\n",
			a.ConfiguredRate, a.MeasuredRate, a.WindowSeconds, a.AdmittedInWindow, a.RateErrorPct)
	}

	fmt.Fprintln(w, "\ninvariants:")
	for _, inv := range rep.Invariants {
		verdict := "ok"
		if !inv.OK() {
			verdict = fmt.Sprintf("BROKEN (%d)", inv.Violations)
		}
		extra := ""
		if inv.Skipped > 0 {
			extra = fmt.Sprintf(", %d not judged", inv.Skipped)
		}
		fmt.Fprintf(w, "  %-20s %-12s %d checked%s — %s\n", inv.Name, verdict, inv.Checked, extra, inv.Rule)
		for _, e := range inv.Examples {
			fmt.Fprintf(w, "      %s\n", e)
		}
	}
	if rep.Violations == 0 {
		fmt.Fprintln(w, "all invariants hold")
	}
}

func statuses(r RouteReport) string {
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", c, r.Statuses[c]))
	}
	if r.TransportErrors > 0 {
		parts = append(parts, fmt.Sprintf("lost×%d", r.TransportErrors))
	}
	return strings.Join(parts, " ")
}

var errNoWindow = errors.New("the line was never rate-bound while sampled")
