package paymentdb_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/payment/paymentdb"
)

var at = time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)

// catalogue creates concert 1 with one date, 2030-01-02, of seats 1…3.
func catalogue(t *testing.T, db *sqlx.DB) {
	t.Helper()
	db.MustExec(`INSERT INTO concerts (concert_id, name) VALUES (1, 'c')`)
	db.MustExec(`INSERT INTO concert_dates (date_id, concert_id, concert_date) VALUES (1, 1, '2030-01-02')`)
	db.MustExec(`INSERT INTO seats (date_id, seat_number, price) VALUES (1, 1, 1000), (1, 2, 1000), (1, 3, 1000)`)
}

func charge(t *testing.T, db *sqlx.DB, user string, amount int64) int64 {
	t.Helper()
	pay, err := paymentdb.NewUsers(db).Charge(context.Background(), user, amount, 1_000_000, at)
	if err != nil {
		t.Fatalf("charge %s %d: %v", user, amount, err)
	}
	return pay
}

func audit(t *testing.T, db *sqlx.DB) paymentdb.Ledger {
	t.Helper()
	l, err := paymentdb.Audit(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestChargeCreatesTheUserThenAdds(t *testing.T) {
	db, _ := testenv.Postgres(t)
	ctx := context.Background()
	users := paymentdb.NewUsers(db)
	if _, err := users.Balance(ctx, "ann"); !errors.Is(err, paymentdb.ErrNotFound) {
		t.Fatalf("balance of a new user: err = %v, want ErrNotFound", err)
	}
	if got, want := charge(t, db, "ann", 300), int64(300); got != want {
		t.Fatalf("first charge: balance %d, want %d", got, want)
	}
	if got, want := charge(t, db, "ann", 200), int64(500); got != want {
		t.Fatalf("second charge: balance %d, want %d", got, want)
	}
	if got, err := users.Balance(ctx, "ann"); err != nil || got != 500 {
		t.Fatalf("Balance = %d, %v; want 500", got, err)
	}
	if got, want := audit(t, db), (paymentdb.Ledger{Charged: 500, Balances: 500}); got != want {
		t.Fatalf("ledger = %+v, want %+v", got, want)
	}
}

func TestChargePastTheCapChangesNothing(t *testing.T) {
	db, _ := testenv.Postgres(t)
	charge(t, db, "ann", 900)
	_, err := paymentdb.NewUsers(db).Charge(context.Background(), "ann", 101, 1000, at)
	if !errors.Is(err, paymentdb.ErrBalanceCap) {
		t.Fatalf("err = %v, want ErrBalanceCap", err)
	}
	if got, want := audit(t, db), (paymentdb.Ledger{Charged: 900, Balances: 900}); got != want {
		t.Fatalf("ledger = %+v, want %+v (no charge row, no balance change)", got, want)
	}
	if got, err := paymentdb.NewUsers(db).Charge(context.Background(), "ann", 100, 1000, at); err != nil || got != 1000 {
		t.Fatalf("charge up to the cap = %d, %v; want 1000", got, err)
	}
}

func TestDebitRefusesWhatTheBalanceDoesNotCover(t *testing.T) {
	db, _ := testenv.Postgres(t)
	charge(t, db, "ann", 1000)
	users := paymentdb.NewUsers(db)
	ctx := context.Background()
	for _, tc := range []struct {
		name, user string
		amount     int64
	}{
		{"MoreThanTheBalance", "ann", 1001},
		{"UserWithoutARow", "bob", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := users.Debit(ctx, tc.user, tc.amount); !errors.Is(err, paymentdb.ErrInsufficientFunds) {
				t.Fatalf("err = %v, want ErrInsufficientFunds", err)
			}
		})
	}
	d, err := users.Debit(ctx, "ann", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Balance, int64(0); got != want {
		t.Fatalf("balance after debiting all = %d, want %d", got, want)
	}
}

func TestSalesInsertMapsConstraintsToSentinels(t *testing.T) {
	db, _ := testenv.Postgres(t)
	catalogue(t, db)
	charge(t, db, "ann", 1000)
	var seq int64
	db.Get(&seq, `SELECT user_seq FROM users WHERE user_id = 'ann'`)
	sales := paymentdb.NewSales(db)
	ctx := context.Background()
	sale := paymentdb.Sale{ReservationID: 10, ConcertID: 1, Date: "2030-01-02", Seat: 1, UserSeq: seq, Price: 1000, At: at}
	if err := sales.Insert(ctx, sale); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*paymentdb.Sale)
		want error
	}{
		{"SameSeatAnotherReservation", func(s *paymentdb.Sale) { s.ReservationID = 11 }, paymentdb.ErrSeatSold},
		{"SameReservationAnotherSeat", func(s *paymentdb.Sale) { s.Seat = 2 }, paymentdb.ErrSeatSold},
		{"SeatNotInTheCatalogue", func(s *paymentdb.Sale) { s.ReservationID, s.Seat = 12, 99 }, paymentdb.ErrUnknownSeat},
		{"DateNotInTheCatalogue", func(s *paymentdb.Sale) { s.ReservationID, s.Date = 12, "2030-01-03" }, paymentdb.ErrUnknownSeat},
		{"AnotherConcert", func(s *paymentdb.Sale) { s.ReservationID, s.ConcertID = 12, 2 }, paymentdb.ErrUnknownSeat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sale
			tc.edit(&s)
			if err := sales.Insert(ctx, s); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if got, err := sales.Buyer(ctx, 10); err != nil || got != "ann" {
		t.Fatalf("Buyer(10) = %q, %v; want ann", got, err)
	}
	if _, err := sales.Buyer(ctx, 11); !errors.Is(err, paymentdb.ErrNotFound) {
		t.Fatalf("Buyer(11): err = %v, want ErrNotFound", err)
	}
}

func TestHistoryAllowsOneCompletedRowPerReservation(t *testing.T) {
	db, _ := testenv.Postgres(t)
	charge(t, db, "ann", 1000)
	var seq int64
	db.Get(&seq, `SELECT user_seq FROM users WHERE user_id = 'ann'`)
	h := paymentdb.NewHistory(db)
	ctx := context.Background()
	if _, err := h.Completed(ctx, seq, 10, 1000, at); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Completed(ctx, seq, 10, 1000, at); !errors.Is(err, paymentdb.ErrSeatSold) {
		t.Fatalf("second COMPLETED row: err = %v, want ErrSeatSold", err)
	}
}

func TestFailedPaymentOfANewUserCreatesAnEmptyBalance(t *testing.T) {
	db, _ := testenv.Postgres(t)
	ctx := context.Background()
	h := paymentdb.NewHistory(db)
	for range 2 { // the second finds the row the first created
		if _, err := h.Failed(ctx, "bob", 10, 1000, at); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := paymentdb.NewUsers(db).Balance(ctx, "bob"); err != nil || got != 0 {
		t.Fatalf("Balance(bob) = %d, %v; want 0", got, err)
	}
	var failed int
	db.Get(&failed, `SELECT count(*) FROM pay_history WHERE payment_status = 'FAILED'`)
	if got, want := failed, 2; got != want {
		t.Fatalf("FAILED rows = %d, want %d", got, want)
	}
}

func TestIdempotencyRecordsAreWrittenOnce(t *testing.T) {
	db, _ := testenv.Postgres(t)
	store := paymentdb.NewIdempotency(db)
	ctx := context.Background()
	if _, err := store.Get(ctx, "ann", "k"); !errors.Is(err, paymentdb.ErrNotFound) {
		t.Fatalf("Get before Put: err = %v, want ErrNotFound", err)
	}
	rec := paymentdb.Record{UserID: "ann", Key: "k", RequestHash: "h1", Response: []byte(`{"a": 1}`), CreatedAt: at}
	if err := store.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	other := rec
	other.RequestHash = "h2"
	if err := store.Put(ctx, other); !errors.Is(err, paymentdb.ErrKeyTaken) {
		t.Fatalf("second Put: err = %v, want ErrKeyTaken", err)
	}
	got, err := store.Get(ctx, "ann", "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.RequestHash != "h1" || string(got.Response) != `{"a": 1}` || !got.CreatedAt.Equal(at) {
		t.Fatalf("Get = %+v, want the first record", got)
	}
	if _, err := store.Get(ctx, "bob", "k"); !errors.Is(err, paymentdb.ErrNotFound) {
		t.Fatalf("another user's key: err = %v, want ErrNotFound", err)
	}
}

func TestAuditAndIntegrityDetectTampering(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tamper    string
		balanced  bool
		integrity paymentdb.Integrity
	}{
		{"MoneyFromNowhere", `UPDATE users SET pay = pay + 1`, false, paymentdb.Integrity{}},
		{"SaleWithoutPayment", `INSERT INTO reservations (reservation_id, concert_id, date_id, seat_id, user_seq, reservation_date, seat_number, price)
			SELECT 20, 1, 1, seat_id, 1, '2030-01-02', 2, 1000 FROM seats WHERE seat_number = 2`, true,
			paymentdb.Integrity{SalesWithoutPayment: 1}},
		{"PaymentWithoutSale", `INSERT INTO pay_history (user_seq, reservation_id, amount, payment_status) VALUES (1, 30, 0, 'COMPLETED')`, true,
			paymentdb.Integrity{PaymentsWithoutSale: 1}},
		{"PaymentOfAnotherAmount", `UPDATE reservations SET price = 999`, true,
			paymentdb.Integrity{MismatchedPayments: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := testenv.Postgres(t)
			catalogue(t, db)
			pay(t, db, "ann", 1, 10)
			if l := audit(t, db); !l.Balanced() {
				t.Fatalf("ledger before tampering = %+v, want balanced", l)
			}
			db.MustExec(tc.tamper)
			if got, want := audit(t, db).Balanced(), tc.balanced; got != want {
				t.Fatalf("Balanced() = %v, want %v", got, want)
			}
			got, err := paymentdb.CheckIntegrity(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.integrity {
				t.Fatalf("integrity = %+v, want %+v", got, tc.integrity)
			}
			if got, want := got.OK(), tc.integrity == (paymentdb.Integrity{}); got != want {
				t.Fatalf("OK() = %v, want %v", got, want)
			}
		})
	}
}

// pay sells seat to user as reservation id through the stores, in one
// transaction, as payment does.
func pay(t *testing.T, db *sqlx.DB, user string, seat int, id int64) {
	t.Helper()
	ctx := context.Background()
	charge(t, db, user, 1000)
	tx, err := paymentdb.Begin(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	d, err := paymentdb.NewUsers(tx).Debit(ctx, user, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := paymentdb.NewSales(tx).Insert(ctx, paymentdb.Sale{ReservationID: id, ConcertID: 1,
		Date: "2030-01-02", Seat: seat, UserSeq: d.UserSeq, Price: 1000, At: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := paymentdb.NewHistory(tx).Completed(ctx, d.UserSeq, id, 1000, at); err != nil {
		t.Fatal(err)
	}
	if err := paymentdb.Commit(tx); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachablePostgresIsErrUnavailable(t *testing.T) {
	db, dsn := testenv.Postgres(t)
	charge(t, db, "ann", 100)
	u, _ := url.Parse(dsn)
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	viaProxy := sqlx.MustOpen("postgres", u.String())
	t.Cleanup(func() { viaProxy.Close() })
	users := paymentdb.NewUsers(viaProxy)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := users.Balance(ctx, "ann"); err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	if _, err := users.Balance(ctx, "ann"); !errors.Is(err, paymentdb.ErrUnavailable) {
		t.Fatalf("Balance during the cut: err = %v, want ErrUnavailable", err)
	}
	if _, err := paymentdb.Begin(ctx, viaProxy); !errors.Is(err, paymentdb.ErrUnavailable) {
		t.Fatalf("Begin during the cut: err = %v, want ErrUnavailable", err)
	}

	proxy.Restore()
	if got, err := users.Balance(ctx, "ann"); err != nil || got != 100 {
		t.Fatalf("Balance after restore = %d, %v; want 100", got, err)
	}
}
