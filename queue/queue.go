// Package queue is rushgate's waiting line: it issues signed tokens, keeps
// strict first-come-first-served order in Redis sorted sets, admits from the
// head of the line at the rate an admin sets, and answers where a token stands.
//
// Every replica runs the same admission step (lua/admit.lua) whose state lives
// in Redis, so any number of replicas admit exactly as one would. Each replica
// keeps a fresh copy of how far admission has reached (the head of the line);
// a waiting token carries its arrival sequence, so a poll is a subtraction and
// costs no Redis round trip.
package queue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/coalesce"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/lua"
	"github.com/rushgate/rushgate/unreachable"
	"github.com/rushgate/rushgate/userid"
)

// Settings are the admission settings of one concert. They live in Redis, so
// every replica obeys the same ones.
type Settings struct {
	AdmitPerSecond float64
	MaxActive      int64
	ActiveTTL      time.Duration
	Paused         bool
}

// Config configures a Queue.
type Config struct {
	// TokenTTL is how long a waiting token lives after issue.
	TokenTTL time.Duration
	// Defaults are the settings of a concert that has none in Redis yet.
	Defaults Settings
	// Batch is the most tokens one admission step admits (bounds script time).
	Batch int
	// BucketDepth is the largest burst, in seconds of the admission rate.
	BucketDepth time.Duration
	// StaleAfter is how old the local copy of a concert's admission state may
	// be before a poll reads Redis instead.
	StaleAfter time.Duration
	// AbandonAfter is how long a waiting token may stay silent (no poll)
	// before admission skips it; three times the last poll interval it was
	// given counts instead when that is longer.
	AbandonAfter time.Duration
	// RejoinGrace is how long after its skip a token that polls again is
	// admitted ahead of the line; after that it has expired.
	RejoinGrace time.Duration
	// PlaceBatch is the most pre-queue entrants one placement call writes
	// (bounds script time at the open).
	PlaceBatch int
	// Stock tells admission how many seats of a concert are left; nil means
	// admission never looks at stock.
	Stock func(ctx context.Context, concertID int64) (Stock, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OnAdmit, when set, is told the outcome of every admission step this
	// replica runs (the live view counts with it). It must be quick: it runs
	// on the admission loop.
	OnAdmit func(concertID int64, a Admission)
	// EnterBatch is the most token issues of one concert that go to Redis as
	// one run of the enter script (see Enter); 1 (or less) sends each alone.
	EnterBatch int
	// EnterBatchWait bounds how long a token issue queued behind its
	// concert's batch in flight may wait for more to join its own batch.
	EnterBatchWait time.Duration
	// EnterTimeout bounds a batched token issue from its arrival, its time
	// queued included (0: only the Redis client's call deadline bounds it):
	// an overloaded replica sheds issues it cannot answer in time. An outage
	// needs no such bound: the batch that finds Redis unreachable fails the
	// issues queued behind it at once.
	EnterTimeout time.Duration
	// OnEnterBatch, when set, is told of every run of token issues (how
	// many, how long the oldest waited, how long the run took), batched or
	// not; it must be quick.
	OnEnterBatch func(coalesce.BatchStats)

	// enterQueued, when set, is told each user as their token issue joins a
	// batch queue, in arrival order (tests check the order with it).
	enterQueued func(userID string)
}

// Stock is what admission needs to know of a concert's seats.
type Stock struct {
	Free    int64 // neither sold nor held
	SoldOut bool  // every seat sold
}

func (c *Config) setDefaults() {
	if c.TokenTTL <= 0 {
		c.TokenTTL = 2 * time.Hour
	}
	if c.Defaults.ActiveTTL <= 0 {
		c.Defaults.ActiveTTL = 10 * time.Minute
	}
	if c.Batch <= 0 {
		c.Batch = 2000
	}
	if c.BucketDepth <= 0 {
		c.BucketDepth = 250 * time.Millisecond
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 2 * time.Second
	}
	if c.AbandonAfter <= 0 {
		c.AbandonAfter = 30 * time.Second
	}
	if c.RejoinGrace <= 0 {
		c.RejoinGrace = 10 * time.Minute
	}
	if c.PlaceBatch <= 0 {
		c.PlaceBatch = 5000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.EnterBatch < 1 {
		c.EnterBatch = 1
	}
}

// Queue is the waiting line of every concert, backed by one Redis.
type Queue struct {
	rdb    redis.UniversalClient
	keys   keyspace.Space
	signer *Signer
	cfg    Config

	mu    sync.RWMutex
	views map[int64]*view

	enters     *coalesce.Batcher[int64, string, entered]
	beats      beats
	noBeats    bool                 // set only by the benchmark that prices the heartbeat
	places     sync.Map             // placeKey -> place in line of a pre-queue token
	placements map[int64]*placement // guarded by mu
}

// New returns a Queue on rdb whose keys live in keys.
func New(rdb redis.UniversalClient, keys keyspace.Space, signer *Signer, cfg Config) *Queue {
	cfg.setDefaults()
	q := &Queue{rdb: rdb, keys: keys, signer: signer, cfg: cfg, views: make(map[int64]*view),
		placements: make(map[int64]*placement)}
	bc := coalesce.Config{MaxBatch: cfg.EnterBatch, Wait: max(cfg.EnterBatchWait, 0), Timeout: max(cfg.EnterTimeout, 0),
		// A batch that finds Redis unreachable answers those queued behind
		// it too: they would only wait out a call deadline of their own.
		Unreachable: unreachable.Is, OnBatch: cfg.OnEnterBatch}
	if cfg.enterQueued != nil {
		bc.OnQueue = func(req any) { cfg.enterQueued(req.(string)) }
	}
	q.enters, _ = coalesce.New(bc, q.enterBatch) // cannot fail: nothing negative
	q.beats.init()
	return q
}

// Signer returns the signer of this queue's tokens.
func (q *Queue) Signer() *Signer { return q.signer }

// Status of a token.
const (
	StatusWaiting  = "waiting"
	StatusActive   = "active"
	StatusPrequeue = "prequeue" // entered before a scheduled open
	StatusSoldOut  = "sold_out" // every seat sold: stop polling
)

// Ticket is the answer to entering the line.
type Ticket struct {
	Token       string
	Claims      Token
	Created     bool // false when the user's live token was returned again
	Status      string
	Position    int64 // 1-based among waiting tokens; 0 once active or in the pre-queue
	ActiveUntil time.Time
	OpensAt     time.Time // the scheduled open; zero when none
}

// Enter puts userID in the line of concertID, or returns the live token the
// user already holds there (a user never gets a second place in line). A
// user whose token admission skipped as silent gets that token back within
// the rejoin grace, first in line, as if it had polled.
// Before a scheduled open the user joins the pre-queue (Status
// StatusPrequeue, Position 0), whose order the draw decides at the open.
// The caller checks that the concert exists. Returns ErrSoldOut.
func (q *Queue) Enter(ctx context.Context, concertID int64, userID string) (Ticket, error) {
	if !userid.Valid(userID) || concertID <= 0 {
		return Ticket{}, fmt.Errorf("queue: enter: bad user or concert")
	}
	e, err := q.enters.Do(ctx, concertID, userID)
	if err != nil {
		return Ticket{}, storeError("enter", err)
	}
	res := e[:]
	const (
		inLine   = 0
		active   = 1
		prequeue = 2
		soldOut  = 3
	)
	if res[5] == soldOut {
		return Ticket{}, ErrSoldOut
	}
	issued := time.Unix(res[2], 0)
	claims := Token{
		ConcertID: concertID,
		Seq:       res[1],
		UserID:    userID,
		IssuedAt:  issued,
		ExpiresAt: issued.Add(q.cfg.TokenTTL).Truncate(time.Second),
		Gen:       res[7],
	}
	t := Ticket{Created: res[0] == 1, Status: StatusWaiting, Position: res[3]}
	if res[6] > 0 {
		t.OpensAt = time.UnixMilli(res[6])
		// A pre-queue token lives TokenTTL from the open, like the first
		// arrival after it.
		if exp := t.OpensAt.Add(q.cfg.TokenTTL).Truncate(time.Second); exp.After(claims.ExpiresAt) && claims.IssuedAt.Before(t.OpensAt) {
			claims.ExpiresAt = exp
		}
	}
	switch res[5] {
	case active:
		t.Status, t.Position, t.ActiveUntil = StatusActive, 0, time.UnixMilli(res[4])
	case prequeue:
		t.Status, t.Position = StatusPrequeue, 0
	}
	t.Token, t.Claims = q.signer.Sign(claims), claims
	return t, nil
}

// entered is enter.lua's answer for one user (see the script).
type entered [8]int64

// enterBatch enters users, in their order, with one run of enter.lua: the
// token issues of one concert that arrive together share a round trip (see
// Config.EnterBatch). The script checks its arguments before it writes, so a
// batch that fails has changed nothing and each of its users gets the error
// they would have had alone.
func (q *Queue) enterBatch(ctx context.Context, concertID int64, users []string) ([]entered, error) {
	k := q.keys.Concert(concertID)
	args := make([]any, 0, 5+len(users))
	args = append(args, q.cfg.Now().UnixMilli(), q.cfg.TokenTTL.Milliseconds(), q.cfg.AbandonAfter.Milliseconds(),
		newGeneration(), q.cfg.RejoinGrace.Milliseconds())
	for _, u := range users {
		args = append(args, u)
	}
	res, err := lua.Enter.Run(ctx, q.rdb,
		[]string{k.Waiting(), k.Active(), k.ActiveUsers(), k.Seq(), k.Timeline(), k.Queue(), k.Prequeue(), k.Heartbeats(),
			k.Skipped(), k.Rejoined(), k.SkippedUsers()},
		args...).Int64Slice()
	if err != nil {
		return nil, err
	}
	return expandEntered(res, len(users))
}

// expandEntered gives each user of a run of enter.lua its whole answer: the
// script answers what all its users share (the scheduled open and the line's
// generation) once, before six values per user.
func expandEntered(res []int64, users int) ([]entered, error) {
	if len(res) != 2+6*users {
		return nil, fmt.Errorf("unexpected reply of %d values for %d users", len(res), users)
	}
	out := make([]entered, users)
	for i := range out {
		copy(out[i][:6], res[2+6*i:])
		out[i][6], out[i][7] = res[0], res[1]
	}
	return out, nil
}

// Position is where a token stands.
type Position struct {
	Status        string
	QueuePosition int64 // 0 when active, in the pre-queue or sold out
	Ahead         int64
	// EstimatedWait is nil while the queue is paused or no rate is known.
	EstimatedWait *time.Duration
	PollAfter     time.Duration // 0 when sold out: nothing left to poll for
	ActiveUntil   time.Time
	OpensAt       time.Time // set in the pre-queue
}

// newGeneration is a random line generation, below 2^52 so that Lua
// numbers (doubles) hold it exactly, and never 0 (tokens without one).
func newGeneration() int64 { return rand.Int64N(1<<52-1) + 1 }

// Position answers a poll, and counts it as the token's heartbeat. A waiting
// or pre-queue token costs no Redis round trip while this replica's copy of
// the concert's admission state is fresh (the heartbeat is batched and sent
// by the admission loop); the position given is then an upper bound of the
// true one (tokens ahead that lapsed or left are still counted until
// admission passes them). A token that admission skipped as silent is
// answered as first in line while it may still rejoin. Returns
// ErrTokenExpired, or ErrLineReset for a token of a line that Redis lost.
func (q *Queue) Position(ctx context.Context, t Token) (Position, error) {
	now := q.cfg.Now()
	v, err := q.sameLine(ctx, t, now)
	if err != nil {
		return Position{}, err
	}
	switch {
	case v.state == stateSoldOut:
		return Position{Status: StatusSoldOut}, nil
	case v.state == stateScheduled || (v.state == statePlacing && t.Seq <= v.openSeq):
		if !now.Before(t.ExpiresAt) {
			return Position{}, ErrTokenExpired
		}
		p := v.prequeuePosition(t.Seq, now)
		q.beat(t, now, p.PollAfter)
		return p, nil
	}
	place, err := q.placeOf(ctx, t, v)
	if err != nil {
		return Position{}, err
	}
	if place > v.head {
		if !now.Before(t.ExpiresAt) {
			return Position{}, ErrTokenExpired
		}
		p := v.waitingPosition(place)
		q.beat(t, now, p.PollAfter)
		return p, nil
	}
	return q.passedPosition(ctx, t, now, v)
}

// passedPosition answers for a token that admission has passed: active,
// skipped (and so first in line if it polls within the grace), or expired.
// The three sets are read in one transaction: read one by one, a rejoined
// token admitted between the reads would be found in none of them.
func (q *Queue) passedPosition(ctx context.Context, t Token, now time.Time, v view) (Position, error) {
	k := q.keys.Concert(t.ConcertID)
	pipe := q.rdb.TxPipeline()
	active := pipe.ZScore(ctx, k.Active(), t.member())
	skipped := pipe.ZScore(ctx, k.Skipped(), t.member())
	rejoined := pipe.ZScore(ctx, k.Rejoined(), t.member())
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Position{}, storeError("passed token check", err)
	}
	if score, err := active.Result(); err == nil {
		if until := time.UnixMilli(int64(score)); now.Before(until) {
			return Position{Status: StatusActive, ActiveUntil: until}, nil
		}
		return Position{}, ErrTokenExpired
	}
	at, err := skipped.Result()
	back := rejoined.Err() == nil ||
		(err == nil && now.Before(time.UnixMilli(int64(at)).Add(q.cfg.RejoinGrace)))
	if !back {
		return Position{}, ErrTokenExpired
	}
	// First in line: admitted by the next step with room. No estimate only
	// while the line is paused, as for any waiting token.
	p := Position{Status: StatusWaiting, QueuePosition: 1, PollAfter: MinPollAfter}
	if !v.settings.Paused {
		p.EstimatedWait = new(time.Duration)
	}
	q.beat(t, now, p.PollAfter)
	return p, nil
}

// Admitted checks that t is active now, in one Redis round trip, and returns
// when its admission lapses. Returns ErrTokenExpired (also for a token whose
// concert sold out while it waited), ErrLineReset, or a *NotAdmittedError for
// a token still waiting.
func (q *Queue) Admitted(ctx context.Context, t Token) (time.Time, error) {
	now := q.cfg.Now()
	// A token of a lost line is told so, even if the new line happens to
	// hold an active token of the same sequence and user.
	if _, err := q.sameLine(ctx, t, now); err != nil {
		return time.Time{}, err
	}
	until, err := q.activeUntil(ctx, t, now)
	if !errors.Is(err, ErrTokenExpired) {
		return until, err
	}
	p, err := q.Position(ctx, t)
	if err != nil {
		return time.Time{}, err
	}
	switch p.Status {
	case StatusWaiting, StatusPrequeue:
		return time.Time{}, &NotAdmittedError{Position: p.QueuePosition}
	case StatusActive:
		return p.ActiveUntil, nil
	}
	return time.Time{}, ErrTokenExpired
}

// activeUntil returns when t's admission lapses, or ErrTokenExpired when it
// is not active.
func (q *Queue) activeUntil(ctx context.Context, t Token, now time.Time) (time.Time, error) {
	score, err := q.rdb.ZScore(ctx, q.keys.Concert(t.ConcertID).Active(), t.member()).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, ErrTokenExpired
	}
	if err != nil {
		return time.Time{}, storeError("active check", err)
	}
	until := time.UnixMilli(int64(score))
	if !now.Before(until) {
		return time.Time{}, ErrTokenExpired
	}
	return until, nil
}

