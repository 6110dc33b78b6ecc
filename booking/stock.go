package booking

import (
	"context"
	"fmt"
	"strconv"
)

// Stock is how many seats of a concert, over all its dates, are sold, held
// and free right now.
type Stock struct {
	Seats int64
	Sold  int64
	Held  int64
	// Free is seats − sold − held: a lower bound, since a seat both sold and
	// held in the same instant counts twice.
	Free int64
}

// SoldOut reports whether every seat is sold.
func (s Stock) SoldOut() bool { return s.Seats > 0 && s.Sold >= s.Seats }

// Stock counts the seats of concertID from the Redis caches. Admission reads
// it every step, on every replica, to pause while nothing is free and to
// stop the line once all is sold; counting is three Redis calls per date, so
// a count is kept for StockMaxAge and read by every replica with one HMGET
// meanwhile: a concert of 100 dates on 10 replicas stepping 20 times a
// second would otherwise make 60,000 calls a second, rush or not. Holds add
// to the kept count as they are made and a sale deletes it, so admission
// pauses as soon as the last free seat is held and sees a sell-out at its
// next step; a hold that lapses frees its seat in the count within
// StockMaxAge (until then the count errs on the side of fewer free seats).
// A missing count is made again by the first replica that needs it, in one
// script run (plus a rebuild from Postgres of any sold cache that is
// missing).
// Errors: ErrConcertNotFound, or an error when a sold cache cannot be loaded
// (the counts would be guesses).
func (s *Service) Stock(ctx context.Context, concertID int64) (Stock, error) {
	c, err := s.lookupConcert(ctx, concertID)
	if err != nil {
		return Stock{}, err
	}
	var st Stock
	for _, d := range c.dates {
		st.Seats += int64(d.count)
	}
	if s.cfg.StockMaxAge > 0 {
		kept, err := s.rdb.HMGet(ctx, s.keys.Concert(concertID).Stock(), "sold", "held").Result()
		if err != nil {
			return Stock{}, fmt.Errorf("booking: stock: %w", err)
		}
		if sold, held, ok := parseStock(kept); ok {
			st.Sold, st.Held = sold, held
			st.Free = max(st.Seats-st.Sold-st.Held, 0)
			return st, nil
		}
	}
	counts, err := s.seatCounts(ctx, concertID, c.dates, ms(s.cfg.Now()), s.cfg.StockMaxAge)
	if err != nil {
		return Stock{}, err
	}
	for i, n := range counts {
		if !n.known {
			return Stock{}, fmt.Errorf("booking: stock: the sold seats of %s are not loaded", c.dates[i].day)
		}
		st.Sold += n.sold
		st.Held += n.held
	}
	st.Free = max(st.Seats-st.Sold-st.Held, 0)
	return st, nil
}

// parseStock reads a kept count (count_seats.lua): HMGET's "sold" and
// "held", nil when there is none.
func parseStock(v []any) (sold, held int64, ok bool) {
	if len(v) != 2 {
		return 0, 0, false
	}
	a, okA := v[0].(string)
	b, okB := v[1].(string)
	if !okA || !okB {
		return 0, 0, false
	}
	sold, err1 := strconv.ParseInt(a, 10, 64)
	held, err2 := strconv.ParseInt(b, 10, 64)
	return sold, held, err1 == nil && err2 == nil && sold >= 0 && held >= 0
}
