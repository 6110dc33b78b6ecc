package booking_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/testenv"
)

// The seats of a date are its concert's blocks, known with the catalogue:
// once it is loaded, holds and listings read no seat from Postgres. Here
// Postgres is closed after the first load and a first hold (which reserves a
// block of hold ids there), and holds on every date and the listing of its
// seats still answer.
func TestHoldsNeedNoSeatReadOnceTheCatalogueIsLoaded(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 3, 6)
	m := newMini(t, db, booking.Config{HoldTTL: ttl})
	ctx := context.Background()
	if err := m.svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.svc.Hold(ctx, 1, "first", firstDay, 1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for i, day := range []string{firstDay, "2030-01-03", "2030-01-04"} {
		h, err := m.svc.Hold(ctx, 1, fmt.Sprint("fan-", i), day, 6)
		if err != nil {
			t.Fatalf("hold on %s with Postgres closed: %v", day, err)
		}
		if h.Price != 10000 {
			t.Errorf("hold on %s priced %d, want the block's 10000", day, h.Price)
		}
		if _, err := m.svc.Hold(ctx, 1, "fan-x", day, 7); !errors.Is(err, booking.ErrSeatNotFound) {
			t.Errorf("hold of seat 7 of 6 on %s = %v, want ErrSeatNotFound", day, err)
		}
	}
	seats, err := m.svc.AvailableSeats(ctx, 1, firstDay)
	if err != nil || fmt.Sprint(seats) != "[2 3 4 5]" {
		t.Fatalf("seats of %s with Postgres closed = %v, %v; want [2 3 4 5]", firstDay, seats, err)
	}
}

// A date whose seats in Postgres are not its concert's blocks (rows written
// by hand, or by a tool that bypassed the catalogue) is read from Postgres:
// the rows are the truth. Here one date has a seat more, another as many
// seats with one price changed.
func TestADateWhoseSeatsDisagreeWithItsBlocksIsReadFromPostgres(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 3, 6)
	if _, err := db.Exec(`INSERT INTO seats (date_id, seat_number, price)
		SELECT date_id, 9, 777 FROM concert_dates WHERE concert_id = 1 AND concert_date = '2030-01-03'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE seats SET price = 555 WHERE seat_number = 4 AND date_id =
		(SELECT date_id FROM concert_dates WHERE concert_id = 1 AND concert_date = '2030-01-04')`); err != nil {
		t.Fatal(err)
	}
	m := newMini(t, db, booking.Config{HoldTTL: ttl})
	ctx := context.Background()
	h, err := m.svc.Hold(ctx, 1, "alice", "2030-01-03", 9)
	if err != nil {
		t.Fatalf("hold of the extra seat: %v", err)
	}
	if h.Price != 777 {
		t.Errorf("extra seat priced %d, want its row's 777", h.Price)
	}
	seats, err := m.svc.AvailableSeats(ctx, 1, "2030-01-03")
	if err != nil || fmt.Sprint(seats) != "[1 2 3 4 5 6]" {
		t.Fatalf("seats of the odd date = %v, %v; want [1 2 3 4 5 6] (9 is held)", seats, err)
	}
	if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 9); !errors.Is(err, booking.ErrSeatNotFound) {
		t.Errorf("seat 9 of a date that has none: %v, want ErrSeatNotFound", err)
	}
	for seat, want := range map[int]int64{4: 555, 5: 10000} {
		h, err := m.svc.Hold(ctx, 1, fmt.Sprint("carol-", seat), "2030-01-04", seat)
		if err != nil || h.Price != want {
			t.Errorf("seat %d of the repriced date: %+v, %v; want price %d", seat, h, err, want)
		}
	}
}
