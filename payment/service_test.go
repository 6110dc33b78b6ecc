package payment_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/payment/paymentdb"
)

// Holds is a payment.Holds of function fields, for the unit-level error
// mapping of Pay; invariants are tested on the real booking service in
// checkout.
type Holds struct {
	ClaimFn   func(ctx context.Context, concertID, reservationID int64, userID string) (payment.Hold, error)
	UnclaimFn func(ctx context.Context, concertID, reservationID int64) error
	SoldFn    func(ctx context.Context, concertID, reservationID int64) error

	mu                     sync.Mutex
	claims, unclaims, sold int
}

var _ payment.Holds = (*Holds)(nil)

func (h *Holds) Claim(ctx context.Context, concertID, reservationID int64, userID string) (payment.Hold, error) {
	h.mu.Lock()
	h.claims++
	h.mu.Unlock()
	return h.ClaimFn(ctx, concertID, reservationID, userID)
}

func (h *Holds) Unclaim(ctx context.Context, concertID, reservationID int64) error {
	h.mu.Lock()
	h.unclaims++
	h.mu.Unlock()
	if h.UnclaimFn == nil {
		return nil
	}
	return h.UnclaimFn(ctx, concertID, reservationID)
}

func (h *Holds) Sold(ctx context.Context, concertID, reservationID int64) error {
	h.mu.Lock()
	h.sold++
	h.mu.Unlock()
	if h.SoldFn == nil {
		return nil
	}
	return h.SoldFn(ctx, concertID, reservationID)
}

func (h *Holds) counts() (claims, unclaims, sold int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.claims, h.unclaims, h.sold
}

// seatHold is the hold of seat 1 of 2030-01-02 by ann, priced 1000, as the
// catalogue of newDB has it.
var seatHold = payment.Hold{ReservationID: 7, ConcertID: 1, UserID: "ann", Date: "2030-01-02", Seat: 1, Price: 1000,
	ExpiresAt: time.Date(2030, 1, 1, 0, 5, 0, 0, time.UTC)}

// claimAs returns a ClaimFn that hands out h to its owner.
func claimAs(h payment.Hold) func(context.Context, int64, int64, string) (payment.Hold, error) {
	return func(_ context.Context, concertID, id int64, user string) (payment.Hold, error) {
		if concertID != h.ConcertID || id != h.ReservationID || user != h.UserID {
			return payment.Hold{}, payment.ErrReservationNotFound
		}
		return h, nil
	}
}

// newDB returns a migrated database with concert 1 of one date, 2030-01-02,
// of seats 1…3 at 1000, and checks the ledger when the test ends.
func newDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db, _ := testenv.Postgres(t)
	db.MustExec(`INSERT INTO concerts (concert_id, name) VALUES (1, 'c')`)
	db.MustExec(`INSERT INTO concert_dates (date_id, concert_id, concert_date) VALUES (1, 1, '2030-01-02')`)
	db.MustExec(`INSERT INTO seats (date_id, seat_number, price) VALUES (1, 1, 1000), (1, 2, 1000), (1, 3, 1000)`)
	t.Cleanup(func() { checkLedger(t, db) })
	return db
}

func checkLedger(t *testing.T, db *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	l, err := paymentdb.Audit(ctx, db)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	if !l.Balanced() {
		t.Errorf("ledger not balanced: %+v", l)
	}
	i, err := paymentdb.CheckIntegrity(ctx, db)
	if err != nil {
		t.Fatalf("integrity: %v", err)
	}
	if !i.OK() {
		t.Errorf("integrity: %+v", i)
	}
}

