package booking_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/testenv"
)

func TestAvailableSeats(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 2, 6)
	ctx := context.Background()

	t.Run("lists seats neither held nor sold, ascending", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 2); err != nil {
			t.Fatal(err)
		}
		h, err := m.svc.Hold(ctx, 1, "bob", firstDay, 5)
		if err != nil {
			t.Fatal(err)
		}
		// Sold as a payment sells it: claimed, then sold.
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "bob"); err != nil {
			t.Fatal(err)
		}
		if err := m.svc.MarkSold(ctx, 1, h.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.svc.Hold(ctx, 1, "carol", "2030-01-03", 1); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			wait time.Duration
			want string
		}{
			{0, "[1 3 4 6]"},
			{ttl - time.Millisecond, "[1 3 4 6]"},
			{time.Millisecond, "[1 2 3 4 6]"}, // the hold lapsed; no sweeper needed
		} {
			m.advance(tc.wait)
			seats, err := m.svc.AvailableSeats(ctx, 1, firstDay)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(seats); got != tc.want {
				t.Errorf("after %v: seats = %s, want %s", tc.wait, got, tc.want)
			}
		}
	})

	t.Run("a date with every seat taken lists none, not null", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl, MaxHoldsPerUser: 10})
		for seat := 1; seat <= 6; seat++ {
			if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, seat); err != nil {
				t.Fatal(err)
			}
		}
		seats, err := m.svc.AvailableSeats(ctx, 1, firstDay)
		if err != nil {
			t.Fatal(err)
		}
		if seats == nil || len(seats) != 0 {
			t.Errorf("seats = %#v, want an empty slice", seats)
		}
	})

	t.Run("ErrDateNotFound", func(t *testing.T) {
		m := newMini(t, db, booking.Config{})
		for _, tc := range []struct {
			concert int64
			day     string
		}{{1, "2030-02-01"}, {1, "2030-1-2"}, {9, firstDay}} {
			if _, err := m.svc.AvailableSeats(ctx, tc.concert, tc.day); !errors.Is(err, booking.ErrDateNotFound) {
				t.Errorf("concert %d %q: err = %v, want ErrDateNotFound", tc.concert, tc.day, err)
			}
		}
	})
}

func TestAvailableDates(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 3, 2) // 2030-01-02, -03, -04 with seats 1, 2
	ctx := context.Background()

	t.Run("dates from today on, in the configured location", func(t *testing.T) {
		seoul := time.FixedZone("KST", 9*3600)
		for _, tc := range []struct {
			name string
			now  time.Time
			loc  *time.Location
			want string
		}{
			{"before the first date", start, time.UTC, "[2030-01-02 2030-01-03 2030-01-04]"},
			{"today counts", time.Date(2030, 1, 3, 23, 59, 0, 0, time.UTC), time.UTC, "[2030-01-03 2030-01-04]"},
			{"today in Seoul is tomorrow in UTC", time.Date(2030, 1, 3, 15, 30, 0, 0, time.UTC), seoul, "[2030-01-04]"},
			{"after the last date", time.Date(2030, 1, 5, 0, 0, 0, 0, time.UTC), time.UTC, "[]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := newMini(t, db, booking.Config{})
				svc := booking.NewService(db, m.rdb, m.keys, booking.Config{
					Now: func() time.Time { return tc.now }, Location: tc.loc,
				})
				dates, err := svc.AvailableDates(ctx, 1)
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprint(dates); got != tc.want {
					t.Errorf("dates = %s, want %s", got, tc.want)
				}
			})
		}
	})

	t.Run("a full date is left out until a hold lapses", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		for seat := 1; seat <= 2; seat++ {
			if _, err := m.svc.Hold(ctx, 1, "alice", "2030-01-03", seat); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			wait time.Duration
			want string
		}{
			{0, "[2030-01-02 2030-01-04]"},
			{ttl, "[2030-01-02 2030-01-03 2030-01-04]"},
		} {
			m.advance(tc.wait)
			dates, err := m.svc.AvailableDates(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(dates); got != tc.want {
				t.Errorf("after %v: dates = %s, want %s", tc.wait, got, tc.want)
			}
		}
	})

	t.Run("a seat both sold and held is not counted twice", func(t *testing.T) {
		createConcert(t, db, 2, 1, 2)
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		if _, err := m.svc.Hold(ctx, 2, "alice", firstDay, 1); err != nil {
			t.Fatal(err)
		}
		// Seat 1 is sold behind Redis's back while alice's hold lives, and
		// the sold cache is then rebuilt: it is in both the sold and the
		// held set, and seat 2 is still free.
		sellInPostgres(t, db, 2, firstDay, 1, reservedID(t, db), "bob")
		m.mr.Del(m.keys.Concert(2).Sold(firstDay))
		dates, err := m.svc.AvailableDates(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(dates), "["+firstDay+"]"; got != want {
			t.Errorf("dates = %s, want %s", got, want)
		}
	})

	t.Run("ErrConcertNotFound", func(t *testing.T) {
		m := newMini(t, db, booking.Config{})
		if _, err := m.svc.AvailableDates(ctx, 99); !errors.Is(err, booking.ErrConcertNotFound) {
			t.Fatalf("err = %v, want ErrConcertNotFound", err)
		}
	})
}

