package queue

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/rushgate/rushgate/unreachable"
)

// Sentinel errors of the queue. The HTTP layer maps each to the contract's
// status and code.
var (
	// ErrInvalidToken: missing, malformed, altered or foreign token.
	ErrInvalidToken = errors.New("invalid token")
	// ErrTokenExpired: the token lapsed while waiting, its admission lapsed,
	// or it was released after a payment.
	ErrTokenExpired = errors.New("token expired")
	// ErrLineReset: the token belongs to a line that Redis no longer has (it
	// restarted empty, or the concert's keys were lost): its place is gone
	// and the user must enter again. It is an ErrTokenExpired.
	ErrLineReset = fmt.Errorf("%w: the line was lost and started again", ErrTokenExpired)
	// ErrNotAdmitted: the token is still waiting. Errors of this kind are
	// *NotAdmittedError and carry the queue position.
	ErrNotAdmitted = errors.New("not admitted yet")
	// ErrInvalidSettings: an admission setting out of range.
	ErrInvalidSettings = errors.New("invalid admission settings")
	// ErrSoldOut: every seat of the concert is sold; nobody new joins its line.
	ErrSoldOut = errors.New("sold out")
	// ErrSaleOpen: the sale has opened, so its schedule can no longer change.
	ErrSaleOpen = errors.New("the sale is open")
	// ErrNoDraw: the concert has no scheduled open, hence no draw.
	ErrNoDraw = errors.New("no draw")
	// ErrUnavailable: Redis could not be reached in time (see package
	// unreachable); nothing is known to have changed. Try again later.
	ErrUnavailable = errors.New("queue: redis unavailable")
)

// NotAdmittedError is returned for a waiting token on a route that needs an
// active one; it carries the token's (upper bound of its) place in line.
type NotAdmittedError struct {
	Position int64
}

func (e *NotAdmittedError) Error() string {
	return "not admitted yet: position " + strconv.FormatInt(e.Position, 10)
}

// Is makes errors.Is(err, ErrNotAdmitted) hold.
func (e *NotAdmittedError) Is(target error) bool { return target == ErrNotAdmitted }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// storeError names the failed operation and marks a Redis that could not be
// reached with ErrUnavailable.
func storeError(op string, err error) error {
	return fmt.Errorf("queue: %s: %w", op, unreachable.Mark(ErrUnavailable, err))
}
