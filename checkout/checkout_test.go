package checkout_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/checkout"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/queue"
)

// line is a whole replica on the real Redis and Postgres (concert 1: 2 dates
// from tomorrow, 20 seats at 1,000 won), driven through its checkout.
type line struct {
	*gatewaytest.Replica
	ctx context.Context
}

func newLine(t *testing.T) *line {
	t.Helper()
	r := gatewaytest.New(t, 2, 20, 1000, nil)
	l := &line{Replica: r, ctx: context.Background()}
	rate := 1000.0
	if _, err := r.Queue.UpdateSettings(l.ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	return l
}

// enter puts user in line and returns the token's claims, still waiting.
func (l *line) enter(t *testing.T, user string) queue.Token {
	t.Helper()
	tk, err := l.Queue.Enter(l.ctx, 1, user)
	if err != nil {
		t.Fatalf("enter %s: %v", user, err)
	}
	return tk.Claims
}

// admitted enters user and runs admission until the token is active.
func (l *line) admitted(t *testing.T, user string) queue.Token {
	t.Helper()
	tk := l.enter(t, user)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := l.Queue.Admit(l.ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Queue.Admitted(l.ctx, tk); err == nil {
			return tk
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not admitted within 10s", user)
		}
		time.Sleep(5 * time.Millisecond) // the bucket refills with time
	}
}

func (l *line) day(n int) string { return time.Now().AddDate(0, 0, n).Format(booking.DateLayout) }

func (l *line) hold(t *testing.T, tk queue.Token, seat int) booking.Hold {
	t.Helper()
	h, err := l.Checkout.Hold(l.ctx, tk, checkout.HoldRequest{UserID: tk.UserID, Date: l.day(1), Seat: seat})
	if err != nil {
		t.Fatalf("hold seat %d for %s: %v", seat, tk.UserID, err)
	}
	return h
}

func (l *line) charge(t *testing.T, user string, amount int64) {
	t.Helper()
	if _, err := l.Payment.Charge(l.ctx, user, amount); err != nil {
		t.Fatal(err)
	}
}

func (l *line) balance(t *testing.T, user string) int64 {
	t.Helper()
	b, err := l.Payment.Balance(l.ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func payFor(h booking.Hold, key string) payment.Request {
	return payment.Request{UserID: h.UserID, ReservationID: h.ID, Amount: h.Price, IdempotencyKey: key}
}

func TestHoldNeedsAnAdmittedTokenOfTheSameUser(t *testing.T) {
	l := newLine(t)
	ann := l.admitted(t, "ann")
	t.Run("OK", func(t *testing.T) {
		h := l.hold(t, ann, 1)
		if h.UserID != "ann" || h.Seat != 1 || h.Date != l.day(1) || h.Price != 1000 {
			t.Fatalf("hold = %+v", h)
		}
	})
	t.Run("ErrUserMismatch", func(t *testing.T) {
		_, err := l.Checkout.Hold(l.ctx, ann, checkout.HoldRequest{UserID: "bob", Date: l.day(1), Seat: 2})
		if !errors.Is(err, checkout.ErrUserMismatch) {
			t.Fatalf("err = %v, want ErrUserMismatch", err)
		}
	})
	t.Run("ErrNotAdmitted", func(t *testing.T) {
		paused := true
		if _, err := l.Queue.UpdateSettings(l.ctx, 1, queue.SettingsPatch{Paused: &paused}); err != nil {
			t.Fatal(err)
		}
		waiting := l.enter(t, "cy")
		// The token's refusal wins over the request's: a mismatched user, an
		// unknown date or seat.
		for _, r := range []checkout.HoldRequest{
			{UserID: "cy", Date: l.day(1), Seat: 3},
			{UserID: "someone-else", Date: l.day(1), Seat: 3},
			{UserID: "cy", Date: "2001-01-01", Seat: 3},
			{UserID: "cy", Date: l.day(1), Seat: 999},
		} {
			_, err := l.Checkout.Hold(l.ctx, waiting, r)
			var na *queue.NotAdmittedError
			if !errors.As(err, &na) || na.Position != 1 {
				t.Errorf("%+v: err = %v, want not admitted at position 1", r, err)
			}
		}
		if err := l.Checkout.Refusal(l.ctx, waiting, errors.New("malformed request")); !errors.Is(err, queue.ErrNotAdmitted) {
			t.Errorf("Refusal of a malformed request = %v, want ErrNotAdmitted", err)
		}
		// The hold checks the gate before the seat: a taken seat too.
		if _, err := l.Checkout.Hold(l.ctx, waiting, checkout.HoldRequest{UserID: "cy", Date: l.day(1), Seat: 1}); !errors.Is(err, queue.ErrNotAdmitted) {
			t.Errorf("seat held by ann: err = %v, want ErrNotAdmitted", err)
		}
	})
	t.Run("ErrTokenExpired", func(t *testing.T) {
		if err := l.Queue.Release(l.ctx, ann); err != nil {
			t.Fatal(err)
		}
		_, err := l.Checkout.Hold(l.ctx, ann, checkout.HoldRequest{UserID: "ann", Date: l.day(1), Seat: 4})
		if !errors.Is(err, queue.ErrTokenExpired) {
			t.Fatalf("err = %v, want ErrTokenExpired", err)
		}
	})
}

func TestPayReleasesTheTokenThatPaid(t *testing.T) {
	l := newLine(t)
	ann := l.admitted(t, "ann")
	l.charge(t, "ann", 5000)
	h := l.hold(t, ann, 1)
	r, err := l.Checkout.Pay(l.ctx, ann, payFor(h, ""))
	if err != nil {
		t.Fatal(err)
	}
	if r.Replayed || r.ReservationID != h.ID || r.Balance != 4000 {
		t.Fatalf("receipt = %+v", r)
	}
	if _, err := l.Queue.Admitted(l.ctx, ann); !errors.Is(err, queue.ErrTokenExpired) {
		t.Fatalf("token after paying: %v, want ErrTokenExpired (released)", err)
	}
	// Without a key a released token is just expired.
	if _, err := l.Checkout.Pay(l.ctx, ann, payFor(h, "")); !errors.Is(err, queue.ErrTokenExpired) {
		t.Fatalf("paying again without a key: %v, want ErrTokenExpired", err)
	}
}

func TestPayRefusesAMismatchedUserAndAWaitingToken(t *testing.T) {
	l := newLine(t)
	ann := l.admitted(t, "ann")
	l.charge(t, "ann", 5000)
	h := l.hold(t, ann, 1)
	req := payFor(h, "k")
	req.UserID = "bob"
	if _, err := l.Checkout.Pay(l.ctx, ann, req); !errors.Is(err, checkout.ErrUserMismatch) {
		t.Fatalf("err = %v, want ErrUserMismatch", err)
	}
	paused := true
	if _, err := l.Queue.UpdateSettings(l.ctx, 1, queue.SettingsPatch{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	bob := l.enter(t, "bob")
	if _, err := l.Checkout.Pay(l.ctx, bob, payment.Request{UserID: "bob", ReservationID: h.ID, Amount: h.Price, IdempotencyKey: "k"}); !errors.Is(err, queue.ErrNotAdmitted) {
		t.Fatalf("waiting token: err = %v, want ErrNotAdmitted", err)
	}
	if got := l.balance(t, "ann"); got != 5000 {
		t.Fatalf("ann's balance = %d, want 5000 (nothing paid)", got)
	}
}

// TestReplayWithANewerTokenReleasesNothing: a retry of a paid request, sent
// with the user's next token, gets the stored receipt and leaves that token
// admitted, however many retries run at once.
func TestReplayWithANewerTokenReleasesNothing(t *testing.T) {
	l := newLine(t)
	t1 := l.admitted(t, "ann")
	l.charge(t, "ann", 5000)
	h := l.hold(t, t1, 1)
	first, err := l.Checkout.Pay(l.ctx, t1, payFor(h, "order-1"))
	if err != nil {
		t.Fatal(err)
	}
	t2 := l.admitted(t, "ann")
	if t2.Seq == t1.Seq {
		t.Fatal("entering again returned the released token")
	}
	const retries = 16
	receipts := make([]payment.Receipt, retries)
	errs := make([]error, retries)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range retries {
		wg.Go(func() {
			<-start
			receipts[i], errs[i] = l.Checkout.Pay(l.ctx, t2, payFor(h, "order-1"))
		})
	}
	close(start)
	wg.Wait()
	want := first
	want.Replayed = true
	for i := range retries {
		if errs[i] != nil || receipts[i] != want {
			t.Errorf("retry %d = %+v, %v; want the first receipt %+v replayed", i, receipts[i], errs[i], want)
		}
	}
	if _, err := l.Queue.Admitted(l.ctx, t2); err != nil {
		t.Fatalf("the newer token after the retries: %v, want still admitted", err)
	}
	if got := l.balance(t, "ann"); got != 4000 {
		t.Fatalf("balance = %d, want 4000 (one debit)", got)
	}
	// The newer token still works: it holds and pays another seat.
	h2 := l.hold(t, t2, 2)
	if r, err := l.Checkout.Pay(l.ctx, t2, payFor(h2, "order-2")); err != nil || r.Replayed {
		t.Fatalf("paying a second seat with the newer token = %+v, %v", r, err)
	}
}

// TestReplayAfterReleaseAnswersTheStoredOutcome: the token that paid is
// released, yet its retries learn what the payment got, refusals included.
func TestReplayAfterReleaseAnswersTheStoredOutcome(t *testing.T) {
	l := newLine(t)
	ann := l.admitted(t, "ann")
	l.charge(t, "ann", 5000)
	h := l.hold(t, ann, 1)
	first, err := l.Checkout.Pay(l.ctx, ann, payFor(h, "order-1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Checkout.Pay(l.ctx, ann, payFor(h, "order-1"))
	if err != nil || !again.Replayed || again.PaymentID != first.PaymentID {
		t.Fatalf("retry after release = %+v, %v; want %+v replayed", again, err, first)
	}
	other := payFor(h, "order-1")
	other.Amount++
	if _, err := l.Checkout.Pay(l.ctx, ann, other); !errors.Is(err, payment.ErrIdempotencyConflict) {
		t.Fatalf("same key, other request: %v, want ErrIdempotencyConflict", err)
	}
	if _, err := l.Checkout.Pay(l.ctx, ann, payFor(h, "never-used")); !errors.Is(err, queue.ErrTokenExpired) {
		t.Fatalf("unknown key after release: %v, want ErrTokenExpired", err)
	}
}

// TestConcurrentHoldsOfOneSeatHaveOneWinner drives the gate and the hold
// together from many admitted users.
func TestConcurrentHoldsOfOneSeatHaveOneWinner(t *testing.T) {
	l := newLine(t)
	const users = 24
	tokens := make([]queue.Token, users)
	for i := range tokens {
		tokens[i] = l.admitted(t, fmt.Sprintf("u%d", i))
	}
	errs := make([]error, users)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range users {
		wg.Go(func() {
			<-start
			_, errs[i] = l.Checkout.Hold(l.ctx, tokens[i], checkout.HoldRequest{UserID: tokens[i].UserID, Date: l.day(2), Seat: 7})
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, booking.ErrSeatTaken):
			t.Errorf("user %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d holds of one seat, want 1", won)
	}
}
