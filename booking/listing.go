package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/lua"
)

// Listings never touch Postgres on the request path (the seats of a date are
// cached in memory after first use) and cost a constant number of Redis round
// trips whatever the size of the venue:
//
//   - AvailableSeats: one pipelined round trip, GET of the sold bitmap
//     (seats/8 bytes: 6.25 KB for 50,000 seats) and ZRANGEBYSCORE of the live
//     holds (one member per held seat). Redis work is O(log H + live holds);
//     Go then walks the seats once, O(seats).
//   - AvailableDates: one round trip for all dates from today on, a run of
//     count_seats.lua: GETBIT/BITCOUNT of the sold bitmap and ZCOUNT of live
//     holds per date (BITCOUNT is O(seats/8) bytes in Redis, ZCOUNT
//     O(log H)); a date whose counts say "full" is checked exactly in one
//     more round trip, because a seat both sold and held would be counted
//     twice.
//
// A lost sold cache adds a rebuild from Postgres (once per date, shared by
// concurrent callers) and one more round trip.

// maxSnapshotTries bounds the rebuild-and-read loop when the sold cache
// vanishes again right after a rebuild (someone flushing Redis repeatedly).
const maxSnapshotTries = 3

// AvailableDates returns the dates of the concert from today (in
// Config.Location) on that have at least one seat neither held nor sold,
// ascending; an empty slice, not nil, when there is none.
// Errors: ErrConcertNotFound.
func (s *Service) AvailableDates(ctx context.Context, concertID int64) (_ []string, err error) {
	defer markUnavailable(&err)
	c, err := s.lookupConcert(ctx, concertID)
	if err != nil {
		return nil, err
	}
	dates := s.fromToday(c)
	out := []string{}
	if len(dates) == 0 {
		return out, nil
	}
	now := ms(s.cfg.Now())
	free, err := s.freeCounts(ctx, concertID, dates, now)
	if err != nil {
		return nil, err
	}
	avail := make([]bool, len(dates))
	var unsure []*date
	var unsureAt []int
	for i, d := range dates {
		switch {
		case free[i] > 0:
			avail[i] = true
		case d.count > 0:
			unsure = append(unsure, d)
			unsureAt = append(unsureAt, i)
		}
	}
	if len(unsure) > 0 {
		snaps, err := s.snapshots(ctx, concertID, unsure, now)
		if err != nil {
			return nil, err
		}
		for j, d := range unsure {
			t, err := s.seatTable(ctx, d)
			if err != nil {
				return nil, err
			}
			avail[unsureAt[j]] = len(snaps[j].available(t, 1)) > 0
		}
	}
	for i, d := range dates {
		if avail[i] {
			out = append(out, d.day)
		}
	}
	return out, nil
}

// AvailableSeats returns the seat numbers of a date neither held nor sold,
// ascending; an empty slice, not nil, when there is none.
// Errors: ErrDateNotFound (unknown or malformed date, or unknown concert).
func (s *Service) AvailableSeats(ctx context.Context, concertID int64, day string) (_ []int, err error) {
	defer markUnavailable(&err)
	d, err := s.lookupDate(ctx, concertID, day)
	if err != nil {
		return nil, err
	}
	t, err := s.seatTable(ctx, d)
	if err != nil {
		return nil, err
	}
	snaps, err := s.snapshots(ctx, concertID, []*date{d}, ms(s.cfg.Now()))
	if err != nil {
		return nil, err
	}
	return snaps[0].available(t, 0), nil
}

// snapshot is what Redis says of a date at one instant: the sold bitmap and
// the seats of the live holds.
type snapshot struct {
	sold []byte
	held []string
}