func TestCatalogue(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 1, 1)
	ctx := context.Background()

	t.Run("a new concert is seen on a miss at most once per RefreshOnMiss", func(t *testing.T) {
		m := newMini(t, db, booking.Config{RefreshOnMiss: time.Second})
		for _, tc := range []struct {
			id   int64
			want bool
		}{{1, true}, {2, false}} {
			ok, err := m.svc.ConcertExists(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want {
				t.Errorf("ConcertExists(%d) = %v, want %v", tc.id, ok, tc.want)
			}
		}
		createConcert(t, db, 2, 1, 1)
		if ok, _ := m.svc.ConcertExists(ctx, 2); ok {
			t.Error("a miss reloaded the catalogue twice within RefreshOnMiss")
		}
		m.advance(time.Second)
		if ok, _ := m.svc.ConcertExists(ctx, 2); !ok {
			t.Error("concert 2 not seen after RefreshOnMiss")
		}
		if got, want := fmt.Sprint(m.svc.ConcertIDs()), "[1 2]"; got != want {
			t.Errorf("ConcertIDs = %s, want %s", got, want)
		}
	})

	t.Run("Refresh sees a new concert at once", func(t *testing.T) {
		m := newMini(t, db, booking.Config{})
		if got, want := fmt.Sprint(m.svc.ConcertIDs()), "[1 2]"; got != want {
			t.Fatalf("ConcertIDs = %s, want %s", got, want)
		}
		createConcert(t, db, 3, 1, 1)
		if err := m.svc.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(m.svc.ConcertIDs()), "[1 2 3]"; got != want {
			t.Errorf("ConcertIDs = %s, want %s", got, want)
		}
	})

	t.Run("Run refreshes until its context ends", func(t *testing.T) {
		m := newMini(t, db, booking.Config{})
		m.svc.ConcertIDs()
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { m.svc.Run(runCtx, 10*time.Millisecond); close(done) }()
		createConcert(t, db, 4, 1, 1)
		deadline := time.Now().Add(5 * time.Second)
		for fmt.Sprint(m.svc.ConcertIDs()) != "[1 2 3 4]" {
			if time.Now().After(deadline) {
				t.Fatalf("ConcertIDs = %v 5s after concert 4 was created", m.svc.ConcertIDs())
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	})

	t.Run("Refresh loads the sold cache of upcoming dates", func(t *testing.T) {
		m := newMini(t, db, booking.Config{})
		if err := m.svc.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		bit, err := m.rdb.GetBit(ctx, m.keys.Concert(1).Sold(firstDay), 0).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := bit, int64(1); got != want {
			t.Errorf("loaded bit = %d, want %d", got, want)
		}
	})
}
