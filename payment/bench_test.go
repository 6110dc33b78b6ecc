package payment_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/payment"
)

// BenchmarkCharge measures top-ups on the real Postgres, spread over 100
// users so that row locks contend as in a rush.
func BenchmarkCharge(b *testing.B) {
	db, _ := testenv.Postgres(b)
	svc := payment.NewService(db, &Holds{}, payment.Config{})
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			user := "u" + strconv.FormatInt(n.Add(1)%100, 10)
			if _, err := svc.Charge(context.Background(), user, 100); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