func count(t *testing.T, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentChargesNeverLoseAnUpdate(t *testing.T) {
	db := newDB(t)
	svc := payment.NewService(db, &Holds{}, payment.Config{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 200 {
		wg.Go(func() {
			if _, err := svc.Charge(ctx, "ann", 700); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("charge: %v", err)
	}
	if got, err := svc.Balance(ctx, "ann"); err != nil || got != 140_000 {
		t.Fatalf("Balance = %d, %v; want 140000", got, err)
	}
	if got, want := count(t, db, `SELECT count(*) FROM charges`), 200; got != want {
		t.Fatalf("charges rows = %d, want %d", got, want)
	}
}

func TestChargeReturnsTheNewBalance(t *testing.T) {
	db := newDB(t)
	svc := payment.NewService(db, &Holds{}, payment.Config{})
	ctx := context.Background()
	if _, err := svc.Balance(ctx, "ann"); !errors.Is(err, payment.ErrUserNotFound) {
		t.Fatalf("Balance before any charge: err = %v, want ErrUserNotFound", err)
	}
	for i, want := range []int64{5000, 10000, 10001} {
		amount := []int64{5000, 5000, 1}[i]
		if got, err := svc.Charge(ctx, "ann", amount); err != nil || got != want {
			t.Fatalf("charge %d = %d, %v; want %d", amount, got, err, want)
		}
	}
}

func TestChargeRejectsInvalidRequests(t *testing.T) {
	db := newDB(t)
	svc := payment.NewService(db, &Holds{}, payment.Config{})
	for _, tc := range []struct {
		name   string
		user   string
		amount int64
		want   error
	}{
		{"ZeroAmount", "ann", 0, payment.ErrInvalidAmount},
		{"NegativeAmount", "ann", -5, payment.ErrInvalidAmount},
		{"AmountAboveTheMaximum", "ann", payment.MaxAmount + 1, payment.ErrInvalidAmount},
		{"EmptyUserID", "", 100, payment.ErrInvalidUserID},
		{"UserIDWithASpace", "a b", 100, payment.ErrInvalidUserID},
		{"UserIDTooLong", strings.Repeat("a", 65), 100, payment.ErrInvalidUserID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := svc.Charge(context.Background(), tc.user, tc.amount); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if got, want := count(t, db, `SELECT count(*) FROM users`), 0; got != want {
		t.Fatalf("users = %d, want %d", got, want)
	}
}

func TestChargePastMaxBalanceIsInvalidAndChangesNothing(t *testing.T) {
	db := newDB(t)
	svc := payment.NewService(db, &Holds{}, payment.Config{})
	ctx := context.Background()
	// Reaching the cap by charges would take ten million of them.
	db.MustExec(`INSERT INTO users (user_id, pay) VALUES ('ann', $1)`, payment.MaxBalance-100)
	db.MustExec(`INSERT INTO charges (user_seq, amount) SELECT user_seq, pay FROM users`)
	if _, err := svc.Charge(ctx, "ann", 101); !errors.Is(err, payment.ErrInvalidAmount) {
		t.Fatalf("charge past the cap: err = %v, want ErrInvalidAmount", err)
	}
	if got, err := svc.Charge(ctx, "ann", 100); err != nil || got != payment.MaxBalance {
		t.Fatalf("charge up to the cap = %d, %v; want %d", got, err, int64(payment.MaxBalance))
	}
}

func TestPayRejectsInvalidRequestsBeforeClaiming(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold)}
	svc := payment.NewService(db, holds, payment.Config{})
	ok := payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000}
	for _, tc := range []struct {
		name string
		edit func(*payment.Request)
		want error
	}{
		{"ZeroAmount", func(r *payment.Request) { r.Amount = 0 }, payment.ErrInvalidAmount},
		{"AmountAboveTheMaximum", func(r *payment.Request) { r.Amount = payment.MaxAmount + 1 }, payment.ErrInvalidAmount},
		{"BadUserID", func(r *payment.Request) { r.UserID = "ann!" }, payment.ErrInvalidUserID},
		{"KeyTooLong", func(r *payment.Request) { r.IdempotencyKey = strings.Repeat("k", 256) }, payment.ErrInvalidIdempotencyKey},
		{"KeyWithAControlCharacter", func(r *payment.Request) { r.IdempotencyKey = "a\nb" }, payment.ErrInvalidIdempotencyKey},
		{"KeyNotASCII", func(r *payment.Request) { r.IdempotencyKey = "clé" }, payment.ErrInvalidIdempotencyKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.edit(&req)
			if _, err := svc.Pay(context.Background(), req); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if claims, _, _ := holds.counts(); claims != 0 {
		t.Fatalf("Claim called %d times for invalid requests", claims)
	}
}

func TestPayPassesClaimRefusalsOnAndChargesNothing(t *testing.T) {
	for _, want := range []error{payment.ErrReservationNotFound, payment.ErrHoldExpired,
		payment.ErrAlreadyPaid, payment.ErrPaymentInProgress, payment.ErrUnavailable} {
		t.Run(want.Error(), func(t *testing.T) {
			db := newDB(t)
			holds := &Holds{ClaimFn: func(context.Context, int64, int64, string) (payment.Hold, error) {
				return payment.Hold{}, want
			}}
			svc := payment.NewService(db, holds, payment.Config{})
			ctx := context.Background()
			svc.Charge(ctx, "ann", 5000)
			_, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000})
			if !errors.Is(err, want) {
				t.Fatalf("err = %v, want %v", err, want)
			}
			if got, _ := svc.Balance(ctx, "ann"); got != 5000 {
				t.Fatalf("balance = %d, want 5000", got)
			}
			if _, unclaims, sold := holds.counts(); unclaims+sold != 0 {
				t.Fatalf("a refused claim was ended: %d unclaims, %d sold", unclaims, sold)
			}
		})
	}
}

func TestPayOfTheWrongAmountGivesTheClaimBack(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold)}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 5000)
	_, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 999})
	if !errors.Is(err, payment.ErrAmountMismatch) {
		t.Fatalf("err = %v, want ErrAmountMismatch", err)
	}
	if _, unclaims, sold := holds.counts(); unclaims != 1 || sold != 0 {
		t.Fatalf("unclaims, sold = %d, %d; want 1, 0", unclaims, sold)
	}
	if got, _ := svc.Balance(ctx, "ann"); got != 5000 {
		t.Fatalf("balance = %d, want 5000", got)
	}
	if got := count(t, db, `SELECT count(*) FROM pay_history`); got != 0 {
		t.Fatalf("pay_history rows = %d, want none", got)
	}
}

