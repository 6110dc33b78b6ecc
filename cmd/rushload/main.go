// Command rushload simulates a ticket rush against a running rushgate and
// checks that it kept its promises.
//
//	rushload -url http://127.0.0.1:8080 -users 20000 -admin-token $ADMIN_TOKEN
//	rushload tokens -url ... -users 1000 [-active] -out tokens.tsv
//	rushload open -url ... -route poll|tokens|hold -conns 4096 -rate 20000 -duration 5s [-tokens tokens.tsv]
//	rushload holds -url ... -users 1000 -out holds.tsv
//
// Users arrive (all at once, or -arrival-rate per second), enter the line,
// poll as the gateway asks, and once admitted list dates and seats, hold a
// free seat (another on 409 seat_taken), top up when short and pay with an
// Idempotency-Key. At the end it prints per-route throughput and latency
// percentiles, the time to admission, the admission rate against the
// configured one, and the invariants: no seat sold twice, no more seats sold
// than offered, money conserved, admission in arrival order, payment replays
// answered with the first payment.
//
// Exit status: 0 all well; 1 an invariant broke; 2 bad usage or the gateway
// did not answer; 3 the rush did not finish within -duration, or more
// requests failed (5xx or no answer) than -max-error-rate allows.
//
// The tokens command puts users in line and writes "token<TAB>user_id"
// lines, for load tools that replay them (scripts/bench).
//
// The open command loads one route in an open loop: -conns keep-alive
// connections that together send -rate requests a second on a fixed
// schedule, latency counted from each request's scheduled time, and prints
// one JSON line in the fields of scripts/bench's wrk lines.
//
// The holds command also waits until each is admitted, holds one seat for each and charges
// its price, and writes "token<TAB>user_id<TAB>reservation_id<TAB>amount"
// lines: one payment each to make.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rushgate/rushgate/internal/rush"
)

