package bookingdb_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking/bookingdb"
	"github.com/rushgate/rushgate/internal/testenv"
)

var first = time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)

// days returns n consecutive days from first.
func days(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = first.AddDate(0, 0, i).Format("2006-01-02")
	}
	return out
}

// blocks is one block of seats 1..seats at price, or none when seats is 0.
func blocks(seats int, price int64) []bookingdb.Block {
	if seats == 0 {
		return nil
	}
	return []bookingdb.Block{{From: 1, To: seats, Price: price}}
}

func TestCreateConcert(t *testing.T) {
	db, _ := testenv.Postgres(t)
	store := bookingdb.New(db)
	ctx := context.Background()

	id, err := store.CreateConcert(ctx, bookingdb.NewConcert{ID: 5, Name: "five", Days: days(2), Blocks: blocks(3, 7000)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := id, int64(5); got != want {
		t.Errorf("id = %d, want %d", got, want)
	}

	t.Run("ErrConcertExists for a taken id", func(t *testing.T) {
		_, err := store.CreateConcert(ctx, bookingdb.NewConcert{ID: 5, Name: "again", Days: days(1), Blocks: blocks(1, 1)})
		if !errors.Is(err, bookingdb.ErrConcertExists) {
			t.Fatalf("err = %v, want ErrConcertExists", err)
		}
	})

	t.Run("an id from the sequence comes after an explicit one", func(t *testing.T) {
		id, err := store.CreateConcert(ctx, bookingdb.NewConcert{Name: "next", Days: days(1), Blocks: blocks(1, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := id, int64(6); got != want {
			t.Errorf("id = %d, want %d", got, want)
		}
	})

	t.Run("rejects an empty catalogue", func(t *testing.T) {
		for _, c := range []bookingdb.NewConcert{
			{Name: "no dates", Blocks: blocks(1, 1)},
			{Name: "no seats", Days: days(1)},
			{Name: "free", Days: days(1), Blocks: blocks(1, 0)},
		} {
			if _, err := store.CreateConcert(ctx, c); err == nil {
				t.Errorf("%s: created", c.Name)
			}
		}
	})

	t.Run("Catalogue lists concerts and their dates", func(t *testing.T) {
		cat, err := store.Catalogue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(cat)
		// Date ids are whatever the sequence gave; compare the days.
		if len(cat) != 2 || cat[0].ID != 5 || cat[1].ID != 6 || len(cat[0].Dates) != 2 ||
			cat[0].Dates[0].Day != "2030-01-02" || cat[0].Dates[1].Day != "2030-01-03" || len(cat[1].Dates) != 1 {
			t.Errorf("catalogue = %s", got)
		}
		sums, err := store.SeatSummaries(ctx, []int64{cat[0].Dates[0].ID, cat[1].Dates[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sums[cat[0].Dates[0].ID], (bookingdb.SeatSummary{Seats: 3, First: 1, Last: 3, PriceSum: 21000}); got != want {
			t.Errorf("seat summary = %+v, want %+v", got, want)
		}
		seats, err := store.Seats(ctx, cat[0].Dates[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(seats), "[{1 7000} {2 7000} {3 7000}]"; got != want {
			t.Errorf("seats = %s, want %s", got, want)
		}
	})
}

func TestSales(t *testing.T) {
	db, _ := testenv.Postgres(t)
	store := bookingdb.New(db)
	ctx := context.Background()
	if _, err := store.CreateConcert(ctx, bookingdb.NewConcert{ID: 1, Name: "one", Days: days(1), Blocks: blocks(5, 100)}); err != nil {
		t.Fatal(err)
	}
	cat, err := store.Catalogue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dateID := cat[0].Dates[0].ID

	if _, err := store.Reservation(ctx, 1, 10001); !errors.Is(err, bookingdb.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}

	if _, err := db.ExecContext(ctx, `
		INSERT INTO users (user_id) VALUES ('amy');
		INSERT INTO reservations (reservation_id, concert_id, date_id, seat_id, user_seq, reservation_date, seat_number, price)
		SELECT 30001, 1, s.date_id, s.seat_id, (SELECT user_seq FROM users), '2030-01-02', s.seat_number, s.price
		FROM seats s WHERE s.seat_number IN (4);
		INSERT INTO reservations (reservation_id, concert_id, date_id, seat_id, user_seq, reservation_date, seat_number, price)
		SELECT 20001, 1, s.date_id, s.seat_id, (SELECT user_seq FROM users), '2030-01-02', s.seat_number, s.price
		FROM seats s WHERE s.seat_number IN (2);
		INSERT INTO pay_history (user_seq, reservation_id, amount, payment_status)
		SELECT user_seq, 90001, 100, 'FAILED' FROM users`); err != nil {
		t.Fatal(err)
	}

	sold, err := store.SoldSeats(ctx, dateID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(sold), "[2 4]"; got != want {
		t.Errorf("sold = %s, want %s", got, want)
	}
	r, err := store.Reservation(ctx, 1, 30001)
	if err != nil {
		t.Fatal(err)
	}
	if r.UserID != "amy" || r.Day != "2030-01-02" || r.Seat != 4 || r.DateID != dateID {
		t.Errorf("reservation = %+v", r)
	}
	if _, err := store.Reservation(ctx, 2, 30001); !errors.Is(err, bookingdb.ErrNotFound) {
		t.Errorf("another concert's reservation: err = %v, want ErrNotFound", err)
	}
}

func TestReserveIDBlockNeverGivesAnIDTwice(t *testing.T) {
	db, _ := testenv.Postgres(t)
	store := bookingdb.New(db)
	ctx := context.Background()
	const callers, each = 8, 25
	blocks := make(chan bookingdb.IDBlock, callers*each)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for range each {
				b, err := store.ReserveIDBlock(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				blocks <- b
			}
		})
	}
	wg.Wait()
	close(blocks)
	var all []bookingdb.IDBlock
	for b := range blocks {
		if b.First < 1_000_000_000_000 || b.Last < b.First || b.Last >= 1<<53 {
			t.Errorf("block %+v: want First >= 10^12 and First <= Last < 2^53", b)
		}
		all = append(all, b)
	}
	if got, want := len(all), callers*each; got != want {
		t.Fatalf("%d blocks, want %d", got, want)
	}
	slices.SortFunc(all, func(a, b bookingdb.IDBlock) int { return cmp.Compare(a.First, b.First) })
	for i := 1; i < len(all); i++ {
		if all[i].First <= all[i-1].Last {
			t.Errorf("blocks %+v and %+v overlap", all[i-1], all[i])
		}
	}
}
