package booking_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/svctest"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
)

// TestAHoldOnAReplicaIsUnavailable: after a failover a replica may still
// reach a gateway as its primary (the old primary, demoted). Its first write
// is refused (READONLY), and the hold script fails its whole run with that
// error instead of answering it as one hold's own failure, so the hold is
// "unavailable" (503, try again), not an internal error, and nothing is
// written.
func TestAHoldOnAReplicaIsUnavailable(t *testing.T) {
	primary := svctest.StartRedis(t)
	replica := svctest.StartRedisWith(t, svctest.FreePort, "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port()))
	open := func(r *svctest.Redis) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	prdb, rrdb := open(primary), open(replica)
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 1, 10)
	keys := keyspace.New("ro:")
	ctx := context.Background()

	// On the primary: the sold cache loaded and a block of ids, so that a
	// hold on the replica needs nothing but its own writes.
	onPrimary := booking.NewService(db, prdb, keys, booking.Config{HoldBatch: 64})
	if err := onPrimary.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := onPrimary.Hold(ctx, 1, "first", firstDay, 1); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if n, err := prdb.Wait(waitCtx, 1, time.Second).Result(); err == nil && n >= 1 {
			break
		}
		if waitCtx.Err() != nil {
			t.Fatal("the replica never caught up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := dump(t, rrdb)

	onReplica := booking.NewService(db, rrdb, keys, booking.Config{HoldBatch: 64})
	if err := onReplica.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, seat := range []int{2, 3} {
		_, err := onReplica.Hold(ctx, 1, "second", firstDay, seat)
		if !errors.Is(err, booking.ErrUnavailable) {
			t.Fatalf("hold of seat %d on a replica: err = %v, want ErrUnavailable", seat, err)
		}
	}
	if after := dump(t, rrdb); after != before {
		t.Fatalf("the replica changed:\nbefore %s\nafter  %s", before, after)
	}
}

// dump is every key of a Redis with its type and, for a string, its value.
func dump(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := ""
	for _, k := range keys {
		typ, _ := rdb.Type(ctx, k).Result()
		out += k + "=" + typ
		if typ == "string" {
			v, _ := rdb.Get(ctx, k).Result()
			out += ":" + v
		}
		out += " "
	}
	return out
}
