// Package livestats keeps the operator's live view of each concert's line:
// one point per second, summed over every gateway replica, of how many
// entered, were admitted, were skipped as inactive, held a seat and bought
// one in that second, and how long the line (waiting) and the set of admitted
// fans (active) were.
//
// Counting costs the request path no Redis round trip: each replica counts in
// memory and a background loop flushes the counts once a second in one
// pipeline, adding them (HINCRBY) to per-minute hashes under the concert's
// hash tag, so the stats of a concert live in the same Redis Cluster slot as
// its line. Levels are set (HSET), not added: every replica reads the same
// line. Points are kept for Retention.
package livestats

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/keyspace"
)

// Retention is how long points are kept in Redis (at least an hour is
// promised; the extra hour covers a minute's key written late).
const Retention = 2 * time.Hour

// MaxSeconds is the longest span Points returns.
const MaxSeconds = 3600

// FlushEvery is how often each replica writes its counts.
const FlushEvery = time.Second

// Settle is how far behind now the last complete point is: every replica
// has flushed a second by then (it flushes once per FlushEvery, a little
// after the second ends).
const Settle = 2 * time.Second

// Point is one second of a concert.
type Point struct {
	T time.Time // the start of the second
	// Counts within the second, summed over replicas.
	Entered, Admitted, SkippedInactive, Holds, Sales int64
	// Levels at the end of the second (the last seen in it; carried forward
	// over seconds nobody observed).
	Waiting, Active int64
	// AdmitPerSecond is the admission rate set at the end of the second.
	AdmitPerSecond float64
}

// Fields of a second in a minute hash: "<ss><letter>".
const (
	fEntered  = 'e'
	fAdmitted = 'a'
	fSkipped  = 'k'
	fHolds    = 'h'
	fSales    = 's'
	fWaiting  = 'w'
	fActive   = 'c'
	fRate     = 'r' // admission rate set, in thousandths per second
)

type counts struct {
	entered, admitted, skipped, holds, sales int64
	hasLevel                                 bool
	waiting, active, rateMilli               int64
}

func (c *counts) add(o counts) {
	c.entered += o.entered
	c.admitted += o.admitted
	c.skipped += o.skipped
	c.holds += o.holds
	c.sales += o.sales
	if o.hasLevel {
		c.hasLevel, c.waiting, c.active, c.rateMilli = true, o.waiting, o.active, o.rateMilli
	}
}

// concertCounts are the unflushed counts of one concert, by unix second.
type concertCounts struct {
	mu   sync.Mutex
	secs map[int64]*counts
}

// Recorder counts in memory and flushes to Redis. The zero value is not
// usable; a nil *Recorder ignores every count (for tests and tools that need
// no stats).
type Recorder struct {
	rdb  redis.UniversalClient
	keys keyspace.Space
	now  func() time.Time

	concerts sync.Map // int64 -> *concertCounts
}

// New returns a recorder writing to rdb under keys; now is the clock (nil:
// time.Now).
func New(rdb redis.UniversalClient, keys keyspace.Space, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	return &Recorder{rdb: rdb, keys: keys, now: now}
}

func (r *Recorder) bump(concertID int64, f func(*counts)) {
	if r == nil || concertID <= 0 {
		return
	}
	v, ok := r.concerts.Load(concertID)
	if !ok {
		v, _ = r.concerts.LoadOrStore(concertID, &concertCounts{secs: map[int64]*counts{}})
	}
	cc := v.(*concertCounts)
	sec := r.now().Unix()
	cc.mu.Lock()
	c := cc.secs[sec]
	if c == nil {
		c = &counts{}
		cc.secs[sec] = c
	}
	f(c)
	cc.mu.Unlock()
}

// Entered counts a fan who took a new place in the line.
func (r *Recorder) Entered(concertID int64) { r.bump(concertID, func(c *counts) { c.entered++ }) }

// Admitted counts n fans admitted by one admission step of this replica.
func (r *Recorder) Admitted(concertID, n int64) {
	if n > 0 {
		r.bump(concertID, func(c *counts) { c.admitted += n })
	}
}

// SkippedInactive counts n waiting fans that an admission step of this
// replica skipped because they stopped polling.
func (r *Recorder) SkippedInactive(concertID, n int64) {
	if n > 0 {
		r.bump(concertID, func(c *counts) { c.skipped += n })
	}
}

// Held counts a seat hold.
func (r *Recorder) Held(concertID int64) { r.bump(concertID, func(c *counts) { c.holds++ }) }

// Sold counts a seat sold (a payment completed).
func (r *Recorder) Sold(concertID int64) { r.bump(concertID, func(c *counts) { c.sales++ }) }

// Levels records the length of the line, the number of active fans and the
// admission rate set, as an admission step saw them.
func (r *Recorder) Levels(concertID, waiting, active int64, admitPerSecond float64) {
	milli := int64(math.Round(admitPerSecond * 1000))
	r.bump(concertID, func(c *counts) {
		c.hasLevel, c.waiting, c.active, c.rateMilli = true, waiting, active, milli
	})
}

// Run flushes every FlushEvery until ctx ends, then once more (with a short
// deadline of its own) so a replica shutting down loses no counts.
func (r *Recorder) Run(ctx context.Context) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	var lastLog time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			if err := r.Flush(fctx); err != nil {
				slog.Warn("livestats: last flush", "err", err)
			}
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, FlushEvery)
		err := r.Flush(fctx)
		cancel()
		if err != nil && ctx.Err() == nil && time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			slog.Warn("livestats: flush", "err", err)
		}
	}
}

