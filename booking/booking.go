// Package booking is the catalogue of a concert (its dates and the seats of
// each date, with their prices) and the seat holds of a ticket rush: atomic,
// one winner per seat, lapsing by themselves when not paid.
//
// Postgres is the source of truth of the catalogue and of what is sold; Redis
// holds the short-lived holds and a cache of sold seats that is rebuilt from
// Postgres whenever it is missing. booking knows users, dates and seats only:
// it imports neither HTTP nor the queue nor payment.
package booking

import (
	"errors"
	"time"

	"github.com/rushgate/rushgate/unreachable"
)

// Sentinel errors of booking; the HTTP layer maps each to a status and code.
var (
	ErrConcertNotFound = errors.New("concert not found")
	ErrDateNotFound    = errors.New("date not found")
	ErrSeatNotFound    = errors.New("seat not found")
	// ErrSeatTaken: the seat is held by someone else or sold.
	ErrSeatTaken = errors.New("seat taken")
	// ErrHoldLimit: the user already holds MaxHoldsPerUser unpaid seats.
	ErrHoldLimit = errors.New("hold limit reached")
	// ErrHoldNotFound: no such hold, or it belongs to another user.
	ErrHoldNotFound = errors.New("hold not found")
	// ErrHoldExpired: the hold lapsed before it was paid.
	ErrHoldExpired = errors.New("hold expired")
	// ErrAlreadyPaid: the hold was paid already.
	ErrAlreadyPaid = errors.New("hold already paid")
	// ErrGateClosed: the gate given to Hold was closed.
	ErrGateClosed = errors.New("gate closed")
	// ErrHoldBusy: a payment of this hold is in progress.
	ErrHoldBusy = errors.New("hold is being paid")
	// ErrUnavailable: Redis or Postgres could not be reached in time (see
	// package unreachable); try again later. Any method may return it.
	ErrUnavailable = errors.New("booking: store unavailable")
)

// markUnavailable wraps a store failure in *err with ErrUnavailable. Every
// exported method that reaches Redis or Postgres defers it, so that no bare
// driver error leaves the package whichever path failed.
func markUnavailable(err *error) { *err = unreachable.Mark(ErrUnavailable, *err) }

// DateLayout is how dates are written: YYYY-MM-DD.
const DateLayout = "2006-01-02"

// Hold is a seat held for a user until ExpiresAt; its ID is the reservation id.
type Hold struct {
	ID        int64
	ConcertID int64
	UserID    string
	Date      string // YYYY-MM-DD
	Seat      int
	Price     int64 // whole won
	ExpiresAt time.Time
}
