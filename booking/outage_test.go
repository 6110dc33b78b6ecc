package booking_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/testenv"
)

// TestUncachedIdsAreUnavailableNotMissingWhilePostgresIsDown: a replica
// that cannot reload its catalogue does not know whether a concert or date
// it has not cached exists, so it says "unavailable", never "not found";
// what it has cached keeps answering.
func TestUncachedIdsAreUnavailableNotMissingWhilePostgresIsDown(t *testing.T) {
	db, dsn := testenv.Postgres(t)
	createConcert(t, db, 1, 2, 10)
	rdb, keys := testenv.Redis(t)
	proxy, viaProxy := postgresBehindProxy(t, dsn)
	clk := testenv.NewClock(start)
	svc := booking.NewService(viaProxy, rdb, keys, booking.Config{Now: clk.Now, RefreshOnMiss: time.Second})
	ctx := context.Background()
	if err := svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AvailableSeats(ctx, 1, firstDay); err != nil { // caches the seats
		t.Fatal(err)
	}

	proxy.Cut()
	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"UnknownConcert", func(ctx context.Context) error { _, err := svc.ConcertExists(ctx, 2); return err }},
		{"UnknownDate", func(ctx context.Context) error { _, err := svc.AvailableSeats(ctx, 1, "2031-05-05"); return err }},
		{"HoldOnAnUnknownDate", func(ctx context.Context) error { _, err := svc.Hold(ctx, 1, "ann", "2031-05-05", 1); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Add(2 * time.Second) // past RefreshOnMiss: this miss reloads
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := tc.call(ctx); !errors.Is(err, booking.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			// Within RefreshOnMiss the miss is answered without a reload, and
			// still not as "not found".
			if err := tc.call(ctx); !errors.Is(err, booking.ErrUnavailable) {
				t.Fatalf("again at once: err = %v, want ErrUnavailable", err)
			}
		})
	}
	if ok, err := svc.ConcertExists(ctx, 1); !ok || err != nil {
		t.Fatalf("cached concert: %v, %v; want true", ok, err)
	}
	if seats, err := svc.AvailableSeats(ctx, 1, firstDay); err != nil || len(seats) != 10 {
		t.Fatalf("seats of a cached date: %v, %v; want all 10", seats, err)
	}

	proxy.Restore()
	clk.Add(2 * time.Second)
	if ok, err := svc.ConcertExists(ctx, 2); ok || err != nil {
		t.Fatalf("unknown concert once Postgres is back: %v, %v; want false, nil", ok, err)
	}
	if _, err := svc.AvailableSeats(ctx, 1, "2031-05-05"); !errors.Is(err, booking.ErrDateNotFound) {
		t.Fatalf("unknown date once Postgres is back: err = %v, want ErrDateNotFound", err)
	}
}

// TestHoldsWhoseIDBlockRunsOutWhilePostgresIsDown: a hold needs Postgres
// only when its concert's block of reservation ids is used up. Then, in a
// batch, the holds before it keep their answers; it and those after it are
// unavailable and take nothing, neither a seat nor an id; once Postgres is
// back they are made with ids of a new block.
func TestHoldsWhoseIDBlockRunsOutWhilePostgresIsDown(t *testing.T) {
	const seats, block = 20, 5
	db, dsn := testenv.Postgres(t)
	createConcert(t, db, 1, 1, seats)
	smallIDBlocks(t, db, block)
	rdb, keys := testenv.Redis(t)
	proxy, viaProxy := postgresBehindProxy(t, dsn)
	svc := booking.NewService(viaProxy, rdb, keys, booking.Config{HoldBatch: 64, MaxHoldsPerUser: 4})
	ctx := context.Background()
	if err := svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// The first hold loads the sold cache and takes the first id of a block.
	first, err := svc.Hold(ctx, 1, "warm", firstDay, 1)
	if err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	const tries = 10
	type answer struct {
		seat int
		hold booking.Hold
		err  error
	}
	answers := make(chan answer, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			seat := 2 + i
			h, err := svc.Hold(ctx, 1, fmt.Sprintf("u%d", i), firstDay, seat)
			answers <- answer{seat, h, err}
		})
	}
	wg.Wait()
	close(answers)
	ids := map[int64]bool{first.ID: true}
	var failed []int
	for a := range answers {
		switch {
		case a.err == nil:
			if ids[a.hold.ID] {
				t.Errorf("id %d given twice", a.hold.ID)
			}
			ids[a.hold.ID] = true
		case errors.Is(a.err, booking.ErrUnavailable):
			failed = append(failed, a.seat)
			if n, _ := rdb.Exists(ctx, keys.Concert(1).Seat(firstDay, a.seat)).Result(); n != 0 {
				t.Errorf("seat %d was taken by a hold that answered unavailable", a.seat)
			}
		default:
			t.Errorf("seat %d: err = %v, want a hold or ErrUnavailable", a.seat, a.err)
		}
	}
	// The block had block-1 ids left after the first hold.
	if made := len(ids) - 1; made != block-1 || len(failed) != tries-(block-1) {
		t.Fatalf("%d holds made and %d unavailable while Postgres was down, want %d and %d", made, len(failed), block-1, tries-(block-1))
	}
	for id := range ids {
		if id < first.ID || id >= first.ID+block {
			t.Errorf("id %d is not of the first block %d…%d", id, first.ID, first.ID+block-1)
		}
	}

	proxy.Restore()
	for i, seat := range failed {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h, err := svc.Hold(ctx, 1, fmt.Sprintf("later%d", i), firstDay, seat)
		cancel()
		if err != nil {
			t.Fatalf("seat %d once Postgres is back: %v", seat, err)
		}
		if ids[h.ID] {
			t.Fatalf("id %d given twice", h.ID)
		}
		ids[h.ID] = true
	}
}

// postgresBehindProxy is a pool of the database at dsn through a proxy the
// test can cut.
func postgresBehindProxy(t *testing.T, dsn string) (*faultproxy.Proxy, *sqlx.DB) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	db, err := sqlx.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return proxy, db
}
