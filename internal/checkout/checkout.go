// Package checkout joins the two domains that must not import each other: it
// turns booking's holds into the payment.Holds that payment claims, and
// booking's errors into payment's.
package checkout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/payment"
)

// Holds returns the holds of b as payment sees them. Booking's sentinels
// become payment's (ErrHoldNotFound → ErrReservationNotFound, ErrHoldExpired
// → ErrHoldExpired, ErrAlreadyPaid → ErrAlreadyPaid, ErrHoldBusy →
// ErrPaymentInProgress) and a Redis or Postgres that cannot be reached
// becomes payment.ErrUnavailable; the original error stays in the chain.
func Holds(b *booking.Service) payment.Holds { return holds{b: b} }

type holds struct{ b *booking.Service }

func (h holds) Claim(ctx context.Context, concertID, reservationID int64, userID string) (payment.Hold, error) {
	bh, err := h.b.ClaimHold(ctx, concertID, reservationID, userID)
	if err != nil {
		return payment.Hold{}, mapError(err)
	}
	return payment.Hold{
		ReservationID: bh.ID,
		ConcertID:     bh.ConcertID,
		UserID:        bh.UserID,
		Date:          bh.Date,
		Seat:          bh.Seat,
		Price:         bh.Price,
		ExpiresAt:     bh.ExpiresAt,
	}, nil
}

func (h holds) Unclaim(ctx context.Context, concertID, reservationID int64) error {
	return mapError(h.b.UnclaimHold(ctx, concertID, reservationID))
}

func (h holds) Sold(ctx context.Context, concertID, reservationID int64) error {
	return mapError(h.b.MarkSold(ctx, concertID, reservationID))
}

var sentinels = []struct{ from, to error }{
	{booking.ErrHoldNotFound, payment.ErrReservationNotFound},
	{booking.ErrHoldExpired, payment.ErrHoldExpired},
	{booking.ErrAlreadyPaid, payment.ErrAlreadyPaid},
	{booking.ErrHoldBusy, payment.ErrPaymentInProgress},
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s.from) {
			return fmt.Errorf("%w: %w", s.to, err)
		}
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", payment.ErrUnavailable, err)
	}
	return err
}

// unreachable reports whether err says the store could not be reached (as
// opposed to a bug), so the caller answers "try again later".
func unreachable(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) ||
		errors.Is(err, redis.ErrClosed)
}
