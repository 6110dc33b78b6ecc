package checkout_test

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/checkout"
	"github.com/rushgate/rushgate/internal/faultproxy"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/payment"
	"github.com/rushgate/rushgate/payment/paymentdb"
)

const (
	concert = 1
	price   = 1500
)

// rush is a concert of one date of 100 seats at 1,500 on the real Redis and
// Postgres, with the real booking service and a payment service on top.
type rush struct {
	db      *sqlx.DB
	dsn     string
	booking *booking.Service
	pay     *payment.Service
	day     string
}

// newRush seeds the concert and, when the test ends, checks that no money
// was created or lost and no seat sold twice.
func newRush(t *testing.T, cfg booking.Config) *rush {
	t.Helper()
	db, dsn := testenv.Postgres(t)
	rdb, keys := testenv.Redis(t)
	b := booking.NewService(db, rdb, keys, cfg)
	first := time.Now().AddDate(0, 0, 1)
	if _, err := b.Seed(context.Background(), 1, 100, price, first); err != nil {
		t.Fatalf("seed: %v", err)
	}
	r := &rush{db: db, dsn: dsn, booking: b, day: first.Format(booking.DateLayout)}
	r.pay = payment.NewService(db, checkout.Holds(b), payment.Config{})
	t.Cleanup(func() { conserved(t, db) })
	return r
}

