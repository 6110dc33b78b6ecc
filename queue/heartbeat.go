package queue

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rushgate/rushgate/lua"
)

// Heartbeats. Every poll of a waiting token says "still here"; admission
// skips a token whose last sign of life is too old. A poll must not wait for
// Redis to record that, so each replica keeps the latest deadline per token in
// memory and the admission loop sends them in batches (FlushHeartbeats). A
// deadline is "alive until": the poll's time plus the longer of AbandonAfter
// and three times the interval the poll was told to wait.

// beatShards spreads the polls of many cores over several locks.
const beatShards = 32

// flushChunk bounds the tokens sent in one heartbeat script call.
const flushChunk = 500

type beatKey struct {
	concert, seq int64
	user         string
}

type beats struct {
	shards [beatShards]struct {
		mu sync.Mutex
		m  map[beatKey]int64 // alive until (unix ms)
	}
}

func (b *beats) init() {
	for i := range b.shards {
		b.shards[i].m = make(map[beatKey]int64)
	}
}

// beat records a poll of t answered at now with the given poll interval.
func (q *Queue) beat(t Token, now time.Time, pollAfter time.Duration) {
	if q.noBeats {
		return
	}
	alive := now.Add(max(q.cfg.AbandonAfter, 3*pollAfter)).UnixMilli()
	q.beats.record(beatKey{concert: t.ConcertID, seq: t.Seq, user: t.UserID}, alive)
}

func (b *beats) record(k beatKey, alive int64) {
	s := &b.shards[uint64(k.seq)%beatShards]
	s.mu.Lock()
	if old, ok := s.m[k]; !ok || old < alive {
		s.m[k] = alive
	}
	s.mu.Unlock()
}

// take empties the batch and returns it grouped by concert.
func (b *beats) take() map[int64]map[beatKey]int64 {
	out := make(map[int64]map[beatKey]int64)
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		// Only a map taken out of the shard may be read after the unlock:
		// polls keep writing to the one left in place.
		var m map[beatKey]int64
		if len(s.m) > 0 {
			m, s.m = s.m, make(map[beatKey]int64)
		}
		s.mu.Unlock()
		for k, v := range m {
			if out[k.concert] == nil {
				out[k.concert] = make(map[beatKey]int64)
			}
			out[k.concert][k] = v
		}
	}
	return out
}

// FlushHeartbeats sends the polls this replica has answered since the last
// flush to Redis, in bounded script calls. The admission loop calls it every
// tick; what fails to send is kept for the next flush.
func (q *Queue) FlushHeartbeats(ctx context.Context) error {
	var errs []error
	for concert, m := range q.beats.take() {
		k := q.keys.Concert(concert)
		keys := []string{k.Heartbeats(), k.Skipped(), k.Rejoined()}
		now := q.cfg.Now().UnixMilli()
		args := make([]any, 0, 2+2*flushChunk)
		var pending []beatKey
		send := func() {
			if len(pending) == 0 {
				return
			}
			if err := lua.Heartbeat.Run(ctx, q.rdb, keys, args...).Err(); err != nil {
				errs = append(errs, err)
				for _, bk := range pending {
					q.beats.record(bk, m[bk])
				}
			}
			args, pending = args[:0], pending[:0]
		}
		for bk, alive := range m {
			if len(args) == 0 {
				args = append(args, now, q.cfg.RejoinGrace.Milliseconds())
			}
			args = append(args, itoa(bk.seq)+":"+bk.user, alive)
			pending = append(pending, bk)
			if len(pending) == flushChunk {
				send()
			}
		}
		send()
	}
	if err := errors.Join(errs...); err != nil {
		return storeError("heartbeats", err)
	}
	return nil
}