// Release frees t's active slot (after a payment): the token can no longer be
// used and the next in line can be admitted. Releasing twice is harmless.
func (q *Queue) Release(ctx context.Context, t Token) error {
	k := q.keys.Concert(t.ConcertID)
	err := lua.Release.Run(ctx, q.rdb, []string{k.Active(), k.ActiveUsers()}, itoa(t.Seq), t.UserID).Err()
	if err != nil {
		return storeError("release", err)
	}
	return nil
}

// Admission is the outcome of one admission step, and the concert's state
// right after it.
type Admission struct {
	Admitted      int64
	Head          int64 // highest place in line admission has passed
	Waiting       int64
	Active        int64
	AdmittedTotal int64
	Skipped       int64 // waiting tokens this step skipped as silent
	SkippedTotal  int64 // waiting tokens skipped as silent, since the line began
	Settings      Settings
	Gen           int64     // the line's generation (see Enter)
	State         string    // StateOpen, StateScheduled or StateSoldOut
	OpensAt       time.Time // the scheduled open; zero when none
	FreeSeats     int64     // as admission saw them; -1 when unknown
	// OpenSeq is the arrival sequence at the open: tokens at or below it
	// came through the pre-queue (0 without a scheduled open).
	OpenSeq int64
	state   int
}

// States of a concert's sale, as GET /admin/queue shows them.
const (
	StateScheduled = "scheduled"
	StateOpen      = "open"
	StatePaused    = "paused"
	StateSoldOut   = "sold_out"
)

