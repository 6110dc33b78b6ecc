// Package checkout is what an admitted user does, free of HTTP: hold a seat
// behind the queue's admission gate, and pay for it, idempotently, giving the
// token's place back afterwards. It joins the domains that must not import
// each other (queue, booking and payment) and decides which of their
// refusals a user is told first.
package checkout

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/queue"
)

// ErrUserMismatch: the request names another user than its token's.
var ErrUserMismatch = errors.New("checkout: user does not match the token")

// Queue is what checkout needs of the waiting line (*queue.Queue).
type Queue interface {
	// Admitted returns when t's admission lapses; queue.ErrTokenExpired,
	// a *queue.NotAdmittedError, queue.ErrUnavailable.
	Admitted(ctx context.Context, t queue.Token) (time.Time, error)
	// ActiveEntry names t's entry among the admitted, for a hold's gate.
	ActiveEntry(t queue.Token) (key, member string)
	// Release frees t's place among the admitted.
	Release(ctx context.Context, t queue.Token) error
}

// Booking is what checkout needs of the seat holds (*booking.Service).
type Booking interface {
	Hold(ctx context.Context, concertID int64, userID, date string, seat int, gate ...booking.Gate) (booking.Hold, error)
}

// Payment is what checkout needs of payment (*payment.Service).
type Payment interface {
	Pay(ctx context.Context, r payment.Request) (payment.Receipt, error)
	Replay(ctx context.Context, r payment.Request) (payment.Receipt, bool, error)
}

// Service runs the steps of a checkout. It is safe for concurrent use.
type Service struct {
	queue   Queue
	booking Booking
	payment Payment
	log     *slog.Logger
}

// New returns a Service on the three domains; log (nil: slog.Default) gets
// the failures a user is not told about.
func New(q Queue, b Booking, p Payment, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{queue: q, booking: b, payment: p, log: log}
}

// HoldRequest asks to hold a seat of a date of the token's concert.
type HoldRequest struct {
	UserID string
	Date   string // YYYY-MM-DD
	Seat   int
}

// Hold holds the seat for the token's user, only while the token is
// admitted: the admission is checked inside the hold's own atomic step. A
// token admitted between that check and its answer (the gate said closed,
// the queue says admitted) is held again once.
//
// Errors: as Refusal decides, of ErrUserMismatch, booking's refusals
// (ErrDateNotFound, ErrSeatNotFound, ErrSeatTaken, ErrHoldLimit) and
// ErrUnavailable, and the queue's (ErrTokenExpired, *NotAdmittedError,
// ErrUnavailable).
func (s *Service) Hold(ctx context.Context, t queue.Token, r HoldRequest) (booking.Hold, error) {
	if t.UserID != r.UserID {
		return booking.Hold{}, s.Refusal(ctx, t, ErrUserMismatch)
	}
	key, member := s.queue.ActiveEntry(t)
	gate := booking.Gate{Key: key, Member: member}
	h, err := s.booking.Hold(ctx, t.ConcertID, r.UserID, r.Date, r.Seat, gate)
	if errors.Is(err, booking.ErrGateClosed) {
		if _, aerr := s.queue.Admitted(ctx, t); aerr != nil {
			return booking.Hold{}, aerr
		}
		h, err = s.booking.Hold(ctx, t.ConcertID, r.UserID, r.Date, r.Seat, gate)
	}
	if err != nil {
		return booking.Hold{}, s.Refusal(ctx, t, err)
	}
	return h, nil
}

// Refusal returns the error to tell the user of a hold request that failed
// with err, whether in checkout or before it (a malformed request): a token
// that may not hold anything is told so first (401 or 403 on every route
// for admitted users), unless err is itself final whatever the token
// (the seat is taken, the user holds the most allowed) or a store is
// unavailable, where the extra check would only wait on it again.
func (s *Service) Refusal(ctx context.Context, t queue.Token, err error) error {
	if errors.Is(err, booking.ErrSeatTaken) || errors.Is(err, booking.ErrHoldLimit) ||
		errors.Is(err, booking.ErrUnavailable) || errors.Is(err, queue.ErrUnavailable) {
		return err
	}
	if _, aerr := s.queue.Admitted(ctx, t); aerr != nil {
		return aerr
	}
	return err
}

// Pay pays for a hold of the token's user, all or nothing, and then
// releases the token so its place goes to the next in line. The token must
// be admitted, except for a retry: with an Idempotency-Key, a request whose
// token was released (by the very payment it retries) or lapsed gets the
// stored answer.
//
// A replayed answer has no side effect: nothing is paid and no token is
// released, so a retry carrying a newer token of the same user leaves that
// token admitted.
//
// Errors: ErrUserMismatch; the queue's (ErrTokenExpired, *NotAdmittedError,
// ErrUnavailable); payment's (see payment.Service.Pay).
func (s *Service) Pay(ctx context.Context, t queue.Token, req payment.Request) (payment.Receipt, error) {
	if t.UserID != req.UserID {
		return payment.Receipt{}, ErrUserMismatch
	}
	req.ConcertID = t.ConcertID
	if _, err := s.queue.Admitted(ctx, t); err != nil {
		if req.IdempotencyKey == "" || !errors.Is(err, queue.ErrTokenExpired) {
			return payment.Receipt{}, err
		}
		stored, found, rerr := s.payment.Replay(ctx, req)
		if rerr != nil {
			return payment.Receipt{}, rerr
		}
		if !found {
			return payment.Receipt{}, err
		}
		return stored, nil
	}
	receipt, err := s.payment.Pay(ctx, req)
	if err != nil || receipt.Replayed {
		return receipt, err
	}
	if err := s.queue.Release(ctx, t); err != nil {
		// The sale stands; the place lapses by itself at its active TTL.
		s.log.WarnContext(ctx, "release after payment", "token_id", t.Seq, "err", err)
	}
	return receipt, nil
}
