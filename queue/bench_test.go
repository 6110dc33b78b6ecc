package queue_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/queue"
)

// The hot paths of a rush on the real Redis: go test -run '^$' -bench . ./queue/

func BenchmarkEnter(b *testing.B) {
	rdb, keys := testenv.Redis(b)
	q := replica(rdb, keys, queue.Settings{AdmitPerSecond: 100, MaxActive: 1000, ActiveTTL: time.Minute})
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := q.Enter(context.Background(), 1, fmt.Sprintf("bench%d", n.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPositionWaiting is a poll of a waiting token: answered from the
// replica's copy of the admission head, with no Redis round trip.
func BenchmarkPositionWaiting(b *testing.B) {
	rdb, keys := testenv.Redis(b)
	q := replica(rdb, keys, queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Minute})
	ctx := context.Background()
	var last queue.Ticket
	for i := 0; i < 100; i++ {
		last, _ = q.Enter(ctx, 1, fmt.Sprintf("w%d", i))
	}
	if _, err := q.Admit(ctx, 1); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := q.Position(ctx, last.Claims); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAdmittedCheck is the gate of an (active) route: one ZSCORE.
func BenchmarkAdmittedCheck(b *testing.B) {
	rdb, keys := testenv.Redis(b)
	q := replica(rdb, keys, queue.Settings{AdmitPerSecond: 1000, MaxActive: 1000, ActiveTTL: time.Hour})
	ctx := context.Background()
	tk, _ := q.Enter(ctx, 1, "active-user")
	q.Admit(ctx, 1)
	time.Sleep(20 * time.Millisecond)
	if a, err := q.Admit(ctx, 1); err != nil || a.Active != 1 {
		b.Fatalf("admit: %+v %v", a, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := q.Admitted(ctx, tk.Claims); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAdmit is one admission step with a long line waiting.
func BenchmarkAdmit(b *testing.B) {
	rdb, keys := testenv.Redis(b)
	q := replica(rdb, keys, queue.Settings{AdmitPerSecond: 1_000_000, MaxActive: 10_000_000, ActiveTTL: time.Hour})
	ctx := context.Background()
	for i := 0; i < 20000; i++ {
		q.Enter(ctx, 1, fmt.Sprintf("a%d", i))
	}
	q.Admit(ctx, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := q.Admit(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedisPing is the baseline: one bare round trip to the same Redis.
func BenchmarkRedisPing(b *testing.B) {
	rdb, _ := testenv.Redis(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := rdb.Ping(context.Background()).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