const (
	exitOK         = 0
	exitViolations = 1
	exitUsage      = 2
	exitIncomplete = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "tokens" {
		return tokens(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "open" {
		return open(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "holds" {
		return holds(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("rushload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o rush.Options
	var asJSON, quiet bool
	var maxErrorRate float64
	fs.StringVar(&o.BaseURL, "url", "http://127.0.0.1:8080", "the gateway's base URL")
	fs.IntVar(&o.Users, "users", 1000, "users taking part")
	fs.Float64Var(&o.ArrivalRate, "arrival-rate", 0, "users arriving per second (0: all at once)")
	fs.DurationVar(&o.Duration, "duration", 5*time.Minute, "the longest the rush may run")
	fs.IntVar(&o.Concurrency, "concurrency", 128, "most HTTP requests in flight")
	fs.StringVar(&o.AdminToken, "admin-token", getenv("ADMIN_TOKEN"), "admin token, to read GET /admin/queue each second (default $ADMIN_TOKEN)")
	fs.Int64Var(&o.ConcertID, "concert", 1, "the concert to queue for")
	fs.Float64Var(&o.PollScale, "poll-scale", 1, "multiply every poll_after_ms by this (0.1: poll ten times as often)")
	fs.DurationVar(&o.PollCap, "poll-cap", 0, "longest wait between polls (0: as the gateway asks)")
	fs.IntVar(&o.SeatsOffered, "seats", 0, "seats the concert offers in all, for the seats-within-offer check (0: the seats ever listed)")
	fs.Float64Var(&o.ReplayFraction, "replay", 0.05, "fraction of payments sent again with their Idempotency-Key")
	fs.DurationVar(&o.OrderSlack, "order-slack", 0, "allowance of the admission-order check for several replicas behind one URL")
	fs.StringVar(&o.UserPrefix, "user-prefix", "", "start of every user id (default: rl and a random run id)")
	fs.IntVar(&o.Prequeue, "prequeue", 0, "users who enter before the concert's scheduled open (read from its draw); the rest arrive from the open on")
	fs.Float64Var(&o.Abandon, "abandon", 0, "share of users who stop polling after their first answer and never come back")
	fs.Float64Var(&o.Return, "return", 0, "share of users who go silent after their first answer, then poll again after -return-after")
	fs.DurationVar(&o.ReturnAfter, "return-after", time.Minute, "how long returning users stay silent")
	fs.Float64Var(&o.HoldAndLeave, "hold-leave", 0, "share of users who, once admitted, hold a seat and walk away without paying (the hold lapses)")
	fs.Float64Var(&maxErrorRate, "max-error-rate", 0.001, "largest share of requests answered 5xx or not at all")
	fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
	fs.BoolVar(&quiet, "quiet", false, "no progress line on stderr")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || o.Users <= 0 || o.Concurrency <= 0 || o.ArrivalRate < 0 || o.PollScale <= 0 ||
		o.Prequeue < 0 || o.Abandon < 0 || o.Return < 0 || o.HoldAndLeave < 0 || o.Abandon+o.Return+o.HoldAndLeave > 1 {
		fmt.Fprintln(stderr, "rushload: bad arguments; see rushload -h")
		return exitUsage
	}
	if !quiet {
		o.Progress = stderr
	}
	rep, err := rush.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "rushload:", err)
		return exitUsage
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "rushload:", err)
			return exitUsage
		}
	} else {
		rep.WriteText(stdout)
	}
	switch {
	case rep.Violations > 0:
		fmt.Fprintf(stderr, "rushload: %d invariant violations\n", rep.Violations)
		return exitViolations
	case rep.Incomplete(maxErrorRate):
		fmt.Fprintf(stderr, "rushload: incomplete: %d users unfinished, error rate %.4f (max %.4f)\n",
			rep.Outcomes[rush.OutcomeUnfinished], rep.ErrorRate, maxErrorRate)
		return exitIncomplete
	}
	return exitOK
}

func tokens(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rushload tokens", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o rush.TokensOptions
	var out string
	fs.StringVar(&o.BaseURL, "url", "http://127.0.0.1:8080", "the gateway's base URL")
	fs.IntVar(&o.Users, "users", 1000, "users to put in line")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "most HTTP requests in flight")
	fs.Int64Var(&o.ConcertID, "concert", 1, "the concert")
	fs.StringVar(&o.UserPrefix, "user-prefix", "", "start of every user id (default: tk and a random id)")
	fs.BoolVar(&o.WaitActive, "active", false, "wait until every token is admitted")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "the longest it may take")
	fs.StringVar(&out, "out", "", "write token<TAB>user_id lines here ('-': stdout; empty: nowhere)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	start := time.Now()
	issued, err := rush.Tokens(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "rushload tokens:", err)
		if errors.Is(err, rush.ErrGatewayDown) {
			return exitUsage
		}
		return exitIncomplete
	}
	fmt.Fprintf(stderr, "rushload tokens: %d users in line in %.1fs\n", len(issued), time.Since(start).Seconds())
	if out == "" {
		return exitOK
	}
	w := stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintln(stderr, "rushload tokens:", err)
			return exitUsage
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	for _, t := range issued {
		fmt.Fprintf(bw, "%s\t%s\n", t.Token, t.UserID)
	}
	if err := bw.Flush(); err != nil && !errors.Is(err, os.ErrClosed) {
		fmt.Fprintln(stderr, "rushload tokens:", err)
		return exitUsage
	}
	return exitOK
}

func open(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rushload open", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o rush.OpenOptions
	var tokensPath, dates string
	fs.StringVar(&o.BaseURL, "url", "http://127.0.0.1:8080", "the gateway's base URL (http)")
	fs.StringVar(&o.Route, "route", rush.OpenPoll, "poll, tokens or hold")
	fs.IntVar(&o.Conns, "conns", 4096, "keep-alive connections, all opened before the clock starts")
	fs.Float64Var(&o.Rate, "rate", 1000, "requests per second over all connections")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long requests are scheduled")
	fs.DurationVar(&o.Timeout, "timeout", 2*time.Second, "longest wait for one answer (then a timeout, and the connection is opened again)")
	fs.DurationVar(&o.Settle, "settle", time.Second, "pause between opening the connections and the first send")
	fs.BoolVar(&o.Warm, "warm", true, "send one GET /healthz on every connection before the clock starts (not counted)")
	fs.StringVar(&o.Label, "label", "", "the label of the JSON line")
	fs.StringVar(&tokensPath, "tokens", "", "token<TAB>user_id lines (poll: waiting tokens; hold: admitted ones)")
	fs.StringVar(&o.UserPrefix, "user-prefix", "", "tokens: start of every user id (default: op and a random id)")
	fs.Int64Var(&o.ConcertID, "concert", 1, "tokens: the concert")
	fs.StringVar(&dates, "dates", "", "hold: the dates, comma separated")
	fs.IntVar(&o.Seats, "seats", 0, "hold: seats of each date")
	fs.IntVar(&o.HoldsPerUser, "holds-per-user", 4, "hold: holds of each user (the gateway's MAX_HOLDS_PER_USER)")
	fs.IntVar(&o.Offset, "offset", 0, "hold: number of the first hold (runs on one gateway take successive ranges)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "rushload open: bad arguments; see rushload open -h")
		return exitUsage
	}
	if o.Label == "" {
		o.Label = "open_" + o.Route
	}
	if o.UserPrefix == "" {
		o.UserPrefix = fmt.Sprintf("op%d-", time.Now().UnixNano())
	}
	if dates != "" {
		o.Dates = strings.Split(dates, ",")
	}
	if tokensPath != "" {
		f, err := os.Open(tokensPath)
		if err != nil {
			fmt.Fprintln(stderr, "rushload open:", err)
			return exitUsage
		}
		o.Tokens, err = rush.ReadIssued(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "rushload open:", err)
			return exitUsage
		}
	}
	res, err := rush.Open(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "rushload open:", err)
		if errors.Is(err, rush.ErrOpenOptions) || errors.Is(err, rush.ErrGatewayDown) {
			return exitUsage
		}
		return exitIncomplete
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		fmt.Fprintln(stderr, "rushload open:", err)
		return exitUsage
	}
	return exitOK
}