func TestPaySellsTheSeatAndMarksTheHoldSold(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold)}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 5000)
	r, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000})
	if err != nil {
		t.Fatal(err)
	}
	want := payment.Receipt{PaymentID: r.PaymentID, ReservationID: 7, ReservationDate: "2030-01-02",
		ReservationSeat: 1, Amount: 1000, Status: payment.StatusCompleted, Balance: 4000}
	if r != want || r.PaymentID == 0 {
		t.Fatalf("receipt = %+v, want %+v", r, want)
	}
	if _, unclaims, sold := holds.counts(); unclaims != 0 || sold != 1 {
		t.Fatalf("unclaims, sold = %d, %d; want 0, 1", unclaims, sold)
	}
	if got := count(t, db, `SELECT count(*) FROM reservations WHERE reservation_id = 7 AND NOT is_temporary`); got != 1 {
		t.Fatalf("confirmed reservations = %d, want 1", got)
	}
}

func TestPayStandsWhenMarkingTheHoldSoldFails(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold), SoldFn: func(context.Context, int64, int64) error {
		return errors.New("redis down")
	}}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 5000)
	if _, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000}); err != nil {
		t.Fatalf("err = %v, want the sale to stand", err)
	}
	if got, _ := svc.Balance(ctx, "ann"); got != 4000 {
		t.Fatalf("balance = %d, want 4000", got)
	}
}

func TestPayOfAHoldForgottenAfterItsSaleIsAlreadyPaid(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold)}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 5000)
	req := payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000}
	if _, err := svc.Pay(ctx, req); err != nil {
		t.Fatal(err)
	}
	holds.ClaimFn = func(context.Context, int64, int64, string) (payment.Hold, error) {
		return payment.Hold{}, payment.ErrReservationNotFound
	}
	if _, err := svc.Pay(ctx, req); !errors.Is(err, payment.ErrAlreadyPaid) {
		t.Fatalf("buyer: err = %v, want ErrAlreadyPaid", err)
	}
	other := req
	other.UserID = "bob"
	if _, err := svc.Pay(ctx, other); !errors.Is(err, payment.ErrReservationNotFound) {
		t.Fatalf("another user: err = %v, want ErrReservationNotFound", err)
	}
}

