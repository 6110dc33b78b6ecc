package booking_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/redisconn"
)

// commandCounter counts the commands a client sends, pipelined ones each.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// Two replicas with StockShare: the count one makes serves the other (one
// GET) until the share lapses, and then it counts afresh and sees what
// changed meanwhile. Without StockShare every call counts (three commands a
// date).
func TestAStockCountServesEveryReplicaForItsShare(t *testing.T) {
	const dates, seats, share = 8, 20, 300 * time.Millisecond
	env := newReal(t, booking.Config{StockShare: share}, dates, seats)
	ctx := context.Background()
	rdbB, err := redisconn.Open(ctx, testenv.RedisOptions(config.RedisSingle, testenv.RedisURL()))
	if err != nil {
		t.Fatal(err)
	}
	defer rdbB.Close()
	counted := &commandCounter{}
	rdbB.AddHook(counted)
	replicaB := booking.NewService(env.db, rdbB, env.keys, booking.Config{StockShare: share})
	plain := booking.NewService(env.db, rdbB, env.keys, booking.Config{})
	// Each loads its catalogue first, as a replica does when it starts.
	for _, svc := range []*booking.Service{replicaB, plain} {
		if err := svc.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}

	a, err := env.svc.Stock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.Seats != dates*seats || a.Held != 0 || a.Free != dates*seats {
		t.Fatalf("replica A counts %+v", a)
	}
	// A hold right after A's count: B is served A's count, one GET.
	if _, err := env.svc.Hold(ctx, 1, "u1", firstDay, 3); err != nil {
		t.Fatal(err)
	}
	before := counted.n.Load()
	b, err := replicaB.Stock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b != a {
		t.Errorf("replica B within the share: %+v, want A's %+v", b, a)
	}
	if got := counted.n.Load() - before; got != 1 {
		t.Errorf("replica B sent %d commands within the share, want 1 (a GET)", got)
	}
	// Without a share, every call counts every date.
	before = counted.n.Load()
	p, err := plain.Stock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p.Held != 1 || p.Free != dates*seats-1 {
		t.Errorf("a fresh count: %+v, want the hold in it", p)
	}
	if got := counted.n.Load() - before; got != 3*dates {
		t.Errorf("a fresh count sent %d commands, want %d", got, 3*dates)
	}
	// Once the share lapses, B counts afresh and shares its own count.
	time.Sleep(share + 100*time.Millisecond)
	b, err = replicaB.Stock(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b.Held != 1 || b.Free != dates*seats-1 {
		t.Errorf("replica B after the share: %+v, want the hold in it", b)
	}
	if a, err = env.svc.Stock(ctx, 1); err != nil || a != b {
		t.Errorf("replica A after B's count: %+v, %v; want B's %+v", a, err, b)
	}
}

// A shared count that is not one (a key written by something else) is
// counted afresh, never trusted.
func TestAStockShareThatIsNotACountIsCountedAfresh(t *testing.T) {
	env := newReal(t, booking.Config{StockShare: time.Minute}, 2, 10)
	ctx := context.Background()
	for _, bad := range []string{"", "12", "x y", "-1 3", "3 -1"} {
		env.rdb.Set(ctx, env.keys.Concert(1).Stock(), bad, time.Minute)
		st, err := env.svc.Stock(ctx, 1)
		if err != nil || st.Seats != 20 || st.Sold != 0 || st.Held != 0 || st.Free != 20 {
			t.Errorf("share %q: %+v, %v; want a fresh count of 20 free", bad, st, err)
		}
		env.rdb.Del(ctx, env.keys.Concert(1).Stock())
	}
}
