package booking

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
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
// to stop the line once all is sold. With Config.StockShare, a count another
// replica made less than StockShare ago is used instead (one GET). Errors:
// ErrConcertNotFound, or an error when a sold cache cannot be loaded (the
// counts would be guesses).
func (s *Service) Stock(ctx context.Context, concertID int64) (Stock, error) {
	c, err := s.lookupConcert(ctx, concertID)
	if err != nil {
		return Stock{}, err
	}
	var st Stock
	for _, d := range c.dates {
		st.Seats += int64(d.count)
	}
	key := s.keys.Concert(concertID).Stock()
	if s.cfg.StockShare > 0 {
		if v, err := s.rdb.Get(ctx, key).Result(); err == nil {
			if sold, held, ok := parseStock(v); ok {
				st.Sold, st.Held = sold, held
				st.Free = max(st.Seats-st.Sold-st.Held, 0)
				return st, nil
			}
		} else if err != redis.Nil {
			return Stock{}, fmt.Errorf("booking: stock: %w", err)
		}
	}
	counts, err := s.seatCounts(ctx, concertID, c.dates, ms(s.cfg.Now()))
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
	if s.cfg.StockShare > 0 {
		// Best effort: a count not shared is only counted again.
		s.rdb.Set(ctx, key, strconv.FormatInt(st.Sold, 10)+" "+strconv.FormatInt(st.Held, 10), s.cfg.StockShare)
	}
	return st, nil
}

// parseStock reads a shared count, "sold held".
func parseStock(v string) (sold, held int64, ok bool) {
	a, b, found := strings.Cut(v, " ")
	if !found {
		return 0, 0, false
	}
	sold, err1 := strconv.ParseInt(a, 10, 64)
	held, err2 := strconv.ParseInt(b, 10, 64)
	return sold, held, err1 == nil && err2 == nil && sold >= 0 && held >= 0
}
