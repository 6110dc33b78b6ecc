package paymentdb

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// Users is the store of users and their balances.
type Users struct {
	db sqlx.ExtContext
}

// NewUsers returns the store of users on db (the pool or a transaction).
func NewUsers(db sqlx.ExtContext) Users { return Users{db: db} }

// Balance returns the balance of userID; ErrNotFound when the user has no row.
func (s Users) Balance(ctx context.Context, userID string) (int64, error) {
	var pay int64
	err := sqlx.GetContext(ctx, s.db, &pay, `SELECT pay FROM users WHERE user_id = $1`, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, wrap("balance", err)
	}
	return pay, nil
}

// Charge adds amount (> 0) to the balance of userID, creating the user on
// first sight, and records the charge, in one statement: concurrent charges
// never lose an update and the ledger always matches the balances. It
// returns the new balance, or ErrBalanceCap (nothing changed) when the new
// balance would exceed max.
func (s Users) Charge(ctx context.Context, userID string, amount, max int64, at time.Time) (int64, error) {
	// ON CONFLICT … DO UPDATE … WHERE leaves an existing row untouched and
	// returns nothing when the cap would be passed; the charges insert then
	// has no row to copy, so nothing at all is written.
	const q = `
WITH u AS (
	INSERT INTO users (user_id, pay, created_at) VALUES ($1, $2, $4)
	ON CONFLICT (user_id) DO UPDATE SET pay = users.pay + EXCLUDED.pay
	WHERE users.pay + EXCLUDED.pay <= $3
	RETURNING user_seq, pay
), c AS (
	INSERT INTO charges (user_seq, amount, charged_at) SELECT user_seq, $2, $4 FROM u
)
SELECT pay FROM u`
	var pay int64
	err := sqlx.GetContext(ctx, s.db, &pay, q, userID, amount, max, at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrBalanceCap
	}
	if err != nil {
		return 0, wrap("charge", err)
	}
	return pay, nil
}

// Debited is the outcome of a debit.
type Debited struct {
	UserSeq int64
	Balance int64 // after the debit
}

// Debit takes amount from the balance of userID if it covers it. The row
// stays locked until the surrounding transaction ends, so concurrent debits
// of one user queue up and each sees the balance the previous one left.
// ErrInsufficientFunds when the balance is short or the user has no row.
func (s Users) Debit(ctx context.Context, userID string, amount int64) (Debited, error) {
	var r struct {
		UserSeq int64 `db:"user_seq"`
		Pay     int64 `db:"pay"`
	}
	err := sqlx.GetContext(ctx, s.db, &r,
		`UPDATE users SET pay = pay - $2 WHERE user_id = $1 AND pay >= $2 RETURNING user_seq, pay`,
		userID, amount)
	if errors.Is(err, sql.ErrNoRows) {
		return Debited{}, ErrInsufficientFunds
	}
	if err != nil {
		return Debited{}, wrap("debit", err)
	}
	return Debited{UserSeq: r.UserSeq, Balance: r.Pay}, nil
}
