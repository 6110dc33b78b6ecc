package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/payment/paymentdb"
	"github.com/rushgate/rushgate/userid"
)

// Config configures a Service.
type Config struct {
	// Now stamps charges, payments and sales; nil means time.Now.
	Now func() time.Time
	// Logger receives what a caller cannot be told (a sold seat whose Redis
	// cache could not be updated); nil means slog.Default().
	Logger *slog.Logger
}

// Service keeps balances and pays for holds. Postgres is the source of
// truth; a payment's debit, sale, PayHistory row and idempotency record are
// one transaction. It is safe for concurrent use.
type Service struct {
	db    *sqlx.DB
	holds Holds
	now   func() time.Time
	log   *slog.Logger
}

// cleanupTimeout bounds the Redis calls that end a claim. They run even when
// the caller's context is done: a claim left behind would block the hold
// until it lapses, and a sale not told to Redis leaves its cache stale.
const cleanupTimeout = 3 * time.Second

// NewService returns a Service on db whose holds are paid through holds.
func NewService(db *sqlx.DB, holds Holds, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{db: db, holds: holds, now: cfg.Now, log: cfg.Logger}
}

// Balance returns the balance of userID. ErrUserNotFound when the user never
// charged (a refused payment does not create the user); ErrInvalidUserID;
// ErrUnavailable.
func (s *Service) Balance(ctx context.Context, userID string) (int64, error) {
	if !userid.Valid(userID) {
		return 0, ErrInvalidUserID
	}
	pay, err := within(ctx, func() (int64, error) { return paymentdb.NewUsers(s.db).Balance(ctx, userID) })
	if errors.Is(err, paymentdb.ErrNotFound) {
		return 0, ErrUserNotFound
	}
	if err != nil {
		return 0, storeError(err)
	}
	return pay, nil
}

// Charge adds amount to the balance of userID, creating the user on first
// sight, and returns the new balance. Concurrent charges never lose an
// update, and every charge is in the ledger. ErrInvalidAmount when amount is
// outside MinAmount…MaxAmount or the balance would pass MaxBalance (nothing
// is charged); ErrInvalidUserID; ErrUnavailable, also as soon as ctx ends
// — then the one-statement charge either applied in full or not at all, and
// the caller cannot tell which (the contract has no idempotency key for
// top-ups): Balance tells.
func (s *Service) Charge(ctx context.Context, userID string, amount int64) (int64, error) {
	if !userid.Valid(userID) {
		return 0, ErrInvalidUserID
	}
	if !ValidAmount(amount) {
		return 0, ErrInvalidAmount
	}
	pay, err := within(ctx, func() (int64, error) {
		return paymentdb.NewUsers(s.db).Charge(ctx, userID, amount, MaxBalance, s.now())
	})
	if errors.Is(err, paymentdb.ErrBalanceCap) {
		return 0, fmt.Errorf("%w: the balance would pass %d", ErrInvalidAmount, int64(MaxBalance))
	}
	if err != nil {
		return 0, storeError(err)
	}
	return pay, nil
}

// Pay pays for a hold, all or nothing: the balance is debited, the seat sold
// and a COMPLETED PayHistory row written in one transaction, or nothing
// changes. A seat is never sold twice and a hold never paid twice.
//
// Errors: ErrInvalidUserID, ErrInvalidAmount, ErrInvalidIdempotencyKey;
// ErrReservationNotFound (no such hold, or another user's), ErrHoldExpired,
// ErrAlreadyPaid, ErrAmountMismatch (the hold stays); ErrInsufficientBalance
// (a FAILED PayHistory row is written, nothing else changes, the hold stays);
// ErrPaymentInProgress (a concurrent payment of the hold is running);
// ErrIdempotencyConflict; ErrUnavailable (nothing charged, the hold intact
// — except when ctx ends while the transaction is in flight: see below).
//
// With an IdempotencyKey, the answer to the first request is stored and a
// retry of the same request by the same user gets it again with
// Receipt.Replayed set, even after the hold is gone. Stored answers are
// success and the final refusals that a retry cannot change
// (ErrAmountMismatch, ErrReservationNotFound, ErrHoldExpired,
// ErrAlreadyPaid). ErrInsufficientBalance is not stored, because the hold
// stays and the contract invites a top-up and a retry; ErrPaymentInProgress,
// ErrUnavailable and internal errors are not stored, being transient.
//
// Pay returns by the time ctx ends, whatever the network does. If ctx ends
// first the answer is ErrUnavailable while the payment finishes in the
// background, all or nothing, and ends its claim itself; a retry then learns
// the outcome (the receipt under the same Idempotency-Key, or
// ErrAlreadyPaid, or a fresh attempt if it rolled back).
func (s *Service) Pay(ctx context.Context, req Request) (Receipt, error) {
	if err := validate(req); err != nil {
		return Receipt{}, err
	}
	return within(ctx, func() (Receipt, error) { return s.pay(ctx, req) })
}

