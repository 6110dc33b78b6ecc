package booking

import (
	"context"
	"fmt"
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

// Stock counts the seats of concertID from the Redis caches, in one pipelined
// round trip (plus a rebuild from Postgres of any sold cache that is
// missing). Admission reads it every step to pause while nothing is free and
// to stop the line once all is sold. Errors: ErrConcertNotFound, or an error
// when a sold cache cannot be loaded (the counts would be guesses).
func (s *Service) Stock(ctx context.Context, concertID int64) (Stock, error) {
	c, err := s.lookupConcert(ctx, concertID)
	if err != nil {
		return Stock{}, err
	}
	counts, err := s.seatCounts(ctx, concertID, c.dates, ms(s.cfg.Now()))
	if err != nil {
		return Stock{}, err
	}
	var st Stock
	for i, n := range counts {
		if !n.known {
			return Stock{}, fmt.Errorf("booking: stock: the sold seats of %s are not loaded", c.dates[i].day)
		}
		st.Seats += n.seats
		st.Sold += n.sold
		st.Held += n.held
	}
	st.Free = max(st.Seats-st.Sold-st.Held, 0)
	return st, nil
}
