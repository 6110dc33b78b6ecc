package booking_test

import (
	"context"
	"errors"
	"net/url"
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
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	viaProxy, err := sqlx.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viaProxy.Close() })
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