// conserved fails the test unless the ledger balances and every sale is
// paid exactly once.
func conserved(t *testing.T, db *sqlx.DB) {
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

func (r *rush) hold(t *testing.T, user string, seat int) booking.Hold {
	t.Helper()
	h, err := r.booking.Hold(context.Background(), concert, user, r.day, seat)
	if err != nil {
		t.Fatalf("hold seat %d for %s: %v", seat, user, err)
	}
	return h
}

func (r *rush) charge(t *testing.T, user string, amount int64) {
	t.Helper()
	if _, err := r.pay.Charge(context.Background(), user, amount); err != nil {
		t.Fatalf("charge %s %d: %v", user, amount, err)
	}
}

func (r *rush) balance(t *testing.T, user string) int64 {
	t.Helper()
	b, err := r.pay.Balance(context.Background(), user)
	if err != nil {
		t.Fatalf("balance of %s: %v", user, err)
	}
	return b
}

func (r *rush) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := r.db.Get(&n, query, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

func request(user string, h booking.Hold) payment.Request {
	return payment.Request{ConcertID: concert, UserID: user, ReservationID: h.ID, Amount: h.Price}
}

// race runs f n times at once, released together, and returns the errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func TestConcurrentPaymentsOfOneHoldSucceedOnce(t *testing.T) {
	r := newRush(t, booking.Config{})
	r.charge(t, "ann", 10_000)
	h := r.hold(t, "ann", 1)
	errs := race(50, func(int) error {
		_, err := r.pay.Pay(context.Background(), request("ann", h))
		return err
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, payment.ErrPaymentInProgress), errors.Is(err, payment.ErrAlreadyPaid):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if got, want := ok, 1; got != want {
		t.Fatalf("successful payments = %d, want %d", got, want)
	}
	if got, want := r.balance(t, "ann"), int64(10_000-price); got != want {
		t.Fatalf("balance = %d, want %d (one debit)", got, want)
	}
	if got := r.count(t, `SELECT count(*) FROM reservations WHERE reservation_id = $1`, h.ID); got != 1 {
		t.Fatalf("reservations rows = %d, want 1", got)
	}
	if got := r.count(t, `SELECT count(*) FROM pay_history WHERE payment_status = 'COMPLETED'`); got != 1 {
		t.Fatalf("COMPLETED rows = %d, want 1", got)
	}
	if _, err := r.pay.Pay(context.Background(), request("ann", h)); !errors.Is(err, payment.ErrAlreadyPaid) {
		t.Fatalf("paying again afterwards: err = %v, want ErrAlreadyPaid", err)
	}
}

func TestHoldsPaidConcurrentlyNeverOverdrawTheBalance(t *testing.T) {
	r := newRush(t, booking.Config{MaxHoldsPerUser: 10})
	r.charge(t, "ann", 10_000)
	var holds []booking.Hold
	for seat := 1; seat <= 10; seat++ {
		holds = append(holds, r.hold(t, "ann", seat))
	}

	// Sample the balance while the payments run.
	stop := make(chan struct{})
	sampled := make(chan []int64)
	go func() {
		var seen []int64
		for {
			select {
			case <-stop:
				sampled <- seen
				return
			default:
			}
			if b, err := r.pay.Balance(context.Background(), "ann"); err == nil {
				seen = append(seen, b)
			}
		}
	}()
	errs := race(len(holds), func(i int) error {
		_, err := r.pay.Pay(context.Background(), request("ann", holds[i]))
		return err
	})
	close(stop)
	seen := <-sampled

	var paid, short []booking.Hold
	for i, err := range errs {
		switch {
		case err == nil:
			paid = append(paid, holds[i])
		case errors.Is(err, payment.ErrInsufficientBalance):
			short = append(short, holds[i])
		default:
			t.Errorf("hold %d: unexpected error: %v", holds[i].ID, err)
		}
	}
	if got, want := len(paid), 6; got != want {
		t.Fatalf("paid = %d, want %d", got, want)
	}
	if got, want := len(short), 4; got != want {
		t.Fatalf("refused for the balance = %d, want %d", got, want)
	}
	if got, want := r.balance(t, "ann"), int64(1_000); got != want {
		t.Fatalf("balance = %d, want %d", got, want)
	}
	for _, b := range seen {
		if b < 0 || b > 10_000 || b%price != 10_000%price {
			t.Fatalf("sampled balance %d: not a whole number of payments off 10000", b)
		}
	}
	if got, want := r.count(t, `SELECT count(*) FROM pay_history WHERE payment_status = 'FAILED'`), 4; got != want {
		t.Fatalf("FAILED rows = %d, want %d", got, want)
	}

	// The refused holds stayed: a top-up pays them.
	r.charge(t, "ann", 5_000)
	for _, h := range short {
		if _, err := r.pay.Pay(context.Background(), request("ann", h)); err != nil {
			t.Fatalf("paying refused hold %d after a top-up: %v", h.ID, err)
		}
	}
	if got, want := r.balance(t, "ann"), int64(0); got != want {
		t.Fatalf("final balance = %d, want %d", got, want)
	}
	t.Logf("%d balance samples while paying", len(seen))
}

func TestMixedChargesAndPaymentsConserveEveryBalance(t *testing.T) {
	r := newRush(t, booking.Config{MaxHoldsPerUser: 10})
	users := []string{"ann", "bob", "cy", "dee"}
	const (
		start       = 3_000
		holdsEach   = 6
		chargesEach = 8
		charge      = 500
	)
	type op struct {
		user string
		hold booking.Hold // zero: a charge
	}
	var ops []op
	seat := 1
	for _, u := range users {
		r.charge(t, u, start)
		for range holdsEach {
			ops = append(ops, op{user: u, hold: r.hold(t, u, seat)})
			seat++
		}
		for range chargesEach {
			ops = append(ops, op{user: u})
		}
	}
	var paidCount sync.Map // user → *atomic.Int64
	for _, u := range users {
		paidCount.Store(u, new(atomic.Int64))
	}
	errs := race(len(ops), func(i int) error {
		o := ops[i]
		if o.hold.ID == 0 {
			_, err := r.pay.Charge(context.Background(), o.user, charge)
			return err
		}
		_, err := r.pay.Pay(context.Background(), request(o.user, o.hold))
		if err == nil {
			n, _ := paidCount.Load(o.user)
			n.(*atomic.Int64).Add(1)
		}
		if errors.Is(err, payment.ErrInsufficientBalance) {
			return nil // depends on the order; the balance below accounts for it
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
	}
	for _, u := range users {
		n, _ := paidCount.Load(u)
		paid := n.(*atomic.Int64).Load()
		want := int64(start + chargesEach*charge - paid*price)
		if got := r.balance(t, u); got != want {
			t.Errorf("%s: balance = %d, want %d = %d + %d − %d×%d", u, got, want, start, chargesEach*charge, paid, price)
		}
		if got := r.count(t, `SELECT count(*) FROM pay_history p JOIN users u USING (user_seq)
			WHERE u.user_id = $1 AND p.payment_status = 'COMPLETED'`, u); int64(got) != paid {
			t.Errorf("%s: COMPLETED rows = %d, want %d", u, got, paid)
		}
	}
}

func TestPayingALapsedHoldIsHoldExpiredAndChargesNothing(t *testing.T) {
	clk := testenv.NewClock(time.Now())
	r := newRush(t, booking.Config{HoldTTL: time.Minute, Now: clk.Now})
	r.charge(t, "ann", 10_000)
	h := r.hold(t, "ann", 1)
	clk.Add(time.Minute + time.Second)

	req := request("ann", h)
	req.IdempotencyKey = "lapsed-1"
	for attempt := range 2 { // the retry replays the stored refusal
		if _, err := r.pay.Pay(context.Background(), req); !errors.Is(err, payment.ErrHoldExpired) {
			t.Fatalf("attempt %d: err = %v, want ErrHoldExpired", attempt+1, err)
		}
	}
	if got, want := r.balance(t, "ann"), int64(10_000); got != want {
		t.Fatalf("balance = %d, want %d", got, want)
	}
	if got := r.count(t, `SELECT count(*) FROM reservations`) + r.count(t, `SELECT count(*) FROM pay_history`); got != 0 {
		t.Fatalf("rows written for a lapsed hold: %d", got)
	}
}

func TestPayingAnotherUsersHoldIsReservationNotFound(t *testing.T) {
	r := newRush(t, booking.Config{})
	r.charge(t, "ann", 10_000)
	r.charge(t, "bob", 10_000)
	h := r.hold(t, "ann", 1)
	if _, err := r.pay.Pay(context.Background(), request("bob", h)); !errors.Is(err, payment.ErrReservationNotFound) {
		t.Fatalf("err = %v, want ErrReservationNotFound", err)
	}
	if got, want := r.balance(t, "bob"), int64(10_000); got != want {
		t.Fatalf("bob's balance = %d, want %d", got, want)
	}
	if _, err := r.pay.Pay(context.Background(), request("ann", h)); err != nil {
		t.Fatalf("the owner paying afterwards: %v", err)
	}
	if _, err := r.pay.Pay(context.Background(), request("bob", h)); !errors.Is(err, payment.ErrReservationNotFound) {
		t.Fatalf("after the sale: err = %v, want ErrReservationNotFound", err)
	}
}

func TestPayingTheWrongAmountKeepsTheHold(t *testing.T) {
	r := newRush(t, booking.Config{})
	r.charge(t, "ann", 10_000)
	h := r.hold(t, "ann", 1)
	req := request("ann", h)
	req.Amount = price - 1
	if _, err := r.pay.Pay(context.Background(), req); !errors.Is(err, payment.ErrAmountMismatch) {
		t.Fatalf("err = %v, want ErrAmountMismatch", err)
	}
	if _, err := r.pay.Pay(context.Background(), request("ann", h)); err != nil {
		t.Fatalf("paying the price afterwards: %v", err)
	}
}

func TestIdempotentRetriesReplayTheReceiptAndDebitOnce(t *testing.T) {
	r := newRush(t, booking.Config{})
	r.charge(t, "ann", 10_000)
	h := r.hold(t, "ann", 1)
	req := request("ann", h)
	req.IdempotencyKey = "order-1"

	// Retries racing the first attempt.
	receipts := make([]payment.Receipt, 20)
	errs := race(len(receipts), func(i int) error {
		var err error
		receipts[i], err = r.pay.Pay(context.Background(), req)
		return err
	})
	var first *payment.Receipt
	for i, err := range errs {
		switch {
		case err == nil && !receipts[i].Replayed:
			if first != nil {
				t.Fatalf("two payments made: %+v and %+v", *first, receipts[i])
			}
			first = &receipts[i]
		case err == nil, errors.Is(err, payment.ErrPaymentInProgress):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if first == nil {
		t.Fatal("no attempt paid")
	}
	for i, err := range errs {
		if err == nil && receipts[i].Replayed {
			if want := (payment.Receipt{PaymentID: first.PaymentID, ReservationID: first.ReservationID,
				ReservationDate: first.ReservationDate, ReservationSeat: first.ReservationSeat,
				Amount: first.Amount, Status: first.Status, Balance: first.Balance, Replayed: true}); receipts[i] != want {
				t.Fatalf("replayed receipt = %+v, want %+v", receipts[i], want)
			}
		}
	}

	// A retry after everything settled, when the hold is long sold.
	again, err := r.pay.Pay(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.PaymentID != first.PaymentID || again.Balance != first.Balance {
		t.Fatalf("retry = %+v, want the first receipt %+v replayed", again, *first)
	}
	if got, want := r.balance(t, "ann"), int64(10_000-price); got != want {
		t.Fatalf("balance = %d, want %d (one debit)", got, want)
	}
	if got := r.count(t, `SELECT count(*) FROM pay_history`); got != 1 {
		t.Fatalf("pay_history rows = %d, want 1", got)
	}

	// The same key for another hold is refused, and that hold stays payable.
	other := r.hold(t, "ann", 2)
	reuse := request("ann", other)
	reuse.IdempotencyKey = "order-1"
	if _, err := r.pay.Pay(context.Background(), reuse); !errors.Is(err, payment.ErrIdempotencyConflict) {
		t.Fatalf("same key, another hold: err = %v, want ErrIdempotencyConflict", err)
	}
	reuse.IdempotencyKey = "order-2"
	if _, err := r.pay.Pay(context.Background(), reuse); err != nil {
		t.Fatalf("paying the other hold under its own key: %v", err)
	}
	// Keys belong to a user: bob may use "order-1" too.
	r.charge(t, "bob", 10_000)
	bobs := request("bob", r.hold(t, "bob", 3))
	bobs.IdempotencyKey = "order-1"
	if rb, err := r.pay.Pay(context.Background(), bobs); err != nil || rb.Replayed {
		t.Fatalf("bob's own order-1 = %+v, %v; want a fresh payment", rb, err)
	}
}

func TestPostgresOutageDuringPaymentFailsFastAndChargesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		// cut cuts the line to Postgres while the payment of user runs.
		cut func(t *testing.T, r *rush, proxy *faultproxy.Proxy, user string, pay func() error) error
	}{
		{"BeforeTheTransaction", func(t *testing.T, r *rush, proxy *faultproxy.Proxy, user string, pay func() error) error {
			proxy.Cut()
			return pay()
		}},
		{"InsideTheTransaction", func(t *testing.T, r *rush, proxy *faultproxy.Proxy, user string, pay func() error) error {
			// Lock the user's row from outside, so the payment's debit waits
			// inside its transaction; cut the line there.
			blocker, err := r.db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer blocker.Rollback()
			blocker.MustExec(`SELECT 1 FROM users WHERE user_id = $1 FOR UPDATE`, user)
			done := make(chan error, 1)
			go func() { done <- pay() }()
			waitFor(t, "the debit to wait for the row lock", func() bool {
				return r.count(t, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE users%'`) == 1
			})
			proxy.Cut()
			err = <-done
			// Let the server go on: it must roll back, not commit.
			blocker.Rollback()
			waitFor(t, "the cut backend to end", func() bool {
				return r.count(t, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND query LIKE 'UPDATE users%'`) == 0
			})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRush(t, booking.Config{})
			u, err := url.Parse(r.dsn)
			if err != nil {
				t.Fatal(err)
			}
			proxy := faultproxy.Start(t, u.Host)
			u.Host = proxy.Addr()
			viaProxy, err := sqlx.Open("postgres", u.String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { viaProxy.Close() })
			pay := payment.NewService(viaProxy, checkout.Holds(r.booking), payment.Config{})

			r.charge(t, "ann", 10_000)
			h := r.hold(t, "ann", 1)
			if _, err := pay.Balance(context.Background(), "ann"); err != nil { // a pooled connection to cut
				t.Fatal(err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = tc.cut(t, r, proxy, "ann", func() error {
				_, err := pay.Pay(ctx, request("ann", h))
				return err
			})
			if !errors.Is(err, payment.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if ctx.Err() != nil {
				t.Fatal("the payment returned only at the deadline; it must fail fast")
			}
			if got, want := r.balance(t, "ann"), int64(10_000); got != want {
				t.Fatalf("balance = %d, want %d (nothing charged)", got, want)
			}
			if got := r.count(t, `SELECT count(*) FROM reservations`) + r.count(t, `SELECT count(*) FROM pay_history`); got != 0 {
				t.Fatalf("rows written by the cut payment: %d", got)
			}

			proxy.Restore()
			receipt, err := pay.Pay(context.Background(), request("ann", h))
			if err != nil {
				t.Fatalf("paying the same hold after restore: %v", err)
			}
			if got, want := receipt.Balance, int64(10_000-price); got != want {
				t.Fatalf("balance after restore = %d, want %d", got, want)
			}
		})
	}
}

func TestPostgresPartitionReturnsByTheDeadlineAndSettlesAfter(t *testing.T) {
	r := newRush(t, booking.Config{})
	u, err := url.Parse(r.dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	viaProxy, err := sqlx.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viaProxy.Close() })
	pay := payment.NewService(viaProxy, checkout.Holds(r.booking), payment.Config{})
	r.charge(t, "ann", 10_000)
	h := r.hold(t, "ann", 1)
	if _, err := pay.Balance(context.Background(), "ann"); err != nil { // a pooled connection to stall
		t.Fatal(err)
	}

	// A silent network: lib/pq alone would wait on it long past any deadline.
	proxy.Stall()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	answered := make(chan error, 1)
	go func() {
		_, err := pay.Pay(ctx, request("ann", h))
		answered <- err
	}()
	select {
	case err := <-answered:
		if !errors.Is(err, payment.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the payment did not return within 5s of its 1s deadline")
	}
	if _, err := pay.Balance(ctx, "ann"); !errors.Is(err, payment.ErrUnavailable) {
		t.Fatalf("Balance after the deadline: err = %v, want ErrUnavailable", err)
	}

	// Once the network is back the abandoned attempt ends (it never reached
	// a commit) and gives its claim back; the hold is then paid once.
	proxy.Restore()
	var receipt payment.Receipt
	waitFor(t, "the hold to be payable again", func() bool {
		var err error
		receipt, err = pay.Pay(context.Background(), request("ann", h))
		if err != nil && !errors.Is(err, payment.ErrPaymentInProgress) {
			t.Fatalf("paying after restore: %v", err)
		}
		return err == nil
	})
	if got, want := receipt.Balance, int64(10_000-price); got != want {
		t.Fatalf("balance after restore = %d, want %d (one debit)", got, want)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMapsEveryBookingRefusal(t *testing.T) {
	// Drives each refusal through the real booking service.
	clk := testenv.NewClock(time.Now())
	r := newRush(t, booking.Config{HoldTTL: 30 * time.Second, ClaimLease: time.Minute, Now: clk.Now})
	holds := checkout.Holds(r.booking)
	ctx := context.Background()
	claimed := r.hold(t, "ann", 1)
	if _, err := holds.Claim(ctx, concert, claimed.ID, "ann"); err != nil {
		t.Fatal(err)
	}
	lapsed := r.hold(t, "ann", 2)
	sold := r.hold(t, "ann", 3)
	r.charge(t, "ann", price)
	if _, err := r.pay.Pay(ctx, request("ann", sold)); err != nil {
		t.Fatal(err)
	}
	clk.Add(31 * time.Second) // lapses seat 2; seat 1 is claimed, its lease runs on
	for _, tc := range []struct {
		name string
		id   int64
		user string
		want error
	}{
		{"UnknownHold", 999_999, "ann", payment.ErrReservationNotFound},
		{"AnotherUsersHold", claimed.ID, "bob", payment.ErrReservationNotFound},
		{"ClaimedHold", claimed.ID, "ann", payment.ErrPaymentInProgress},
		{"LapsedHold", lapsed.ID, "ann", payment.ErrHoldExpired},
		{"SoldHold", sold.ID, "ann", payment.ErrAlreadyPaid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := holds.Claim(ctx, concert, tc.id, tc.user); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if err := holds.Unclaim(ctx, concert, 999_999); !errors.Is(err, payment.ErrReservationNotFound) {
		t.Fatalf("Unclaim of an unknown hold: err = %v, want ErrReservationNotFound", err)
	}
	if err := holds.Unclaim(ctx, concert, claimed.ID); err != nil {
		t.Fatal(err)
	}
}