// The state codes admit.lua and settings.lua return.
const (
	stateOpen = iota
	stateScheduled
	statePlacing
	stateSoldOut
)

func stateName(code int, paused bool) string {
	switch {
	case code == stateSoldOut:
		return StateSoldOut
	case code == stateScheduled:
		return StateScheduled
	case paused:
		return StatePaused
	}
	return StateOpen
}

// Admit runs one admission step for concertID: it lapses active tokens whose
// time is up, then admits from the head of the line as many as the token
// bucket and max_active allow, skipped tokens that came back first, passing
// over waiting tokens that expired or went silent. It admits nobody while no
// seat is free, and releases the line once every seat is sold. At a scheduled
// open it places the pre-queue in draw order first.
// Safe to call from any number of replicas at once.
func (q *Queue) Admit(ctx context.Context, concertID int64) (Admission, error) {
	a, err := q.admitStep(ctx, concertID)
	if err != nil || a.state != statePlacing {
		return a, err
	}
	if err := q.placePrequeue(ctx, concertID); err != nil {
		return a, err
	}
	return q.admitStep(ctx, concertID)
}

// stockTimeout bounds the stock count of one admission step.
const stockTimeout = 300 * time.Millisecond

func (q *Queue) admitStep(ctx context.Context, concertID int64) (Admission, error) {
	k := q.keys.Concert(concertID)
	stock := Stock{Free: -1}
	if q.cfg.Stock != nil {
		// Bounded apart from the step: a stock count stuck on an outage must
		// not take the admission step's deadline with it.
		sctx, cancel := context.WithTimeout(ctx, stockTimeout)
		s, err := q.cfg.Stock(sctx, concertID)
		cancel()
		if err == nil {
			stock = s
		}
		// Stock unknown (its store is unreachable): admission goes on, since
		// pausing a whole line for an outage of the seat counts would be worse.
	}
	soldOut := 0
	if stock.SoldOut {
		soldOut = 1
	}
	now := q.cfg.Now()
	d := q.cfg.Defaults
	res, err := lua.Admit.Run(ctx, q.rdb,
		[]string{k.Queue(), k.Waiting(), k.Active(), k.ActiveUsers(), k.Timeline(),
			k.Seq(), k.Prequeue(), k.Heartbeats(), k.Skipped(), k.Rejoined(), k.SkippedUsers()},
		now.UnixMilli(), formatRate(d.AdmitPerSecond), d.MaxActive, d.ActiveTTL.Milliseconds(),
		q.cfg.TokenTTL.Milliseconds(), q.cfg.Batch, q.cfg.BucketDepth.Seconds(),
		stock.Free, soldOut, q.cfg.RejoinGrace.Milliseconds(), newGeneration()).Int64Slice()
	if err != nil {
		return Admission{}, storeError("admit", err)
	}
	if len(res) != 16 {
		return Admission{}, fmt.Errorf("queue: admit: unexpected reply %v", res)
	}
	a := Admission{
		Admitted: res[0], Head: res[1], Waiting: res[2], Active: res[3], AdmittedTotal: res[4],
		Settings: Settings{
			Paused:         res[5] == 1,
			AdmitPerSecond: float64(res[6]) / 1000,
			MaxActive:      res[7],
			ActiveTTL:      time.Duration(res[8]) * time.Millisecond,
		},
		Gen:   res[15],
		state: int(res[9]), OpenSeq: res[10], SkippedTotal: res[12], FreeSeats: res[13], Skipped: res[14],
	}
	a.State = stateName(a.state, a.Settings.Paused)
	if res[11] > 0 {
		a.OpensAt = time.UnixMilli(res[11])
	}
	q.observe(concertID, now, a)
	if q.cfg.OnAdmit != nil {
		q.cfg.OnAdmit(concertID, a)
	}
	return a, nil
}

