package paymentdb

import (
	"context"

	"github.com/jmoiron/sqlx"
)

// Ledger sums the money in the database, read in one snapshot.
type Ledger struct {
	Charged  int64 // sum of every charge
	Balances int64 // sum of every balance
	Paid     int64 // sum of every COMPLETED payment
}

// Balanced reports whether no money was created or lost: every won charged
// is either still on a balance or paid for a seat.
func (l Ledger) Balanced() bool { return l.Charged == l.Balances+l.Paid }

// Audit reads the Ledger. The three sums come from one statement, hence one
// snapshot, so it may run while payments and charges go on.
func Audit(ctx context.Context, db sqlx.QueryerContext) (Ledger, error) {
	var r struct {
		Charged  int64 `db:"charged"`
		Balances int64 `db:"balances"`
		Paid     int64 `db:"paid"`
	}
	err := sqlx.GetContext(ctx, db, &r, `
SELECT (SELECT coalesce(sum(amount), 0) FROM charges) AS charged,
       (SELECT coalesce(sum(pay), 0) FROM users) AS balances,
       (SELECT coalesce(sum(amount), 0) FROM pay_history WHERE payment_status = 'COMPLETED') AS paid`)
	if err != nil {
		return Ledger{}, wrap("audit", err)
	}
	return Ledger(r), nil
}

// Integrity counts, in one snapshot, what must always be zero.
type Integrity struct {
	SeatsSoldTwice        int64 // (date, seat) pairs with more than one reservation
	ReservationsPaidTwice int64 // reservations with more than one COMPLETED payment
	SalesWithoutPayment   int64 // reservations with no COMPLETED payment
	PaymentsWithoutSale   int64 // COMPLETED payments with no reservation
	MismatchedPayments    int64 // reservations whose COMPLETED payment has another amount or user
}

// OK reports whether every count is zero: no seat sold twice, no
// reservation paid twice, and every sale and payment made together.
func (i Integrity) OK() bool { return i == Integrity{} }

// CheckIntegrity counts the anomalies of Integrity. The unique constraints
// make the first two impossible; load tools check them anyway, as they check
// that payments are all-or-nothing.
func CheckIntegrity(ctx context.Context, db sqlx.QueryerContext) (Integrity, error) {
	var r struct {
		SeatsSoldTwice        int64 `db:"seats_sold_twice"`
		ReservationsPaidTwice int64 `db:"reservations_paid_twice"`
		SalesWithoutPayment   int64 `db:"sales_without_payment"`
		PaymentsWithoutSale   int64 `db:"payments_without_sale"`
		MismatchedPayments    int64 `db:"mismatched_payments"`
	}
	err := sqlx.GetContext(ctx, db, &r, `
WITH done AS (SELECT * FROM pay_history WHERE payment_status = 'COMPLETED')
SELECT
 (SELECT count(*) FROM (SELECT 1 FROM reservations GROUP BY date_id, seat_number HAVING count(*) > 1) x) AS seats_sold_twice,
 (SELECT count(*) FROM (SELECT 1 FROM done GROUP BY reservation_id HAVING count(*) > 1) x) AS reservations_paid_twice,
 (SELECT count(*) FROM reservations r WHERE NOT EXISTS (SELECT 1 FROM done p WHERE p.reservation_id = r.reservation_id)) AS sales_without_payment,
 (SELECT count(*) FROM done p WHERE NOT EXISTS (SELECT 1 FROM reservations r WHERE r.reservation_id = p.reservation_id)) AS payments_without_sale,
 (SELECT count(*) FROM reservations r JOIN done p ON p.reservation_id = r.reservation_id
   WHERE p.amount <> r.price OR p.user_seq <> r.user_seq) AS mismatched_payments`)
	if err != nil {
		return Integrity{}, wrap("check integrity", err)
	}
	return Integrity(r), nil
}
