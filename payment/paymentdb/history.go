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

// Failed records a refused payment of userID and returns its payment id. A
// user who never charged gets a row with balance 0 first, in the same
// statement: the FAILED row needs it, and such a user's balance is 0.
func (s History) Failed(ctx context.Context, userID string, reservationID, amount int64, at time.Time) (int64, error) {
	// DO UPDATE (to the same value) rather than DO NOTHING, because only an
	// updated row is RETURNed.
	var id int64
	err := sqlx.GetContext(ctx, s.db, &id, `
WITH u AS (
	INSERT INTO users (user_id, pay, created_at) VALUES ($1, 0, $4)
	ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id
	RETURNING user_seq
)
INSERT INTO pay_history (user_seq, reservation_id, amount, payment_time, payment_status)
SELECT user_seq, $2, $3, $4, 'FAILED' FROM u RETURNING payment_id`, userID, reservationID, amount, at)
	if err != nil {
		return 0, wrap("record failed payment", err)
	}
	return id, nil
}
