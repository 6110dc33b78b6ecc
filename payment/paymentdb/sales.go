package paymentdb

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// Sales is the store of confirmed reservations (sold seats).
type Sales struct {
	db sqlx.ExtContext
}

// NewSales returns the store of sales on db (the pool or a transaction).
func NewSales(db sqlx.ExtContext) Sales { return Sales{db: db} }

// Sale is a seat sold to a user; ReservationID is the id of the paid hold.
type Sale struct {
	ReservationID int64
	ConcertID     int64
	Date          string // YYYY-MM-DD
	Seat          int
	UserSeq       int64
	Price         int64
	At            time.Time
}

// Insert records the sale, finding the date and seat rows of the concert.
// ErrSeatSold when the seat or the reservation id is sold already (the
// unique constraints decide, whatever Redis believed); ErrUnknownSeat when
// the concert has no such date or seat.
func (s Sales) Insert(ctx context.Context, sale Sale) error {
	const q = `
INSERT INTO reservations (reservation_id, concert_id, date_id, seat_id, user_seq,
	reservation_date, seat_number, price, is_temporary, confirmed_at)
SELECT $1, d.concert_id, d.date_id, st.seat_id, $5, d.concert_date, st.seat_number, $6, false, $7
FROM concert_dates d JOIN seats st ON st.date_id = d.date_id
WHERE d.concert_id = $2 AND d.concert_date = $3::date AND st.seat_number = $4`
	res, err := s.db.ExecContext(ctx, q,
		sale.ReservationID, sale.ConcertID, sale.Date, sale.Seat, sale.UserSeq, sale.Price, sale.At)
	if uniqueViolation(err) {
		return ErrSeatSold
	}
	if err != nil {
		return wrap("insert sale", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("insert sale", err)
	}
	if n == 0 {
		return ErrUnknownSeat
	}
	return nil
}

// Buyer returns the user id that bought the reservation of concertID;
// ErrNotFound when it is not sold, or is another concert's: a token of one
// concert learns nothing of another's sales.
func (s Sales) Buyer(ctx context.Context, concertID, reservationID int64) (string, error) {
	var user string
	err := sqlx.GetContext(ctx, s.db, &user, `
SELECT u.user_id FROM reservations r JOIN users u ON u.user_seq = r.user_seq
WHERE r.reservation_id = $1 AND r.concert_id = $2`, reservationID, concertID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", wrap("buyer", err)
	}
	return user, nil
}
