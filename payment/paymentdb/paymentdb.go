// Package paymentdb is the Postgres side of payment: balances and top-ups,
// confirmed reservations, the PayHistory ledger and the idempotency records of
// payments, plus the audits load tools run to prove that no money was created
// or lost and no seat was sold twice.
//
// Each store wraps a sqlx.ExtContext, so the same store runs against the pool
// or inside the one transaction a payment opens. Postgres errors never leave
// this package: a unique violation (23505) becomes one of the sentinels below,
// and a lost or refused connection becomes ErrUnavailable.
//
// payment.NewService takes the *sqlx.DB and uses these stores, so paymentdb
// cannot import payment; it speaks in rows and its own sentinels, which
// payment turns into its domain errors.
package paymentdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/rushgate/rushgate/unreachable"
)

// Sentinel errors of the stores.
var (
	// ErrNotFound: no such user or idempotency record.
	ErrNotFound = errors.New("paymentdb: not found")
	// ErrInsufficientFunds: the balance is below the debit, or the user has
	// no row yet (a balance of nothing).
	ErrInsufficientFunds = errors.New("paymentdb: insufficient funds")
	// ErrBalanceCap: the charge would lift the balance above the cap.
	ErrBalanceCap = errors.New("paymentdb: balance cap exceeded")
	// ErrSeatSold: the seat, or the reservation id, is sold already, or the
	// reservation already has a COMPLETED payment.
	ErrSeatSold = errors.New("paymentdb: seat already sold")
	// ErrUnknownSeat: the concert has no such date or seat.
	ErrUnknownSeat = errors.New("paymentdb: no such date or seat")
	// ErrKeyTaken: an idempotency record with this user and key exists.
	ErrKeyTaken = errors.New("paymentdb: idempotency key taken")
	// ErrUnavailable: Postgres could not be reached or dropped the
	// connection; the caller's transaction did not commit (except after a
	// failed Commit, whose outcome is unknown).
	ErrUnavailable = errors.New("paymentdb: postgres unavailable")
)

// Begin opens a transaction on db; ErrUnavailable when Postgres cannot be
// reached.
func Begin(ctx context.Context, db *sqlx.DB) (*sqlx.Tx, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, wrap("begin", err)
	}
	return tx, nil
}

// Commit commits tx; ErrUnavailable when the connection failed, in which case
// the outcome is unknown to the caller (the constraints keep a retry from
// selling or charging twice).
func Commit(tx *sqlx.Tx) error {
	if err := tx.Commit(); err != nil {
		return wrap("commit", err)
	}
	return nil
}

// wrap names the failed operation and marks connection failures (as
// package unreachable decides them) with ErrUnavailable, so callers can tell
// "try again later" from a bug.
func wrap(op string, err error) error {
	if unreachable.Is(err) {
		return fmt.Errorf("paymentdb: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("paymentdb: %s: %w", op, err)
}

func uniqueViolation(err error) bool {
	return pq.As(err, "23505") != nil
}