func (s *Service) pay(ctx context.Context, req Request) (Receipt, error) {
	idem := newIdempotency(req)
	if idem.on() {
		if r, found, err := s.replay(ctx, idem); found {
			return r, err
		}
	}

	hold, err := s.holds.Claim(ctx, req.ConcertID, req.ReservationID, req.UserID)
	if err != nil {
		err = s.claimError(ctx, req, err)
		if idem.on() {
			// A twin request with the same key may have finished since the
			// lookup: its answer wins (for instance a success, where this
			// claim saw the hold already sold).
			if r, found, rerr := s.replay(ctx, idem); found {
				return r, rerr
			}
		}
		return s.refuse(ctx, idem, err)
	}

	r, err := s.payClaimed(ctx, req, hold, idem)
	if err != nil {
		s.unclaim(ctx, hold)
		if errors.Is(err, errReplay) {
			// Another request with the same key committed first.
			r, _, err = s.replay(ctx, idem)
			return r, err
		}
		return s.refuse(ctx, idem, err)
	}
	s.sold(ctx, hold)
	return r, nil
}

// errReplay: the idempotency record was written by a concurrent request.
var errReplay = errors.New("payment: idempotency record written concurrently")

// payClaimed runs the transaction of a claimed hold. On any error nothing is
// committed (except after a failed commit, whose outcome is unknown: the
// constraints then keep a retry from selling or charging twice) and the
// caller gives the claim back.
func (s *Service) payClaimed(ctx context.Context, req Request, hold Hold, idem idempotency) (Receipt, error) {
	if req.Amount != hold.Price {
		return Receipt{}, ErrAmountMismatch
	}
	tx, err := paymentdb.Begin(ctx, s.db)
	if err != nil {
		return Receipt{}, storeError(err)
	}
	defer tx.Rollback() // a no-op after Commit

	now := s.now()
	debit, err := paymentdb.NewUsers(tx).Debit(ctx, req.UserID, hold.Price)
	if errors.Is(err, paymentdb.ErrInsufficientFunds) {
		// The FAILED row is written outside the transaction, which only
		// held the debit's row lock: release it first.
		tx.Rollback()
		if _, err := paymentdb.NewHistory(s.db).Failed(ctx, req.UserID, hold.ReservationID, hold.Price, now); err != nil {
			return Receipt{}, storeError(err)
		}
		return Receipt{}, ErrInsufficientBalance
	}
	if err != nil {
		return Receipt{}, storeError(err)
	}

	err = paymentdb.NewSales(tx).Insert(ctx, paymentdb.Sale{
		ReservationID: hold.ReservationID,
		ConcertID:     hold.ConcertID,
		Date:          hold.Date,
		Seat:          hold.Seat,
		UserSeq:       debit.UserSeq,
		Price:         hold.Price,
		At:            now,
	})
	if errors.Is(err, paymentdb.ErrSeatSold) {
		return Receipt{}, ErrAlreadyPaid
	}
	if errors.Is(err, paymentdb.ErrUnknownSeat) {
		return Receipt{}, fmt.Errorf("payment: hold %d names %s seat %d, which concert %d lacks: %w",
			hold.ReservationID, hold.Date, hold.Seat, hold.ConcertID, err)
	}
	if err != nil {
		return Receipt{}, storeError(err)
	}

	paymentID, err := paymentdb.NewHistory(tx).Completed(ctx, debit.UserSeq, hold.ReservationID, hold.Price, now)
	if errors.Is(err, paymentdb.ErrSeatSold) {
		return Receipt{}, ErrAlreadyPaid
	}
	if err != nil {
		return Receipt{}, storeError(err)
	}

	r := Receipt{
		PaymentID:       paymentID,
		ReservationID:   hold.ReservationID,
		ReservationDate: hold.Date,
		ReservationSeat: hold.Seat,
		Amount:          hold.Price,
		Status:          StatusCompleted,
		Balance:         debit.Balance,
	}
	if idem.on() {
		err := paymentdb.NewIdempotency(tx).Put(ctx, idem.record(answerOf(r), now))
		if errors.Is(err, paymentdb.ErrKeyTaken) {
			return Receipt{}, errReplay
		}
		if err != nil {
			return Receipt{}, storeError(err)
		}
	}
	if err := paymentdb.Commit(tx); err != nil {
		return Receipt{}, storeError(err)
	}
	return r, nil
}

