package booking

import (
	"context"
	"fmt"
	"time"
)

// A payment commits its sale in Postgres, then marks the seat sold in Redis.
// If its process dies (or Redis fails) between the two, the seat stays locked
// by the payment's claim for ClaimLease, then would lapse and be listed again,
// although the sale stands (a second sale of it fails on Postgres's unique
// constraint, so nothing is sold twice; but a buyer would be let down). Each
// replica therefore re-reads the sales of the last healWindow every time its
// refresh loop runs and marks their seats sold (the bit that listings read,
// the lock that holds read): well within the claim lease, so the seat never
// comes back.

// healWindow is how far back HealRecentSales looks. It must exceed the refresh
// interval plus the longest payment transaction; the refresh loop runs every
// few seconds and payments are bounded by the request deadline.
const healWindow = 30 * time.Second

// healLimit bounds the sales re-read at once.
const healLimit = 50_000

// HealRecentSales marks sold in the Redis cache every seat sold in Postgres
// in the last healWindow. Marking a seat already marked changes nothing, so
// it is safe to run from every replica at any time.
func (s *Service) HealRecentSales(ctx context.Context) (err error) {
	defer markUnavailable(&err)
	sales, err := s.store.RecentSales(ctx, s.cfg.Now().Add(-healWindow), healLimit)
	if err != nil {
		return fmt.Errorf("booking: heal sold cache: %w", err)
	}
	const chunk = 1000
	for start := 0; start < len(sales); start += chunk {
		pipe := s.rdb.Pipeline()
		for _, sale := range sales[start:min(start+chunk, len(sales))] {
			kc := s.keys.Concert(sale.ConcertID)
			pipe.SetBit(ctx, kc.Sold(sale.Day), int64(sale.Seat), 1)
			pipe.Set(ctx, kc.Seat(sale.Day, sale.Seat), "sold", s.soldLockTTL(sale.Day))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("booking: heal sold cache: %w", err)
		}
	}
	return nil
}
