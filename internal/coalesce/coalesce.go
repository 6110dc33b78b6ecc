// Package coalesce gathers concurrent calls that share a key into batches, so
// that many callers share one round trip to a store.
//
// Calls of one key go out one batch at a time, in arrival order: a call that
// finds its key idle goes at once, alone (no wait is added when nothing else
// is happening); calls that arrive while a batch of their key is in flight
// queue up and go together as the next batch as soon as it returns, up to
// MaxBatch of them. Keeping one batch in flight per key is what keeps the
// arrival order: two batches sent at once on two connections could be run by
// the store in either order.
package coalesce

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Batcher.
type Config struct {
	// MaxBatch is the most calls one batch carries; 1 (or less) turns
	// batching off: every call runs alone, at once, on its caller's goroutine.
	MaxBatch int
	// Wait bounds how long a queued call may wait for others to join its
	// batch once the batch ahead of it has returned (counted from the call's
	// arrival); 0 sends the queue as soon as the key is free.
	Wait time.Duration
	// Timeout bounds each call from its arrival, the time spent queued
	// included (0: only the caller's context bounds it). Each batch runs
	// under the earliest deadline of its calls, and the batch ahead of a
	// queued call carries calls that arrived earlier, so a store that hangs
	// fails every call within Timeout of its arrival rather than one batch
	// after another; a call whose deadline has passed when its turn comes
	// fails with context.DeadlineExceeded, never sent.
	Timeout time.Duration
	// Unreachable, when set, tells an error that means the store cannot be
	// reached: when a batch fails so, the calls queued behind it fail at
	// once with the same error, never sent, rather than each waiting out its
	// own batch against the same dead store. Other errors fail only their
	// batch.
	Unreachable func(error) bool
	// OnQueue, when set, is called with each request as it joins its key's
	// queue, in arrival order (under the queue's lock: it must be quick).
	OnQueue func(req any)
	// OnBatch, when set, is told of every batch run, after it returns (on
	// the goroutine that ran it: it must be quick), so that an operator can
	// see how full the batches are and where their time goes.
	OnBatch func(BatchStats)
}

// BatchStats describes one batch run.
type BatchStats struct {
	// Calls is the number of calls the batch carried.
	Calls int
	// Queued is how long the batch's oldest call waited for it to go: the
	// batch ahead and the wait for others to join (next to nothing for a
	// call that found its key idle; 0 with batching off).
	Queued time.Duration
	// Took is how long the run took (the store's round trips).
	Took time.Duration
}

// Run runs one batch: it returns one result per request, in the order of
// reqs, or an error that is the answer of every request in the batch. ctx
// ends at the earliest deadline of the batch's callers.
type Run[K comparable, Q, R any] func(ctx context.Context, key K, reqs []Q) ([]R, error)

// Batcher coalesces the calls of each key. Safe for concurrent use.
type Batcher[K comparable, Q, R any] struct {
	cfg Config
	run Run[K, Q, R]

	mu    sync.Mutex
	lanes map[K]*lane[Q, R]
}

// New returns a Batcher that sends its batches through run.
func New[K comparable, Q, R any](cfg Config, run Run[K, Q, R]) (*Batcher[K, Q, R], error) {
	if cfg.Wait < 0 || cfg.Timeout < 0 {
		return nil, errors.New("coalesce: Wait and Timeout must not be negative")
	}
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = 1
	}
	return &Batcher[K, Q, R]{cfg: cfg, run: run, lanes: make(map[K]*lane[Q, R])}, nil
}

// The states of a call.
const (
	queued    int32 = iota
	sent            // taken into a batch: its answer will come
	abandoned       // its caller gave up while it was queued: never sent
)

type call[Q, R any] struct {
	ctx     context.Context
	req     Q
	res     R
	err     error
	arrived time.Time
	// deadline is the earliest of the caller's and arrived + Timeout; zero
	// when neither bounds the call.
	deadline time.Time
	state    atomic.Int32
	done     chan struct{}
}

// lane is the queue of one key; guarded by Batcher.mu.
type lane[Q, R any] struct {
	pending []*call[Q, R]
	busy    bool          // a batch of this key is being sent or run
	full    chan struct{} // closed when pending reaches MaxBatch during a wait
}

// ErrShortReply is returned to every call of a batch whose run returned a
// number of results other than the number of requests.
var ErrShortReply = errors.New("coalesce: the batch returned the wrong number of results")

