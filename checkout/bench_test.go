package checkout_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/checkout"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/payment"
)

// BenchmarkPay measures a payment end to end on the real Redis and
// Postgres: claim, the transaction, and marking the hold sold. Holding the
// seat is outside the timer.
func BenchmarkPay(b *testing.B) {
	db, _ := testenv.Postgres(b)
	rdb, keys := testenv.Redis(b)
	bk := booking.NewService(db, rdb, keys, booking.Config{})
	first := time.Now().AddDate(0, 0, 1)
	day := first.Format(booking.DateLayout)
	ctx := context.Background()
	if _, err := bk.Seed(ctx, 1, b.N, price, first); err != nil {
		b.Fatal(err)
	}
	svc := payment.NewService(db, checkout.Holds(bk), payment.Config{})
	for paid := int64(0); paid < int64(b.N)*price; paid += payment.MaxAmount {
		if _, err := svc.Charge(ctx, "ann", payment.MaxAmount); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		h, err := bk.Hold(ctx, concert, "ann", day, i+1)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := svc.Pay(ctx, payment.Request{ConcertID: concert, UserID: "ann", ReservationID: h.ID,
			Amount: h.Price, IdempotencyKey: "b-" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