func TestPayOfASeatSoldBehindRedisBackIsAlreadyPaid(t *testing.T) {
	db := newDB(t)
	// Redis lost the sale (say, a flush) and handed the seat out again.
	again := seatHold
	again.ReservationID, again.UserID = 8, "bob"
	holds := &Holds{ClaimFn: func(ctx context.Context, c, id int64, u string) (payment.Hold, error) {
		if id == 8 {
			return claimAs(again)(ctx, c, id, u)
		}
		return claimAs(seatHold)(ctx, c, id, u)
	}}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 1000)
	svc.Charge(ctx, "bob", 1000)
	if _, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "bob", ReservationID: 8, Amount: 1000}); !errors.Is(err, payment.ErrAlreadyPaid) {
		t.Fatalf("err = %v, want ErrAlreadyPaid", err)
	}
	if got, _ := svc.Balance(ctx, "bob"); got != 1000 {
		t.Fatalf("bob's balance = %d, want 1000 (nothing charged)", got)
	}
	if _, unclaims, _ := holds.counts(); unclaims != 1 {
		t.Fatalf("unclaims = %d, want 1", unclaims)
	}
}

func TestPayWithoutABalanceRecordsAFailureAndKeepsTheHold(t *testing.T) {
	for _, tc := range []struct {
		name   string
		charge int64 // 0: the user never charged
	}{
		{"ShortBalance", 999},
		{"UserWhoNeverCharged", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newDB(t)
			holds := &Holds{ClaimFn: claimAs(seatHold)}
			svc := payment.NewService(db, holds, payment.Config{})
			ctx := context.Background()
			if tc.charge > 0 {
				svc.Charge(ctx, "ann", tc.charge)
			}
			_, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000})
			if !errors.Is(err, payment.ErrInsufficientBalance) {
				t.Fatalf("err = %v, want ErrInsufficientBalance", err)
			}
			if got, err := svc.Balance(ctx, "ann"); err != nil || got != tc.charge {
				t.Fatalf("balance = %d, %v; want %d", got, err, tc.charge)
			}
			if got := count(t, db, `SELECT count(*) FROM pay_history WHERE payment_status = 'FAILED' AND reservation_id = 7 AND amount = 1000`); got != 1 {
				t.Fatalf("FAILED rows = %d, want 1", got)
			}
			if got := count(t, db, `SELECT count(*) FROM reservations`); got != 0 {
				t.Fatalf("reservations = %d, want 0", got)
			}
			if _, unclaims, sold := holds.counts(); unclaims != 1 || sold != 0 {
				t.Fatalf("unclaims, sold = %d, %d; want 1, 0 (the hold stays)", unclaims, sold)
			}
		})
	}
}

func TestIdempotentRefusalsReplayAsTheSameError(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold)}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 5000)
	req := payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 999, IdempotencyKey: "k-1"}
	for i := range 2 {
		if _, err := svc.Pay(ctx, req); !errors.Is(err, payment.ErrAmountMismatch) {
			t.Fatalf("attempt %d: err = %v, want ErrAmountMismatch", i+1, err)
		}
	}
	if claims, _, _ := holds.counts(); claims != 1 {
		t.Fatalf("claims = %d, want 1 (the retry is answered from the record)", claims)
	}
	// The stored answer names the refusal; its HTTP status is the HTTP
	// layer's to derive, so payment stores none.
	var stored struct {
		Refusal string `db:"refusal"`
		Status  *int   `db:"status_code"`
	}
	if err := db.Get(&stored, `SELECT response->>'error' AS refusal, status_code FROM payment_idempotency
		WHERE user_id = 'ann' AND idempotency_key = 'k-1'`); err != nil {
		t.Fatal(err)
	}
	if got, want := stored.Refusal, "amount_mismatch"; got != want {
		t.Fatalf("stored refusal = %q, want %q", got, want)
	}
	if stored.Status != nil {
		t.Fatalf("stored status_code = %d, want none (HTTP is not payment's)", *stored.Status)
	}
}

func TestTransientRefusalsAreNotStored(t *testing.T) {
	for _, refusal := range []error{payment.ErrPaymentInProgress, payment.ErrUnavailable} {
		t.Run(refusal.Error(), func(t *testing.T) {
			db := newDB(t)
			holds := &Holds{ClaimFn: func(context.Context, int64, int64, string) (payment.Hold, error) {
				return payment.Hold{}, refusal
			}}
			svc := payment.NewService(db, holds, payment.Config{})
			ctx := context.Background()
			svc.Charge(ctx, "ann", 5000)
			req := payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000, IdempotencyKey: "k-1"}
			if _, err := svc.Pay(ctx, req); !errors.Is(err, refusal) {
				t.Fatalf("err = %v, want %v", err, refusal)
			}
			holds.ClaimFn = claimAs(seatHold)
			r, err := svc.Pay(ctx, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if r.Replayed {
				t.Fatal("the retry replayed a transient refusal's record")
			}
		})
	}
}

