package outage_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashMidPayment kills the gateway (SIGKILL) while payments run, starts
// it again, and retries every payment with its Idempotency-Key: each retry
// must tell the truth that Postgres holds, and no money or seat may be lost
// or created.
func TestCrashMidPayment(t *testing.T) {
	s := newStack(t, nil)
	// This test is about a kill mid-payment, not about slow stores: generous
	// call deadlines keep a loaded machine from failing its setup of sixty
	// concurrent buyers with 503s.
	patient := map[string]string{"REDIS_TIMEOUT": "3s", "DB_TIMEOUT": "10s"}
	gw := s.serve(patient)
	c := newClient(gw)

	// Buyers admitted, each with a hold and exactly its price on balance.
	const n = 60
	type attempt struct {
		b        *buyer
		rid      int64
		price    int64
		key      string
		first    reply
		answered bool
	}
	attempts := make([]*attempt, n)
	var wg sync.WaitGroup
	var setupErr atomic.Value
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := &buyer{c: c, user: fmt.Sprintf("crash-%d", i)}
			if r, ok := b.enter(); !ok {
				setupErr.Store("enter: " + r.String())
				return
			}
			if r, ok := b.waitActive(10 * time.Second); !ok {
				setupErr.Store("admission: " + r.String())
				return
			}
			var rid, price int64
			for try := 0; ; try++ { // concurrent buyers may pick one seat
				r, id, p, ok := b.hold()
				if ok {
					rid, price = id, p
					break
				}
				if try == 10 {
					setupErr.Store("hold: " + r.String())
					return
				}
			}
			if r := b.charge(price); r.status != 200 {
				setupErr.Store("charge: " + r.String())
				return
			}
			attempts[i] = &attempt{b: b, rid: rid, price: price, key: fmt.Sprintf("crash-pay-%d", rid)}
		}()
	}
	wg.Wait()
	if e := setupErr.Load(); e != nil {
		t.Fatal(e)
	}

	// Pay all at once; kill the gateway once the first payment is through.
	var answered atomic.Int32
	firstDone := make(chan struct{})
	var once sync.Once
	for _, a := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.first = a.b.pay(a.rid, a.price, a.key)
			if a.first.err == nil {
				answered.Add(1)
				a.answered = true
				if a.first.status == 201 {
					once.Do(func() { close(firstDone) })
				}
			}
		}()
	}
	select {
	case <-firstDone:
	case <-time.After(20 * time.Second):
		t.Fatal("no payment went through")
	}
	gw.kill()
	wg.Wait()
	t.Logf("killed with %d of %d payments answered", answered.Load(), n)

	// What Postgres says each reservation became.
	ctx := context.Background()
	completed := func(rid int64) (int64, bool) {
		var id int64
		err := s.db.GetContext(ctx, &id, `SELECT payment_id FROM pay_history WHERE reservation_id = $1 AND payment_status = 'COMPLETED'`, rid)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, false
		}
		if err != nil {
			t.Fatalf("pay_history of %d: %v", rid, err)
		}
		return id, true
	}
	var committedUnanswered int
	for _, a := range attempts {
		id, ok := completed(a.rid)
		switch {
		case a.answered && a.first.status == 201 && (!ok || id != a.first.num("payment_id")):
			t.Errorf("%s: answered 201 payment %d, Postgres has (%d, %v)", a.b.user, a.first.num("payment_id"), id, ok)
		case a.answered && a.first.status != 201 && ok:
			t.Errorf("%s: answered %s, yet Postgres has payment %d", a.b.user, a.first, id)
		case !a.answered && ok:
			committedUnanswered++
		}
		if msg := checkError(a.first); msg != "" {
			t.Errorf("%s: %s", a.b.user, msg)
		}
	}
	t.Logf("%d payments committed whose answer was lost in the crash", committedUnanswered)
	s.checkBooks()

	// The gateway comes back; every client retries with its key.
	gw = s.serve(patient)
	c2 := newClient(gw)
	outcomes := map[string]int{}
	for _, a := range attempts {
		a.b.c = c2
		r := a.b.pay(a.rid, a.price, a.key)
		if msg := checkError(r); msg != "" {
			t.Errorf("%s: retry: %s", a.b.user, msg)
		}
		id, ok := completed(a.rid)
		switch {
		case r.status == 201:
			if !ok || r.num("payment_id") != id {
				t.Errorf("%s: retry answered 201 payment %d, Postgres has (%d, %v)", a.b.user, r.num("payment_id"), id, ok)
			}
			if a.answered && a.first.status == 201 && r.num("payment_id") != a.first.num("payment_id") {
				t.Errorf("%s: retry answered payment %d, the first answer was %d", a.b.user, r.num("payment_id"), a.first.num("payment_id"))
			}
			if r.num("balance") != 0 || r.num("amount") != a.price {
				t.Errorf("%s: retry receipt %s; want amount %d, balance 0", a.b.user, r, a.price)
			}
		case r.status == 409 && r.code() == "payment_in_progress":
			// The crashed payment's claim on the hold stands until its
			// lease ends; nothing was paid, and the client is told to
			// retry.
			if ok {
				t.Errorf("%s: retry says payment_in_progress, yet Postgres has payment %d", a.b.user, id)
			}
		default:
			t.Errorf("%s: retry answered %s (first: %s)", a.b.user, r, a.first)
		}
		outcomes[fmt.Sprintf("%d %s", r.status, r.code())]++

		// Balance: the price is gone exactly when the seat is paid.
		var bal int64
		if err := s.db.GetContext(ctx, &bal, `SELECT pay FROM users WHERE user_id = $1`, a.b.user); err != nil {
			t.Fatalf("balance of %s: %v", a.b.user, err)
		}
		if _, paid := completed(a.rid); (paid && bal != 0) || (!paid && bal != a.price) {
			t.Errorf("%s: balance %d with the seat paid=%v; price %d", a.b.user, bal, paid, a.price)
		}
	}
	t.Logf("retries after the restart: %v", outcomes)
	s.checkBooks()
}
