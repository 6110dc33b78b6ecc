package booking_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
)

// Benchmarks on the real Redis and Postgres at stadium size: 50,000 seats a
// date. Run with
//
//	go test -run x -bench . -benchtime 2s ./booking/...

const stadium = 50_000

// busyDate fills a date of env with the state of a rush in full swing: every
// tenth seat held, every tenth (other) seat sold.
func busyDate(b *testing.B, env *realEnv, day string) {
	b.Helper()
	ctx := context.Background()
	for seat := 1; seat <= stadium; seat += 10 {
		if _, err := env.svc.Hold(ctx, 1, fmt.Sprintf("h%d", seat), day, seat); err != nil {
			b.Fatal(err)
		}
		h, err := env.svc.Hold(ctx, 1, fmt.Sprintf("s%d", seat), day, seat+5)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := env.svc.ClaimHold(ctx, 1, h.ID, fmt.Sprintf("s%d", seat)); err != nil {
			b.Fatal(err)
		}
		if err := env.svc.MarkSold(ctx, 1, h.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAvailableSeats lists a 50,000-seat date with 5,000 live holds and
// 5,000 sold seats: one Redis round trip, no Postgres.
func BenchmarkAvailableSeats(b *testing.B) {
	env := newReal(b, booking.Config{}, 1, stadium)
	busyDate(b, env, firstDay)
	ctx := context.Background()
	var n int
	for b.Loop() {
		seats, err := env.svc.AvailableSeats(ctx, 1, firstDay)
		if err != nil {
			b.Fatal(err)
		}
		n = len(seats)
	}
	if n != stadium-stadium/5 {
		b.Fatalf("%d seats listed, want %d", n, stadium-stadium/5)
	}
}

// BenchmarkAvailableDates lists the dates of a concert of 7 dates of 50,000
// seats, one of them busy: one Redis round trip.
func BenchmarkAvailableDates(b *testing.B) {
	env := newReal(b, booking.Config{}, 7, stadium)
	busyDate(b, env, firstDay)
	ctx := context.Background()
	var n int
	for b.Loop() {
		dates, err := env.svc.AvailableDates(ctx, 1)
		if err != nil {
			b.Fatal(err)
		}
		n = len(dates)
	}
	if n != 7 {
		b.Fatalf("%d dates listed, want 7", n)
	}
}

// days returns n consecutive days from firstDay.
func days(n int) []string {
	first, _ := time.Parse(booking.DateLayout, firstDay)
	out := make([]string, n)
	for i := range out {
		out[i] = first.AddDate(0, 0, i).Format(booking.DateLayout)
	}
	return out
}

// BenchmarkHold takes one free seat per operation, each by a new user: one
// Redis script call.
func BenchmarkHold(b *testing.B) {
	ndays := b.N/stadium + 1
	env := newReal(b, booking.Config{}, ndays, stadium)
	dates := days(ndays)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if _, err := env.svc.Hold(ctx, 1, fmt.Sprintf("u%d", i), dates[i/stadium], i%stadium+1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHoldParallel is BenchmarkHold from 64 goroutines at once, the
// throughput one replica gets from one Redis.
func BenchmarkHoldParallel(b *testing.B) {
	ndays := b.N/stadium + 1
	env := newReal(b, booking.Config{}, ndays, stadium)
	dates := days(ndays)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1) - 1)
			if _, err := env.svc.Hold(ctx, 1, fmt.Sprintf("u%d", i), dates[i/stadium], i%stadium+1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHoldContended has every operation race for the same seat, which
// is taken from the start: the cost of a losing hold.
func BenchmarkHoldContended(b *testing.B) {
	env := newReal(b, booking.Config{}, 1, 10)
	ctx := context.Background()
	if _, err := env.svc.Hold(ctx, 1, "winner", firstDay, 1); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := env.svc.Hold(ctx, 1, fmt.Sprintf("u%d", next.Add(1)), firstDay, 1)
			if err != booking.ErrSeatTaken {
				b.Errorf("err = %v, want ErrSeatTaken", err)
				return
			}
		}
	})
}

// BenchmarkHoldBatching is BenchmarkHoldParallel (64 callers) with holds
// sent alone and batched in turn (HoldBatch), in one run so the two compare.
func BenchmarkHoldBatching(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
	}{{"alone", 1}, {"batched", 64}} {
		b.Run(bc.name, func(b *testing.B) {
			ndays := b.N/stadium + 1
			env := newReal(b, booking.Config{HoldBatch: bc.batch}, ndays, stadium)
			dates := days(ndays)
			ctx := context.Background()
			var next atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(next.Add(1) - 1)
					if _, err := env.svc.Hold(ctx, 1, fmt.Sprintf("u%d", i), dates[i/stadium], i%stadium+1); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkStock is admission's count of a concert's seats, 120 dates of 500
// seats, each with a few holds: counted at every call (StockMaxAge < 0, what
// every replica did at every step before the count was kept), and read from
// the count kept in Redis (the default; the count is made again four times a
// second, once for all replicas, which this leaves out).
func BenchmarkStock(b *testing.B) {
	const dates = 120
	for _, bc := range []struct {
		name   string
		maxAge time.Duration
	}{{"counted", -1}, {"kept", time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			env := newReal(b, booking.Config{StockMaxAge: bc.maxAge}, dates, 500)
			ctx := context.Background()
			first, _ := time.Parse(booking.DateLayout, firstDay)
			for d := range dates {
				if _, err := env.svc.Hold(ctx, 1, fmt.Sprintf("u%d", d), first.AddDate(0, 0, d).Format(booking.DateLayout), 1); err != nil {
					b.Fatal(err)
				}
			}
			var st booking.Stock
			for b.Loop() {
				var err error
				if st, err = env.svc.Stock(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
			if st.Held != dates || st.Free != dates*500-dates {
				b.Fatalf("stock %+v, want %d held", st, dates)
			}
		})
	}
}
