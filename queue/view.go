package queue

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// view is this replica's copy of a concert's admission state, refreshed by
// every admission step it runs. Heads only grow, so a stale view can only
// overstate a position, never understate it.
type view struct {
	at       time.Time
	gen      int64 // the line's generation; 0 when Redis has no line
	head     int64
	settings Settings
	state    int       // stateOpen, stateScheduled, statePlacing or stateSoldOut
	openSeq  int64     // arrival sequence at the open (0: no pre-queue)
	opensAt  time.Time // zero when no open is scheduled
	last     Admission // the latest admission step's outcome
	// samples of admitted_total over the last rateWindow, oldest first, for
	// the admission rate actually measured.
	samples []sample
}

type sample struct {
	at    time.Time
	total int64
}

const rateWindow = 10 * time.Second

// measuredRate is admissions per second over the sample window, or 0 when
// the window is too short to tell.
func (v *view) measuredRate() float64 {
	if len(v.samples) < 2 {
		return 0
	}
	first, last := v.samples[0], v.samples[len(v.samples)-1]
	span := last.at.Sub(first.at).Seconds()
	if span < 2 {
		return 0
	}
	return float64(last.total-first.total) / span
}

// waitingPosition is the answer for a waiting token of sequence seq > head.
func (v *view) waitingPosition(seq int64) Position {
	pos := seq - v.head
	p := Position{Status: StatusWaiting, QueuePosition: pos, Ahead: pos - 1}
	rate := v.measuredRate()
	if rate <= 0 {
		rate = v.settings.AdmitPerSecond
	}
	if !v.settings.Paused && rate > 0 {
		wait := time.Duration(math.Ceil(float64(p.Ahead)/rate)) * time.Second
		p.EstimatedWait = &wait
	}
	p.PollAfter = PollAfter(pos, rate, v.settings.Paused)
	return p
}

// prequeuePosition is the answer for a token in the pre-queue: no place yet,
// and a poll interval that lands near the open, spread over a second by the
// token's sequence so that the pre-queue does not poll all at once.
func (v *view) prequeuePosition(seq int64, now time.Time) Position {
	wait := v.opensAt.Sub(now) + time.Duration(seq%1000)*time.Millisecond
	return Position{Status: StatusPrequeue, OpensAt: v.opensAt,
		PollAfter: min(max(wait, MinPollAfter), MaxPollAfter).Round(100 * time.Millisecond)}
}

// Poll intervals: the front of the line polls often, the back rarely.
const (
	MinPollAfter = time.Second
	MaxPollAfter = 30 * time.Second
)

// PollAfter says how long a client at position pos should wait before its next
// poll: a tenth of its expected wait, within [MinPollAfter, MaxPollAfter], so
// that each client polls about ten times whatever its distance, and the poll
// load of a long line stays flat instead of growing with its length.
func PollAfter(pos int64, rate float64, paused bool) time.Duration {
	var d time.Duration
	if paused || rate <= 0 {
		d = time.Duration(pos) * 10 * time.Millisecond
	} else {
		d = time.Duration(float64(pos) / rate / 10 * float64(time.Second))
	}
	return min(max(d, MinPollAfter), MaxPollAfter).Round(100 * time.Millisecond)
}

// observe records the state an admission step left behind.
func (q *Queue) observe(concertID int64, now time.Time, a Admission) {
	q.mu.Lock()
	defer q.mu.Unlock()
	v := q.views[concertID]
	if v == nil {
		v = &view{}
		q.views[concertID] = v
	}
	v.at = now
	if a.Gen != v.gen {
		// A new line: nothing of the lost one's head or rate carries over.
		v.gen, v.head, v.samples = a.Gen, a.Head, nil
	}
	if a.Head > v.head {
		v.head = a.Head
	}
	v.settings = a.Settings
	v.state, v.openSeq, v.opensAt = a.state, a.OpenSeq, a.OpensAt
	v.last = a
	v.samples = append(v.samples, sample{at: now, total: a.AdmittedTotal})
	cut := 0
	for cut < len(v.samples)-1 && now.Sub(v.samples[cut].at) > rateWindow {
		cut++
	}
	v.samples = v.samples[cut:]
}

