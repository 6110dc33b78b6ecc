package paymentdb

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
)

// Idempotency is the store of the first answer to each (user,
// Idempotency-Key) of a payment.
type Idempotency struct {
	db sqlx.ExtContext
}

// NewIdempotency returns the store of idempotency records on db (the pool or
// a transaction).
func NewIdempotency(db sqlx.ExtContext) Idempotency { return Idempotency{db: db} }

// Record is the stored answer to a request.
type Record struct {
	UserID      string
	Key         string
	RequestHash string // tells a retry from another request under the same key
	Response    []byte // JSON
	CreatedAt   time.Time
}

type recordRow struct {
	UserID      string    `db:"user_id"`
	Key         string    `db:"idempotency_key"`
	RequestHash string    `db:"request_hash"`
	Response    []byte    `db:"response"`
	CreatedAt   time.Time `db:"created_at"`
}

// Get returns the record of userID and key; ErrNotFound when there is none.
func (s Idempotency) Get(ctx context.Context, userID, key string) (Record, error) {
	var r recordRow
	err := sqlx.GetContext(ctx, s.db, &r, `
SELECT user_id, idempotency_key, request_hash, response, created_at
FROM payment_idempotency WHERE user_id = $1 AND idempotency_key = $2`, userID, key)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, wrap("get idempotency record", err)
	}
	return Record(r), nil
}

// Put stores rec. ErrKeyTaken when a record of the same user and key exists
// (inside a transaction, the transaction is then aborted).
func (s Idempotency) Put(ctx context.Context, rec Record) error {
	_, err := s.db.ExecContext(ctx, `
INSERT INTO payment_idempotency (user_id, idempotency_key, request_hash, response, created_at)
VALUES ($1, $2, $3, $4, $5)`, rec.UserID, rec.Key, rec.RequestHash, rec.Response, rec.CreatedAt)
	if uniqueViolation(err) {
		return ErrKeyTaken
	}
	if err != nil {
		return wrap("put idempotency record", err)
	}
	return nil
}
