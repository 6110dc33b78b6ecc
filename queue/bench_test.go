package queue_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// BenchmarkEnterBatching is token issue by 64 concurrent callers with
// batching off (EnterBatch 1: one script run per issue) and on, in turn in
// the same run: each iteration issues 2,000 tokens of new users each way.
// It reports both rates and their ratio (on / off). The autopipeline
// variants send the "on" side through go-redis's auto-pipeliner instead of
// (batch=1) or as well as batching, for comparison.
//
//	go test -run '^$' -bench EnterBatching -benchtime 10x ./queue/
func BenchmarkEnterBatching(b *testing.B) {
	rdb, keys := testenv.Redis(b)
	const callers, perRound = 64, 2000
	settings := queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Minute}
	for _, v := range []struct {
		name     string
		batch    int
		wait     time.Duration
		autopipe bool
	}{
		{"batch=64", 64, 0, false},
		{"batch=64,wait=50us", 64, 50 * time.Microsecond, false},
		{"autopipeline", 1, 0, true},
		{"batch=64,autopipeline", 64, 0, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			var user atomic.Int64
			issue := func(q *queue.Queue, concert int64) time.Duration {
				var left atomic.Int64
				left.Store(perRound)
				var wg sync.WaitGroup
				start := time.Now()
				for c := 0; c < callers; c++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for left.Add(-1) >= 0 {
							if _, err := q.Enter(context.Background(), concert, fmt.Sprintf("b%d", user.Add(1))); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				return time.Since(start)
			}
			mk := func(batch int, autopipe bool) *queue.Queue {
				var c redis.UniversalClient = rdb
				if autopipe {
					ap, err := rdb.(*redis.Client).AutoPipeline()
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { ap.Close() })
					c = ap
				}
				return queue.New(c, keys, queue.NewSigner([]byte("bench")), queue.Config{
					TokenTTL: 2 * time.Hour, Defaults: settings, EnterBatch: batch, EnterBatchWait: v.wait})
			}
			off, on := mk(1, false), mk(v.batch, v.autopipe)
			var tOff, tOn time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Each round on a fresh concert, so that both ways enter an
				// equally long line.
				tOff += issue(off, int64(2*i+1))
				tOn += issue(on, int64(2*i+2))
			}
			n := float64(b.N * perRound)
			rOff, rOn := n/tOff.Seconds(), n/tOn.Seconds()
			b.ReportMetric(rOff, "off-issues/s")
			b.ReportMetric(rOn, "on-issues/s")
			b.ReportMetric(rOn/rOff, "on/off")
		})
	}
}