// view returns a copy of concertID's view, reading Redis (one round trip)
// when this replica's copy is missing or stale — as it is when the admission
// loop cannot reach Redis, so an outage is reported instead of hidden.
func (q *Queue) view(ctx context.Context, concertID int64, now time.Time) (view, error) {
	return q.readView(ctx, concertID, now, false)
}

// readView is view, reading Redis also when the copy is fresh if force.
func (q *Queue) readView(ctx context.Context, concertID int64, now time.Time, force bool) (view, error) {
	q.mu.RLock()
	v := q.views[concertID]
	var cp view
	// What a fresh read from Redis is compared with, copied while locked:
	// the admission loop rewrites *v.
	var seenGen, seenHead int64
	if v != nil {
		seenGen, seenHead = v.gen, v.head
	}
	fresh := v != nil && now.Sub(v.at) < q.cfg.StaleAfter
	if fresh {
		cp = view{at: v.at, gen: v.gen, head: v.head, settings: v.settings, samples: v.samples,
			state: v.state, openSeq: v.openSeq, opensAt: v.opensAt}
	}
	q.mu.RUnlock()
	if fresh && !force {
		return cp, nil
	}
	vals, err := q.rdb.HMGet(ctx, q.keys.Concert(concertID).Queue(), "head", "admit_per_second", "paused", "gen",
		"phase", "sold_out", "open_seq", "opens_at_ms").Result()
	if err != nil && err != redis.Nil {
		return view{}, storeError("read admission state", err)
	}
	cp = view{at: now, settings: q.cfg.Defaults}
	if s, ok := vals[0].(string); ok {
		cp.head, _ = strconv.ParseInt(s, 10, 64)
	}
	if s, ok := vals[1].(string); ok {
		cp.settings.AdmitPerSecond, _ = strconv.ParseFloat(s, 64)
	}
	if s, ok := vals[2].(string); ok {
		cp.settings.Paused = s == "1"
	}
	if s, ok := vals[3].(string); ok {
		cp.gen, _ = strconv.ParseInt(s, 10, 64)
	}
	switch phase, _ := vals[4].(string); {
	case vals[5] == "1":
		cp.state = stateSoldOut
	case phase == "scheduled":
		cp.state = stateScheduled
	case phase == "placing":
		cp.state = statePlacing
	}
	if s, ok := vals[6].(string); ok {
		cp.openSeq, _ = strconv.ParseInt(s, 10, 64)
	}
	if s, ok := vals[7].(string); ok {
		ms, _ := strconv.ParseInt(s, 10, 64)
		cp.opensAt = time.UnixMilli(ms)
	}
	if v != nil && seenGen == cp.gen && seenHead > cp.head {
		cp.head = seenHead
	}
	return cp, nil
}

// sameLine returns the view of t's concert after checking that t was issued
// in the line Redis holds now: a Redis that restarted empty, or lost the
// concert's keys, starts a new generation, and the old tokens' places are
// gone (their sequences would even be issued again). The check costs no
// round trip while the view is fresh and agrees; on disagreement Redis is
// read, since the view may predate a new line. Returns ErrLineReset.
func (q *Queue) sameLine(ctx context.Context, t Token, now time.Time) (view, error) {
	v, err := q.view(ctx, t.ConcertID, now)
	if err != nil || t.Gen == 0 || t.Gen == v.gen {
		return v, err
	}
	if v, err = q.readView(ctx, t.ConcertID, now, true); err != nil {
		return v, err
	}
	if t.Gen != v.gen {
		return v, ErrLineReset
	}
	return v, nil
}

// Observed is what this replica last saw of concertID's line: the outcome
// of its latest admission step, the admission rate measured over the last
// few seconds, and when. ok is false before the first step.
func (q *Queue) Observed(concertID int64) (a Admission, measuredRate float64, at time.Time, ok bool) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	v := q.views[concertID]
	if v == nil {
		return Admission{}, 0, time.Time{}, false
	}
	return v.last, v.measuredRate(), v.at, true
}