func holds(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rushload holds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o rush.HoldsOptions
	var out string
	fs.StringVar(&o.BaseURL, "url", "http://127.0.0.1:8080", "the gateway's base URL")
	fs.IntVar(&o.Users, "users", 1000, "users, each with one hold")
	fs.IntVar(&o.Concurrency, "concurrency", 64, "most HTTP requests in flight")
	fs.Int64Var(&o.ConcertID, "concert", 1, "the concert")
	fs.StringVar(&o.UserPrefix, "user-prefix", "", "start of every user id (default: hd and a random id)")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "the longest it may take")
	fs.StringVar(&out, "out", "-", "write token<TAB>user_id<TAB>reservation_id<TAB>amount lines here ('-': stdout)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || o.Users <= 0 || o.Concurrency <= 0 {
		fmt.Fprintln(stderr, "rushload holds: bad arguments; see rushload holds -h")
		return exitUsage
	}
	start := time.Now()
	held, err := rush.Holds(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "rushload holds:", err)
		if errors.Is(err, rush.ErrGatewayDown) {
			return exitUsage
		}
		return exitIncomplete
	}
	fmt.Fprintf(stderr, "rushload holds: %d users hold a seat and can pay for it, in %.1fs\n", len(held), time.Since(start).Seconds())
	w := stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintln(stderr, "rushload holds:", err)
			return exitUsage
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriter(w)
	for _, h := range held {
		fmt.Fprintf(bw, "%s\t%s\t%d\t%d\n", h.Token, h.UserID, h.ReservationID, h.Amount)
	}
	if err := bw.Flush(); err != nil {
		fmt.Fprintln(stderr, "rushload holds:", err)
		return exitUsage
	}
	return exitOK
}
