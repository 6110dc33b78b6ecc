package schema_test

import (
	"context"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/schema"
)

func TestOpenCreatesDatabaseAndMigratesIdempotently(t *testing.T) {
	db, dsn := testenv.Postgres(t)
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM information_schema.tables WHERE table_name IN
		('users','charges','concerts','concert_dates','seats','reservations','pay_history','payment_idempotency')`); err != nil {
		t.Fatal(err)
	}
	if got, want := n, 8; got != want {
		t.Fatalf("tables = %d, want %d", got, want)
	}
	// A second Open (another replica starting) finds nothing to do.
	again, err := schema.Open(context.Background(), dsn, 3*time.Second)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	again.Close()
}

func TestReservationsRejectADoubleSale(t *testing.T) {
	db, _ := testenv.Postgres(t)
	db.MustExec(`INSERT INTO users (user_id, pay) VALUES ('a', 0), ('b', 0)`)
	db.MustExec(`INSERT INTO concerts (concert_id, name) VALUES (1, 'x')`)
	db.MustExec(`INSERT INTO concert_dates (date_id, concert_id, concert_date) VALUES (1, 1, '2030-01-01')`)
	db.MustExec(`INSERT INTO seats (seat_id, date_id, seat_number, price) VALUES (1, 1, 1, 1000)`)
	insert := `INSERT INTO reservations (reservation_id, concert_id, date_id, seat_id, user_seq, reservation_date, seat_number, price)
		VALUES ($1, 1, 1, 1, $2, '2030-01-01', 1, 1000)`
	if _, err := db.Exec(insert, 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(insert, 2, 2); err == nil {
		t.Fatal("a second sale of one seat was accepted")
	}
	if _, err := db.Exec(`UPDATE users SET pay = pay - 1 WHERE user_id = 'a'`); err == nil {
		t.Fatal("a negative balance was accepted")
	}
}