// Status is what an admin sees of a concert's line.
type Status struct {
	Settings
	Waiting       int64 // with the pre-queue before the open
	Active        int64
	AdmittedTotal int64
	SkippedTotal  int64
	FreeSeats     int64     // as the latest admission step saw them; -1 when unknown
	OpensAt       time.Time // zero when none
	State         string    // StateScheduled, StateOpen, StatePaused or StateSoldOut
}

// SettingsPatch names the settings to change; nil fields stay as they are.
type SettingsPatch struct {
	AdmitPerSecond *float64
	MaxActive      *int64
	ActiveTTL      *time.Duration
	Paused         *bool
}

// Limits of the admission settings.
const (
	MaxAdmitPerSecond = 1_000_000
	MaxMaxActive      = 10_000_000
	MinActiveTTL      = time.Second
	MaxActiveTTL      = 24 * time.Hour
)

// Validate returns ErrInvalidSettings when a field is out of range or not a
// finite number (NaN fails every comparison, so it is refused by name).
func (p SettingsPatch) Validate() error {
	if v := p.AdmitPerSecond; v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0 || *v > MaxAdmitPerSecond) {
		return fmt.Errorf("%w: admit_per_second must be 0 … %d", ErrInvalidSettings, MaxAdmitPerSecond)
	}
	if v := p.MaxActive; v != nil && (*v < 0 || *v > MaxMaxActive) {
		return fmt.Errorf("%w: max_active must be 0 … %d", ErrInvalidSettings, MaxMaxActive)
	}
	if v := p.ActiveTTL; v != nil && (*v < MinActiveTTL || *v > MaxActiveTTL) {
		return fmt.Errorf("%w: active_ttl_seconds must be 1 … %d", ErrInvalidSettings, int(MaxActiveTTL.Seconds()))
	}
	return nil
}