// Do sends req with the other calls of key that arrive around it and returns
// its own result.
func (b *Batcher[K, Q, R]) Do(ctx context.Context, key K, req Q) (R, error) {
	if b.cfg.MaxBatch == 1 {
		if b.cfg.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, b.cfg.Timeout)
			defer cancel()
		}
		if b.cfg.OnQueue != nil {
			b.cfg.OnQueue(req)
		}
		start := time.Now()
		res, err := b.run(ctx, key, []Q{req})
		if b.cfg.OnBatch != nil {
			b.cfg.OnBatch(BatchStats{Calls: 1, Took: time.Since(start)})
		}
		if err != nil {
			var zero R
			return zero, err
		}
		if len(res) != 1 {
			var zero R
			return zero, ErrShortReply
		}
		return res[0], nil
	}
	// A batched call's Timeout is a deadline kept in the call, not a timer
	// of its own (a timer per call was a twentieth of the gateway's CPU on
	// token issues): the batch that carries it runs under the earliest
	// deadline of its calls, and a call whose deadline passes while queued
	// is failed, unsent, when its turn comes. Its turn comes when the batch
	// ahead returns, which that batch's own (earlier) deadline bounds.
	now := time.Now()
	c := &call[Q, R]{ctx: ctx, req: req, arrived: now, done: make(chan struct{})}
	if b.cfg.Timeout > 0 {
		c.deadline = now.Add(b.cfg.Timeout)
	}
	if d, ok := ctx.Deadline(); ok && (c.deadline.IsZero() || d.Before(c.deadline)) {
		c.deadline = d
	}
	b.mu.Lock()
	l := b.lanes[key]
	if l == nil {
		l = &lane[Q, R]{}
		b.lanes[key] = l
	}
	l.pending = append(l.pending, c)
	if b.cfg.OnQueue != nil {
		b.cfg.OnQueue(req)
	}
	if l.full != nil && len(l.pending) >= b.cfg.MaxBatch {
		close(l.full)
		l.full = nil
	}
	lead := !l.busy
	l.busy = true
	var batch []*call[Q, R]
	if lead {
		batch = b.takeLocked(l)
	}
	b.mu.Unlock()

	if lead {
		// The key was idle: this caller sends at once whatever is queued
		// (itself, and anyone who joined before the lock was taken), and
		// hands the key on to a drainer if more queued meanwhile.
		b.send(key, batch)
		b.mu.Lock()
		more := len(l.pending) > 0
		if !more {
			l.busy = false
		}
		b.mu.Unlock()
		if more {
			go b.drain(key, l)
		}
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		// Still queued: it is dropped and never sent. Already sent: its
		// answer is lost to this caller, as a call given up mid-flight is.
		c.state.CompareAndSwap(queued, abandoned)
		var zero R
		return zero, ctx.Err()
	}
}

// drain sends the queue of key batch after batch until it is empty.
func (b *Batcher[K, Q, R]) drain(key K, l *lane[Q, R]) {
	for {
		b.linger(l)
		b.mu.Lock()
		batch := b.takeLocked(l)
		if len(batch) == 0 {
			l.busy = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.send(key, batch)
	}
}

// linger waits, at most until the oldest queued call has waited Wait, for
// the queue to fill a batch.
func (b *Batcher[K, Q, R]) linger(l *lane[Q, R]) {
	if b.cfg.Wait <= 0 {
		return
	}
	b.mu.Lock()
	if len(l.pending) == 0 || len(l.pending) >= b.cfg.MaxBatch {
		b.mu.Unlock()
		return
	}
	left := time.Until(l.pending[0].arrived.Add(b.cfg.Wait))
	if left <= 0 {
		b.mu.Unlock()
		return
	}
	full := make(chan struct{})
	l.full = full
	b.mu.Unlock()
	t := time.NewTimer(left)
	select {
	case <-full:
	case <-t.C:
	}
	t.Stop()
	b.mu.Lock()
	if l.full == full {
		l.full = nil
	}
	b.mu.Unlock()
}

// takeLocked takes up to MaxBatch queued calls, in arrival order, skipping
// those whose callers gave up and failing, unsent, those past their
// deadline.
func (b *Batcher[K, Q, R]) takeLocked(l *lane[Q, R]) []*call[Q, R] {
	n := 0
	var batch []*call[Q, R]
	var now time.Time
	for n < len(l.pending) && len(batch) < b.cfg.MaxBatch {
		c := l.pending[n]
		n++
		if !c.state.CompareAndSwap(queued, sent) {
			continue
		}
		if !c.deadline.IsZero() {
			if now.IsZero() {
				now = time.Now()
			}
			if !now.Before(c.deadline) {
				c.err = context.DeadlineExceeded
				close(c.done)
				continue
			}
		}
		batch = append(batch, c)
	}
	rest := copy(l.pending, l.pending[n:])
	clear(l.pending[rest:])
	l.pending = l.pending[:rest]
	return batch
}

// send runs one batch and hands each call its answer.
func (b *Batcher[K, Q, R]) send(key K, batch []*call[Q, R]) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	reqs := make([]Q, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	start := time.Now()
	res, err := b.run(ctx, key, reqs)
	if b.cfg.OnBatch != nil {
		b.cfg.OnBatch(BatchStats{Calls: len(batch), Queued: start.Sub(batch[0].arrived), Took: time.Since(start)})
	}
	if err == nil && len(res) != len(batch) {
		err = fmt.Errorf("%w: %d for %d", ErrShortReply, len(res), len(batch))
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.res = res[i]
		}
		close(c.done)
	}
	if err != nil && b.cfg.Unreachable != nil && b.cfg.Unreachable(err) {
		b.failQueued(key, err)
	}
}

// failQueued fails every call queued for key with err, unsent.
func (b *Batcher[K, Q, R]) failQueued(key K, err error) {
	b.mu.Lock()
	var dropped []*call[Q, R]
	if l := b.lanes[key]; l != nil {
		for _, c := range l.pending {
			if c.state.CompareAndSwap(queued, sent) {
				dropped = append(dropped, c)
			}
		}
		clear(l.pending)
		l.pending = l.pending[:0]
	}
	b.mu.Unlock()
	for _, c := range dropped {
		c.err = err
		close(c.done)
	}
}

// batchContext carries the values of the batch's first call and ends at the
// earliest deadline of its calls, so that no caller's answer comes later than
// its own bound; one caller giving up does not cancel the others' batch.
func batchContext[Q, R any](batch []*call[Q, R]) (context.Context, context.CancelFunc) {
	var (
		earliest time.Time
		has      bool
	)
	for _, c := range batch {
		if d := c.deadline; !d.IsZero() && (!has || d.Before(earliest)) {
			earliest, has = d, true
		}
	}
	ctx := context.WithoutCancel(batch[0].ctx)
	if !has {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, earliest)
}
