package queue

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/keyspace"
)

// benchRedis is the real Redis under a key prefix of this benchmark's own,
// removed at the end. (This file is inside the package, which the shared
// test helpers import, so it opens Redis itself.)
func benchRedis(b *testing.B) (redis.UniversalClient, keyspace.Space) {
	b.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	keys := keyspace.New(fmt.Sprintf("rgbench:%d:", time.Now().UnixNano()))
	b.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, keys.Prefix()+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Unlink(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, keys
}

// BenchmarkPollHeartbeat prices the heartbeat on the poll of a waiting
// token, on the real Redis: the same polls of 1,000 waiting tokens with the
// heartbeat recorded (on) and left out (off). Neither touches Redis while
// the replica's view is fresh; the difference is the in-memory record.
//
//	go test -run '^$' -bench PollHeartbeat -count 5 ./queue/
func BenchmarkPollHeartbeat(b *testing.B) {
	for _, mode := range []string{"on", "off"} {
		b.Run(mode, func(b *testing.B) {
			rdb, keys := benchRedis(b)
			q := New(rdb, keys, NewSigner([]byte("bench")), Config{
				Defaults: Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Minute},
				// The view stays fresh for the whole run: every poll is
				// answered from memory, as in a rush between admission ticks.
				StaleAfter: time.Hour,
			})
			q.noBeats = mode == "off"
			ctx := context.Background()
			tokens := make([]Token, 1000)
			for i := range tokens {
				tk, err := q.Enter(ctx, 1, fmt.Sprintf("hb%d", i))
				if err != nil {
					b.Fatal(err)
				}
				tokens[i] = tk.Claims
			}
			if _, err := q.Admit(ctx, 1); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := q.Position(ctx, tokens[n.Add(1)%int64(len(tokens))]); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.StopTimer()
			// What the heartbeats cost Redis, off the request path: one flush.
			if mode == "on" {
				if err := q.FlushHeartbeats(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
