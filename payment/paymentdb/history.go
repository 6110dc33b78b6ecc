package paymentdb

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
)

// History is the store of PayHistory rows, one per payment attempt.
type History struct {
	db sqlx.ExtContext
}

// NewHistory returns the store of PayHistory on db (the pool or a transaction).
func NewHistory(db sqlx.ExtContext) History { return History{db: db} }

// Completed records the successful payment of a reservation and returns its
// payment id. ErrSeatSold when the reservation has a COMPLETED row already.
func (s History) Completed(ctx context.Context, userSeq, reservationID, amount int64, at time.Time) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.db, &id, `
INSERT INTO pay_history (user_seq, reservation_id, amount, payment_time, payment_status)
VALUES ($1, $2, $3, $4, 'COMPLETED') RETURNING payment_id`, userSeq, reservationID, amount, at)
	if uniqueViolation(err) {
		return 0, ErrSeatSold
	}
	if err != nil {
		return 0, wrap("record payment", err)
	}
	return id, nil
}

// Failed records a refused payment of userID and returns its payment id.
// It never creates the user: a user's row comes from their first charge, so
// the row names the payer by user id, and links their user_seq only when
// they have a row already.
func (s History) Failed(ctx context.Context, userID string, reservationID, amount int64, at time.Time) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, s.db, &id, `
INSERT INTO pay_history (user_seq, user_id, reservation_id, amount, payment_time, payment_status)
VALUES ((SELECT user_seq FROM users WHERE user_id = $1), $1, $2, $3, $4, 'FAILED')
RETURNING payment_id`, userID, reservationID, amount, at)
	if err != nil {
		return 0, wrap("record failed payment", err)
	}
	return id, nil
}
