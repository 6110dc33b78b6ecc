// Package payment is the money of rushgate: prepaid balances, top-ups, and
// all-or-nothing payment of a held seat, with a PayHistory row for every
// attempt and idempotent retries. Postgres is the source of truth.
//
// payment knows nothing of HTTP or the queue, and reaches booking's holds only
// through the small Holds interface it declares.
package payment

import (
	"context"
	"errors"
	"time"
)

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
	// ErrInvalidUserID: the user id is not 1–64 characters of [A-Za-z0-9._@-].
	ErrInvalidUserID = errors.New("invalid user id")
	// ErrInvalidIdempotencyKey: the key is longer than 255 characters or holds
	// something other than printable ASCII.
	ErrInvalidIdempotencyKey = errors.New("invalid idempotency key")
	// ErrUnavailable: Postgres or the hold store could not be reached. Nothing
	// was charged and the hold is as it was; try again later.
	ErrUnavailable = errors.New("payment service unavailable")
)

// Amount limits, in whole won.
const (
	MinAmount = 1
	MaxAmount = 100_000_000
	// MaxBalance is the most a balance may hold: a charge that would pass
	// it is refused with ErrInvalidAmount. It keeps every balance, and the
	// sums the ledger audit adds up, far inside int64 and NUMERIC(20).
	MaxBalance = 1_000_000_000_000_000
	// MaxIdempotencyKeyLen is the longest Idempotency-Key accepted.
	MaxIdempotencyKeyLen = 255
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

// Hold is a seat held for a user, as payment sees it; ReservationID is the
// hold's id, which becomes the reservation's id once paid.
type Hold struct {
	ReservationID int64
	ConcertID     int64
	UserID        string
	Date          string // YYYY-MM-DD
	Seat          int
	Price         int64
	ExpiresAt     time.Time
}

// Holds is what payment needs of the seat holds (booking's, in production).
// A claim marks a live hold as being paid, so that of concurrent payments of
// one hold exactly one proceeds, and the hold cannot lapse or be paid again
// while it runs; the payment then ends it with Unclaim (nothing was sold) or
// Sold.
type Holds interface {
	// Claim marks the hold of userID as being paid and returns it.
	// ErrReservationNotFound when there is no such hold or it is another
	// user's; ErrHoldExpired when it lapsed; ErrAlreadyPaid when it is sold;
	// ErrPaymentInProgress when another payment holds the claim;
	// ErrUnavailable when the store cannot be reached.
	Claim(ctx context.Context, concertID, reservationID int64, userID string) (Hold, error)
	// Unclaim returns a claimed hold to its unpaid state, so it can be paid
	// again until it lapses.
	Unclaim(ctx context.Context, concertID, reservationID int64) error
	// Sold records that the claimed hold was paid: the seat is sold for good.
	Sold(ctx context.Context, concertID, reservationID int64) error
}

// ValidIdempotencyKey reports whether key may be an Idempotency-Key: 1 to
// 255 characters of printable ASCII (space to tilde).
func ValidIdempotencyKey(key string) bool {
	if len(key) == 0 || len(key) > MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// ValidAmount reports whether amount is within MinAmount…MaxAmount.
func ValidAmount(amount int64) bool { return amount >= MinAmount && amount <= MaxAmount }