// take removes and returns the unflushed counts of every concert.
func (r *Recorder) take() map[int64]map[int64]*counts {
	out := map[int64]map[int64]*counts{}
	r.concerts.Range(func(k, v any) bool {
		cc := v.(*concertCounts)
		cc.mu.Lock()
		if len(cc.secs) > 0 {
			out[k.(int64)] = cc.secs
			cc.secs = map[int64]*counts{}
		}
		cc.mu.Unlock()
		return true
	})
	return out
}

// giveBack returns counts a failed flush could not write, dropping those
// older than Retention so an outage cannot grow memory without bound.
func (r *Recorder) giveBack(taken map[int64]map[int64]*counts) {
	oldest := r.now().Add(-Retention).Unix()
	for id, secs := range taken {
		for sec, c := range secs {
			if sec < oldest {
				continue
			}
			r.bump(id, func(*counts) {}) // make sure the concert exists
			v, _ := r.concerts.Load(id)
			cc := v.(*concertCounts)
			cc.mu.Lock()
			if cur := cc.secs[sec]; cur != nil {
				// Newer levels of the same second win over the old ones.
				merged := *c
				merged.add(*cur)
				*cur = merged
			} else {
				cc.secs[sec] = c
			}
			cc.mu.Unlock()
		}
	}
}

// Flush writes the counts gathered since the last flush in one pipeline. On
// failure they are kept for the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	if r == nil {
		return nil
	}
	taken := r.take()
	if len(taken) == 0 {
		return nil
	}
	pipe := r.rdb.Pipeline()
	for id, secs := range taken {
		kc := r.keys.Concert(id)
		touched := map[string]bool{}
		for sec, c := range secs {
			key := kc.Stats(sec / 60)
			ss := sec % 60
			for _, f := range []struct {
				letter byte
				n      int64
			}{{fEntered, c.entered}, {fAdmitted, c.admitted}, {fSkipped, c.skipped}, {fHolds, c.holds}, {fSales, c.sales}} {
				if f.n != 0 {
					pipe.HIncrBy(ctx, key, field(ss, f.letter), f.n)
				}
			}
			if c.hasLevel {
				pipe.HSet(ctx, key, field(ss, fWaiting), c.waiting, field(ss, fActive), c.active, field(ss, fRate), c.rateMilli)
			}
			touched[key] = true
		}
		for key := range touched {
			pipe.Expire(ctx, key, Retention)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		r.giveBack(taken)
		return fmt.Errorf("livestats: flush: %w", err)
	}
	return nil
}

func field(ss int64, letter byte) string {
	b := make([]byte, 0, 3)
	if ss < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, ss, 10)
	return string(append(b, letter))
}

// Points returns the points of concertID for the seconds from `from` up to
// but excluding `to` (both truncated to the second), oldest first, one per
// second, read in one pipelined round trip. Seconds nobody recorded count
// zero and carry the levels of the second before.
func (r *Recorder) Points(ctx context.Context, concertID int64, from, to time.Time) ([]Point, error) {
	start, end := from.Unix(), to.Unix()
	if end <= start {
		return []Point{}, nil
	}
	kc := r.keys.Concert(concertID)
	pipe := r.rdb.Pipeline()
	var minutes []int64
	var cmds []*redis.MapStringStringCmd
	// The minute before the range gives the levels to carry into it.
	for m := start/60 - 1; m <= (end-1)/60; m++ {
		minutes = append(minutes, m)
		cmds = append(cmds, pipe.HGetAll(ctx, kc.Stats(m)))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("livestats: read: %w", err)
	}
	type slot struct {
		p        Point
		hasLevel bool
	}
	slots := make(map[int64]*slot)
	for i, m := range minutes {
		for f, v := range cmds[i].Val() {
			if len(f) != 3 {
				continue
			}
			ss, err := strconv.ParseInt(f[:2], 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err != nil || err2 != nil {
				continue
			}
			sec := m*60 + ss
			s := slots[sec]
			if s == nil {
				s = &slot{}
				slots[sec] = s
			}
			switch f[2] {
			case fEntered:
				s.p.Entered = n
			case fAdmitted:
				s.p.Admitted = n
			case fSkipped:
				s.p.SkippedInactive = n
			case fHolds:
				s.p.Holds = n
			case fSales:
				s.p.Sales = n
			case fWaiting:
				s.p.Waiting, s.hasLevel = n, true
			case fActive:
				s.p.Active, s.hasLevel = n, true
			case fRate:
				s.p.AdmitPerSecond, s.hasLevel = float64(n)/1000, true
			}
		}
	}
	// Levels carried into the range: the latest recorded before start.
	var level Point
	for sec := start - 1; sec >= (start/60-1)*60; sec-- {
		if s := slots[sec]; s != nil && s.hasLevel {
			level = s.p
			break
		}
	}
	out := make([]Point, 0, end-start)
	for sec := start; sec < end; sec++ {
		var p Point
		if s := slots[sec]; s != nil {
			p = s.p
			if s.hasLevel {
				level = p
			}
		}
		p.Waiting, p.Active, p.AdmitPerSecond = level.Waiting, level.Active, level.AdmitPerSecond
		p.T = time.Unix(sec, 0)
		out = append(out, p)
	}
	return out, nil
}

// Last returns the points of the last n complete seconds (ending Settle
// before now), oldest first.
func (r *Recorder) Last(ctx context.Context, concertID int64, n int) ([]Point, error) {
	end := r.now().Add(-Settle).Truncate(time.Second)
	return r.Points(ctx, concertID, end.Add(-time.Duration(n)*time.Second), end)
}
