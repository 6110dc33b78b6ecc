package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/lua"
)

// The sold cache of a date is a Redis bitmap, which listings and seat counts
// read: bit n set means seat n is sold. Bit 0 (no seat has number 0) means
// "this cache is loaded", which tells an empty date (only bit 0) from a lost
// cache (no key, or a key that only a sale recorded after the loss created).
// Holds read the seat locks instead: a sold seat's lock reads "sold", and the
// lock of seat 0 reads "loaded" once every sold seat's lock is set, so that a
// hold takes a free seat with one call. A lost cache is rebuilt from
// Postgres, the source of truth, by setting bits and locks; nothing ever
// clears a bit or unsells a lock, so a rebuild racing a sale cannot drop the
// sale.
//
// The bitmap is (largest seat number)/8 bytes: 6.25 KB for 50,000 seats; a
// sold seat's lock, about a hundred bytes (5 MB for 50,000 sold seats) until
// it expires, some days after its date (soldLockMargin).

// soldLockMargin is how long after its UTC midnight a date's "sold" locks
// live. A date is held only until it has passed in Config.Location (holds of
// past dates are refused before Redis), and a day ends at most 38 hours
// after its UTC midnight in any time zone; the margin leaves more than a day
// beyond that. Without an expiry, a lock per sold seat would stay in Redis
// for good: about 5 MB for a 50,000-seat date.
const soldLockMargin = 72 * time.Hour

// soldLockTTL is how long a "sold" lock of day set now lives: until
// soldLockMargin after the day's UTC midnight, and an hour at least (a sale
// healed or rebuilt for a day that has just passed still gets its lock).
func (s *Service) soldLockTTL(day string) time.Duration {
	t, err := time.ParseInLocation(DateLayout, day, time.UTC)
	if err != nil {
		return soldLockMargin
	}
	return max(t.Add(soldLockMargin).Sub(s.cfg.Now()), time.Hour)
}

// soldChunk is how many seats one load_sold.lua call writes, to keep each
// script short enough not to stall Redis.
const soldChunk = 5000

// soldBit reports whether bit n of a Redis bitmap is set (Redis numbers bits
// from the most significant bit of the first byte).
func soldBit(bitmap []byte, n int) bool {
	i := n >> 3
	return i < len(bitmap) && bitmap[i]&(0x80>>(n&7)) != 0
}

// soldLoaded reports whether a sold bitmap carries the "loaded" bit.
func soldLoaded(bitmap []byte) bool { return soldBit(bitmap, 0) }

// ensureSold rebuilds the sold cache of a date from Postgres and returns the
// sold seats it read there (callers must not modify them). Concurrent callers
// for the same date share one rebuild.
func (s *Service) ensureSold(ctx context.Context, concertID int64, d *date) ([]int, error) {
	kc := s.keys.Concert(concertID)
	key, locks := kc.Sold(d.day), kc.SeatLocks(d.day)
	return s.rebuilds.do(ctx, key, func(ctx context.Context) ([]int, error) {
		seats, err := s.store.SoldSeats(ctx, d.id)
		if err != nil {
			return nil, fmt.Errorf("booking: rebuild sold cache: %w", err)
		}
		for start := 0; ; start += soldChunk {
			end := min(start+soldChunk, len(seats))
			last := end == len(seats)
			args := make([]any, 0, end-start+2)
			marker := "0"
			if last {
				marker = "1"
			}
			args = append(args, marker, s.soldLockTTL(d.day).Milliseconds())
			for _, n := range seats[start:end] {
				args = append(args, strconv.Itoa(n))
			}
			if err := lua.LoadSold.Run(ctx, s.rdb, []string{key, locks}, args...).Err(); err != nil {
				return nil, fmt.Errorf("booking: rebuild sold cache: %w", err)
			}
			if last {
				return seats, nil
			}
		}
	})
}

// warmSold loads the sold cache of every date from today on that lacks one:
// one pipelined round trip to find them, then a rebuild of each missing one.
func (s *Service) warmSold(ctx context.Context, cat *catalogue) error {
	type target struct {
		concertID int64
		d         *date
	}
	var targets []target
	for _, id := range cat.ids {
		for _, d := range s.fromToday(cat.concerts[id]) {
			targets = append(targets, target{id, d})
		}
	}
	if len(targets) == 0 {
		return nil
	}
	// A cache counts as loaded when both its readers find it so: the
	// bitmap's bit 0 and the "loaded" lock of seat 0.
	pipe := s.rdb.Pipeline()
	bits := make([]*redis.IntCmd, len(targets))
	marks := make([]*redis.StringCmd, len(targets))
	for i, t := range targets {
		kc := s.keys.Concert(t.concertID)
		bits[i] = pipe.GetBit(ctx, kc.Sold(t.d.day), 0)
		marks[i] = pipe.Get(ctx, kc.SeatLocksLoaded(t.d.day))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("booking: warm sold cache: %w", err)
	}
	for i, t := range targets {
		if bits[i].Val() == 1 && marks[i].Val() == "loaded" {
			continue
		}
		if _, err := s.ensureSold(ctx, t.concertID, t.d); err != nil {
			return err
		}
	}
	return nil
}

// flight runs one call per key at a time; callers arriving meanwhile wait for
// it and share its result.
// flightTimeout bounds one shared call.
const flightTimeout = 30 * time.Second

type flight struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	val  []int
	err  error
}

func (f *flight) do(ctx context.Context, key string, fn func(context.Context) ([]int, error)) ([]int, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]*flightCall{}
	}
	if c := f.calls[key]; c != nil {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.val, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &flightCall{done: make(chan struct{})}
	f.calls[key] = c
	f.mu.Unlock()

	// The leader's cancellation must not fail the callers waiting on it; the
	// timeout keeps a stuck rebuild from blocking them forever.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flightTimeout)
	c.val, c.err = fn(fctx)
	cancel()
	f.mu.Lock()
	delete(f.calls, key)
	f.mu.Unlock()
	close(c.done)
	return c.val, c.err
}