// Status returns the settings and counts of concertID's line.
func (q *Queue) Status(ctx context.Context, concertID int64) (Status, error) {
	return q.UpdateSettings(ctx, concertID, SettingsPatch{})
}

// UpdateSettings changes the admission settings of concertID and returns the
// result. Every replica's admission loop applies them on its next tick.
// Returns ErrInvalidSettings.
func (q *Queue) UpdateSettings(ctx context.Context, concertID int64, p SettingsPatch) (Status, error) {
	if err := p.Validate(); err != nil {
		return Status{}, err
	}
	k := q.keys.Concert(concertID)
	d := q.cfg.Defaults
	args := []any{q.cfg.Now().UnixMilli(), formatRate(d.AdmitPerSecond), d.MaxActive, d.ActiveTTL.Milliseconds()}
	if p.AdmitPerSecond != nil {
		args = append(args, "admit_per_second", formatRate(*p.AdmitPerSecond))
	}
	if p.MaxActive != nil {
		args = append(args, "max_active", *p.MaxActive)
	}
	if p.ActiveTTL != nil {
		args = append(args, "active_ttl_ms", p.ActiveTTL.Milliseconds())
	}
	if p.Paused != nil {
		paused := "0"
		if *p.Paused {
			paused = "1"
		}
		args = append(args, "paused", paused)
	}
	res, err := lua.Settings.Run(ctx, q.rdb, []string{k.Queue(), k.Waiting(), k.Active(), k.Prequeue()}, args...).Int64Slice()
	if err != nil {
		return Status{}, storeError("settings", err)
	}
	if len(res) != 11 {
		return Status{}, fmt.Errorf("queue: settings: unexpected reply %v", res)
	}
	st := Status{
		Settings: Settings{
			AdmitPerSecond: float64(res[0]) / 1000,
			MaxActive:      res[1],
			ActiveTTL:      time.Duration(res[2]) * time.Millisecond,
			Paused:         res[3] == 1,
		},
		AdmittedTotal: res[4], Waiting: res[5], Active: res[6],
		SkippedTotal: res[7], FreeSeats: res[10],
	}
	if res[8] > 0 {
		st.OpensAt = time.UnixMilli(res[8])
	}
	st.State = stateName(int(res[9]), st.Paused)
	return st, nil
}

func formatRate(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// Run runs the admission loop until ctx ends: every interval, one admission
// step for each concert that concerts returns. Errors are passed to onError
// (which may be nil) and the loop goes on: a Redis outage pauses admission,
// and admission resumes by itself when Redis answers again.
func (q *Queue) Run(ctx context.Context, interval time.Duration, concerts func() []int64, onError func(concertID int64, err error)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		flushCtx, cancel := context.WithTimeout(ctx, interval*4+time.Second)
		if err := q.FlushHeartbeats(flushCtx); err != nil && ctx.Err() == nil && onError != nil {
			onError(0, err)
		}
		cancel()
		for _, id := range concerts() {
			stepCtx, cancel := context.WithTimeout(ctx, interval*4+time.Second)
			_, err := q.Admit(stepCtx, id)
			cancel()
			if err != nil && ctx.Err() == nil && onError != nil {
				onError(id, err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// ActiveEntry names t's entry in its concert's set of active tokens: the
// sorted set key and member whose score is when the admission lapses. Another
// script may check it atomically with its own work (a seat hold does).
func (q *Queue) ActiveEntry(t Token) (key, member string) {
	return q.keys.Concert(t.ConcertID).Active(), t.member()
}
