// Package payment is the money of rushgate: prepaid balances, top-ups, and
// all-or-nothing payment of a held seat, with a PayHistory row for every
// attempt and idempotent retries. Postgres is the source of truth.
//
// payment knows nothing of HTTP or the queue, and reaches booking's holds only
// through the small Holds interface it declares.
package payment

import "errors"

// Sentinel errors of payment; the HTTP layer maps each to a status and code.
var (
	ErrUserNotFound        = errors.New("user not found")
	ErrInvalidAmount       = errors.New("invalid amount")
	ErrAmountMismatch      = errors.New("amount does not match the price")
	ErrInsufficientBalance = errors.New("insufficient balance")
	// ErrReservationNotFound: no such hold, or another user's.
	ErrReservationNotFound = errors.New("reservation not found")
	ErrHoldExpired         = errors.New("hold expired")
	ErrAlreadyPaid         = errors.New("already paid")
	// ErrPaymentInProgress: another payment of the same hold is running.
	ErrPaymentInProgress = errors.New("payment in progress")
	// ErrIdempotencyConflict: the Idempotency-Key was used for another request.
	ErrIdempotencyConflict = errors.New("idempotency key reused for another request")
)

// Amount limits, in whole won.
const (
	MinAmount = 1
	MaxAmount = 100_000_000
)

// Status of a PayHistory row.
const (
	StatusPending   = "PENDING"
	StatusCompleted = "COMPLETED"
	StatusFailed    = "FAILED"
)

// Request asks to pay for a hold.
type Request struct {
	ConcertID      int64
	UserID         string
	ReservationID  int64
	Amount         int64
	IdempotencyKey string // optional
}

// Receipt is the answer to a successful payment.
type Receipt struct {
	PaymentID       int64
	ReservationID   int64
	ReservationDate string // YYYY-MM-DD
	ReservationSeat int
	Amount          int64
	Status          string
	Balance         int64
	// Replayed is true when this is the stored answer to an earlier request
	// with the same Idempotency-Key.
	Replayed bool
}