// claimError refines a failed claim. A hold that is gone may be gone because
// this user paid it (booking may forget paid holds): the sale in Postgres
// tells, and the answer is then ErrAlreadyPaid.
func (s *Service) claimError(ctx context.Context, req Request, err error) error {
	if !errors.Is(err, ErrReservationNotFound) {
		return err
	}
	buyer, berr := paymentdb.NewSales(s.db).Buyer(ctx, req.ConcertID, req.ReservationID)
	if berr == nil && buyer == req.UserID {
		return ErrAlreadyPaid
	}
	return err
}

// refuse stores a final refusal under the request's Idempotency-Key and
// returns it; when a concurrent request stored its answer first, that answer
// is returned instead.
func (s *Service) refuse(ctx context.Context, idem idempotency, err error) (Receipt, error) {
	a, final := answerOfError(err)
	if !idem.on() || !final {
		return Receipt{}, err
	}
	perr := paymentdb.NewIdempotency(s.db).Put(ctx, idem.record(a, s.now()))
	if errors.Is(perr, paymentdb.ErrKeyTaken) {
		if r, found, rerr := s.replay(ctx, idem); found {
			return r, rerr
		}
	} else if perr != nil {
		// The refusal stands; a retry will simply decide afresh.
		s.log.WarnContext(ctx, "payment: idempotency record of a refusal not stored", "err", perr)
	}
	return Receipt{}, err
}

// replay returns the stored answer of the request's key, if any: the stored
// receipt (Replayed) or refusal, or ErrIdempotencyConflict when the key was
// used for another request. found is false when there is no record; a
// failed lookup is found, with its error.
func (s *Service) replay(ctx context.Context, idem idempotency) (r Receipt, found bool, err error) {
	rec, err := paymentdb.NewIdempotency(s.db).Get(ctx, idem.userID, idem.key)
	if errors.Is(err, paymentdb.ErrNotFound) {
		return Receipt{}, false, nil
	}
	if err != nil {
		return Receipt{}, true, storeError(err)
	}
	if rec.RequestHash != idem.hash {
		return Receipt{}, true, ErrIdempotencyConflict
	}
	r, err = replayAnswer(rec.Response)
	return r, true, err
}

func (s *Service) unclaim(ctx context.Context, h Hold) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.holds.Unclaim(ctx, h.ConcertID, h.ReservationID); err != nil {
		s.log.WarnContext(ctx, "payment: claim not returned; the hold is blocked until it lapses",
			"concert", h.ConcertID, "reservation", h.ReservationID, "err", err)
	}
}

func (s *Service) sold(ctx context.Context, h Hold) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.holds.Sold(ctx, h.ConcertID, h.ReservationID); err != nil {
		// The sale stands in Postgres, and the sold cache is rebuilt from it.
		s.log.ErrorContext(ctx, "payment: paid hold not marked sold in the hold store",
			"concert", h.ConcertID, "reservation", h.ReservationID, "err", err)
	}
}

func validate(req Request) error {
	switch {
	case !userid.Valid(req.UserID):
		return ErrInvalidUserID
	case !ValidAmount(req.Amount):
		return ErrInvalidAmount
	case req.IdempotencyKey != "" && !ValidIdempotencyKey(req.IdempotencyKey):
		return ErrInvalidIdempotencyKey
	}
	return nil
}

// within runs f and returns its answer, or ErrUnavailable as soon as ctx
// ends, leaving f to finish in the background. lib/pq cannot interrupt a read
// blocked on a silent network (it asks the server to cancel, over that same
// network), so without this a partition would hold the caller long past its
// deadline. f must clean up after itself, and does: the claim is ended by the
// goroutine that made it, and an open transaction rolls back when its
// connection fails.
func within[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		select {
		case r := <-done: // finished at the deadline: its answer is better
			return r.v, r.err
		default:
		}
		var zero T
		return zero, fmt.Errorf("%w: %w", ErrUnavailable, context.Cause(ctx))
	}
}

// storeError turns a store failure into ErrUnavailable when Postgres could
// not be reached, and keeps anything else as an internal error.
func storeError(err error) error {
	if errors.Is(err, paymentdb.ErrUnavailable) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("payment: %w", err)
}