func TestInsufficientBalanceIsNotStoredSoATopUpAndRetrySucceeds(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold)}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	req := payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000, IdempotencyKey: "k-1"}
	if _, err := svc.Pay(ctx, req); !errors.Is(err, payment.ErrInsufficientBalance) {
		t.Fatalf("err = %v, want ErrInsufficientBalance", err)
	}
	svc.Charge(ctx, "ann", 1000)
	r, err := svc.Pay(ctx, req)
	if err != nil {
		t.Fatalf("retry after a top-up: %v", err)
	}
	if got, want := r.Balance, int64(0); got != want {
		t.Fatalf("balance = %d, want %d", got, want)
	}
	again, err := svc.Pay(ctx, req)
	if err != nil || !again.Replayed || again.PaymentID != r.PaymentID {
		t.Fatalf("second retry = %+v, %v; want the first receipt replayed", again, err)
	}
}

func TestPayStampsRowsWithTheConfiguredClock(t *testing.T) {
	db := newDB(t)
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	svc := payment.NewService(db, &Holds{ClaimFn: claimAs(seatHold)}, payment.Config{Now: func() time.Time { return at }})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 1000)
	if _, err := svc.Pay(ctx, payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000}); err != nil {
		t.Fatal(err)
	}
	var paid, confirmed, charged time.Time
	db.Get(&paid, `SELECT payment_time FROM pay_history`)
	db.Get(&confirmed, `SELECT confirmed_at FROM reservations`)
	db.Get(&charged, `SELECT charged_at FROM charges`)
	for name, got := range map[string]time.Time{"payment_time": paid, "confirmed_at": confirmed, "charged_at": charged} {
		if !got.Equal(at) {
			t.Errorf("%s = %v, want %v", name, got, at)
		}
	}
}

func TestReplayAnswersFromTheRecordWithoutPaying(t *testing.T) {
	db := newDB(t)
	holds := &Holds{ClaimFn: claimAs(seatHold)}
	svc := payment.NewService(db, holds, payment.Config{})
	ctx := context.Background()
	svc.Charge(ctx, "ann", 5000)
	req := payment.Request{ConcertID: 1, UserID: "ann", ReservationID: 7, Amount: 1000, IdempotencyKey: "k-1"}
	if _, found, err := svc.Replay(ctx, req); found || err != nil {
		t.Fatalf("before paying: found, err = %v, %v; want false, nil", found, err)
	}
	paid, err := svc.Pay(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		edit      func(*payment.Request)
		wantFound bool
		wantErr   error
	}{
		{"SameRequest", func(*payment.Request) {}, true, nil},
		{"AnotherAmount", func(r *payment.Request) { r.Amount = 999 }, true, payment.ErrIdempotencyConflict},
		{"AnotherKey", func(r *payment.Request) { r.IdempotencyKey = "k-2" }, false, nil},
		{"AnotherUser", func(r *payment.Request) { r.UserID = "bob" }, false, nil},
		{"NoKey", func(r *payment.Request) { r.IdempotencyKey = "" }, false, nil},
		{"BadKey", func(r *payment.Request) { r.IdempotencyKey = "\x00" }, false, payment.ErrInvalidIdempotencyKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			tc.edit(&r)
			got, found, err := svc.Replay(ctx, r)
			if found != tc.wantFound || !errors.Is(err, tc.wantErr) {
				t.Fatalf("found, err = %v, %v; want %v, %v", found, err, tc.wantFound, tc.wantErr)
			}
			if found && err == nil && (got.PaymentID != paid.PaymentID || !got.Replayed) {
				t.Fatalf("receipt = %+v, want the stored one of %+v", got, paid)
			}
		})
	}
	if claims, _, _ := holds.counts(); claims != 1 {
		t.Fatalf("claims = %d, want 1: Replay never pays", claims)
	}
}
