package checkout

import (
	"context"
	"errors"
	"fmt"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/payment"
)

// Holds returns the holds of b as payment sees them. Booking's sentinels
// become payment's (ErrHoldNotFound → ErrReservationNotFound, ErrHoldExpired
// → ErrHoldExpired, ErrAlreadyPaid → ErrAlreadyPaid, ErrHoldBusy →
// ErrPaymentInProgress, ErrUnavailable → ErrUnavailable); the original error
// stays in the chain.
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
	{booking.ErrUnavailable, payment.ErrUnavailable},
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
	return err
}