// available returns the seats of t that are neither sold nor held, stopping
// after limit of them (0: no limit).
func (sn snapshot) available(t *seatTable, limit int) []int {
	// A bitset of the held seats: the members are seat numbers, usually
	// dense, so this beats a map at stadium size.
	top := t.max()
	held := make([]uint64, top/64+1)
	for _, m := range sn.held {
		if n, err := strconv.Atoi(m); err == nil && n > 0 && n <= top {
			held[n>>6] |= 1 << (n & 63)
		}
	}
	size := t.size()
	if limit > 0 {
		size = min(size, limit)
	}
	out := make([]int, 0, size)
	for n := range t.numbers() {
		if soldBit(sn.sold, n) || held[n>>6]&(1<<(n&63)) != 0 {
			continue
		}
		out = append(out, n)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}

// snapshots reads the sold bitmap and live holds of the dates in one
// pipelined round trip, rebuilding any sold cache that is not loaded. If a
// cache vanishes again right after its rebuild (Redis being flushed over and
// over), the last read is completed with the sold seats the rebuild read from
// Postgres: what Postgres had then plus what Redis recorded since.
func (s *Service) snapshots(ctx context.Context, concertID int64, dates []*date, now int64) ([]snapshot, error) {
	kc := s.keys.Concert(concertID)
	live := &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now, 10), Max: "+inf"}
	rebuilt := make([][]int, len(dates))
	for try := 0; ; try++ {
		pipe := s.rdb.Pipeline()
		gets := make([]*redis.StringCmd, len(dates))
		zs := make([]*redis.StringSliceCmd, len(dates))
		for i, d := range dates {
			gets[i] = pipe.Get(ctx, kc.Sold(d.day))
			zs[i] = pipe.ZRangeByScore(ctx, kc.Held(d.day), live)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("booking: read seats: %w", err)
		}
		out := make([]snapshot, len(dates))
		var missing []int
		for i := range dates {
			b, err := gets[i].Bytes()
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("booking: read sold seats: %w", err)
			}
			if !soldLoaded(b) {
				if try == maxSnapshotTries && rebuilt[i] != nil {
					b = withBits(b, rebuilt[i])
				} else {
					missing = append(missing, i)
					continue
				}
			}
			out[i] = snapshot{sold: b, held: zs[i].Val()}
		}
		if len(missing) == 0 {
			return out, nil
		}
		if try == maxSnapshotTries {
			return nil, errors.New("booking: sold cache could not be rebuilt")
		}
		for _, i := range missing {
			seats, err := s.ensureSold(ctx, concertID, dates[i])
			if err != nil {
				return nil, err
			}
			rebuilt[i] = seats
		}
	}
}

// withBits returns a copy of a Redis bitmap with the bits of seats (and the
// "loaded" bit 0) set.
func withBits(bitmap []byte, seats []int) []byte {
	top := 0
	for _, n := range seats {
		top = max(top, n)
	}
	out := make([]byte, max(len(bitmap), top/8+1))
	copy(out, bitmap)
	out[0] |= 0x80
	for _, n := range seats {
		out[n>>3] |= 0x80 >> (n & 7)
	}
	return out
}

// freeCounts returns, per date, seats − sold − live holds: a lower bound of
// the free seats (a seat both sold and held counts twice), in one round
// trip, rebuilding any sold cache that is not loaded. A date whose cache is
// still missing after that reads 0, which sends it to the exact check.
func (s *Service) freeCounts(ctx context.Context, concertID int64, dates []*date, now int64) ([]int64, error) {
	counts, err := s.seatCounts(ctx, concertID, dates, now, 0)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(dates))
	for i, c := range counts {
		if c.known {
			out[i] = c.seats - c.sold - c.held
		}
	}
	return out, nil
}

// seatCount is what one date's caches say of its seats.
type seatCount struct {
	seats, sold, held int64
	known             bool // false when the sold cache could not be loaded
}

// seatCounts reads, per date, the seats sold and held now, in one script
// run, rebuilding any sold cache that is not loaded. With keep > 0 the run
// also keeps the totals that long for Stock (when every date's cache was
// loaded).
func (s *Service) seatCounts(ctx context.Context, concertID int64, dates []*date, now int64, keep time.Duration) ([]seatCount, error) {
	kc := s.keys.Concert(concertID)
	keys := make([]string, 0, 1+2*len(dates))
	keys = append(keys, kc.Stock())
	for _, d := range dates {
		keys = append(keys, kc.Sold(d.day), kc.Held(d.day))
	}
	for try := 0; ; try++ {
		res, err := lua.CountSeats.Run(ctx, s.rdb, keys, now, max(keep.Milliseconds(), 0)).Int64Slice()
		if err != nil {
			return nil, fmt.Errorf("booking: count seats: %w", err)
		}
		if len(res) != 2*len(dates) {
			return nil, fmt.Errorf("booking: count seats: %d values for %d dates", len(res), len(dates))
		}
		out := make([]seatCount, len(dates))
		var missing []*date
		for i, d := range dates {
			sold, held := res[2*i], res[2*i+1]
			if sold < 0 {
				missing = append(missing, d)
				continue
			}
			out[i] = seatCount{seats: int64(d.count), sold: sold, held: held, known: true}
		}
		if len(missing) == 0 || try == maxSnapshotTries {
			return out, nil
		}
		for _, d := range missing {
			if _, err := s.ensureSold(ctx, concertID, d); err != nil {
				return nil, err
			}
		}
	}
}
