package booking_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/testenv"
)

// The count of seats admission reads every step is kept in Redis and shared
// by the replicas (booking.Service.Stock). These run on the real Redis and
// Postgres; a replica is a second Service on the same key space and database.

func (e *realEnv) replica(cfg booking.Config) *booking.Service {
	return booking.NewService(e.db, e.rdb, e.keys, cfg)
}

func mustStock(t *testing.T, s *booking.Service) booking.Stock {
	t.Helper()
	st, err := s.Stock(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A lapse is the one change a kept count does not follow: it shows who
// counted. The count one replica made serves the other until it expires.
func TestStockCountIsSharedByTheReplicasUntilItExpires(t *testing.T) {
	clk := testenv.NewClock(start)
	cfg := booking.Config{StockMaxAge: 300 * time.Millisecond, HoldTTL: time.Minute, Now: clk.Now, Location: time.UTC}
	env := newReal(t, cfg, 2, 5)
	if _, err := env.svc.Hold(context.Background(), 1, "alice", firstDay, 1); err != nil {
		t.Fatal(err)
	}
	a, b := env.svc, env.replica(cfg)
	counted := mustStock(t, a)
	if want := (booking.Stock{Seats: 10, Held: 1, Free: 9}); counted != want {
		t.Fatalf("stock = %+v, want %+v", counted, want)
	}
	clk.Add(2 * time.Minute) // alice's hold lapses
	exact := env.replica(booking.Config{StockMaxAge: -1, Now: clk.Now, Location: time.UTC})
	if got := mustStock(t, exact); got.Held != 0 || got.Free != 10 {
		t.Fatalf("a count made after the lapse = %+v, want no hold", got)
	}
	if got := mustStock(t, b); got != counted {
		t.Errorf("the other replica read %+v, want the kept count %+v (it counted again)", got, counted)
	}
	deadline := time.Now().Add(10 * time.Second)
	for mustStock(t, b).Held != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the kept count never expired: the lapse was never seen")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A hold adds to the kept count at once (admission pauses as soon as the last
// free seat is held) and a sale deletes it (the sell-out is seen at the next
// step), whatever the count's age.
func TestAHoldCountsAtOnceAndASaleCountsAgain(t *testing.T) {
	cfg := booking.Config{StockMaxAge: time.Hour}
	env := newReal(t, cfg, 1, 2)
	ctx := context.Background()
	a, b := env.svc, env.replica(cfg)
	stockKey := env.keys.Concert(1).Stock()
	// No kept count: a hold does not make one.
	h1, err := a.Hold(ctx, 1, "alice", firstDay, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := env.rdb.Exists(ctx, stockKey).Val(); n != 0 {
		t.Fatalf("a hold made a kept count (%d) where there was none", n)
	}
	if got, want := mustStock(t, a), (booking.Stock{Seats: 2, Held: 1, Free: 1}); got != want {
		t.Fatalf("stock = %+v, want %+v", got, want)
	}
	h2, err := a.Hold(ctx, 1, "bob", firstDay, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustStock(t, b), (booking.Stock{Seats: 2, Held: 2, Free: 0}); got != want {
		t.Errorf("stock after the last free seat was held = %+v, want %+v", got, want)
	}
	if ttl := env.rdb.PTTL(ctx, stockKey).Val(); ttl < 59*time.Minute {
		t.Errorf("the kept count's expiry is %v: it was made again, not added to", ttl)
	}
	for i, h := range []booking.Hold{h1, h2} {
		sellInPostgres(t, env.db, 1, firstDay, h.Seat, h.ID, h.UserID)
		if err := a.MarkSold(ctx, 1, h.ID); err != nil {
			t.Fatal(err)
		}
		if n := env.rdb.Exists(ctx, stockKey).Val(); n != 0 {
			t.Errorf("sale %d left the kept count", i+1)
		}
		st := mustStock(t, b)
		if st.Sold != int64(i+1) || st.SoldOut() != (i == 1) {
			t.Errorf("stock after sale %d = %+v (sold out %v)", i+1, st, st.SoldOut())
		}
	}
}

// Holds racing with counts on two replicas (and, for the first half of the
// holds, with the kept count expiring, here deleted by hand): every reading
// is exact, so the free seats never rise, and the last reading counts every
// hold.
func TestStockNeverMissesAConcurrentHold(t *testing.T) {
	const dates, seats = 2, 150
	cfg := booking.Config{StockMaxAge: time.Hour, HoldBatch: 32, MaxHoldsPerUser: 1}
	env := newReal(t, cfg, dates, seats)
	ctx := context.Background()
	replicas := []*booking.Service{env.svc, env.replica(cfg)}
	mustStock(t, env.svc)
	var (
		held  atomic.Int64
		holds sync.WaitGroup
		done  = make(chan struct{})
	)
	first, _ := time.Parse(booking.DateLayout, firstDay)
	for d := range dates {
		day := first.AddDate(0, 0, d).Format(booking.DateLayout)
		for s := 1; s <= seats; s++ {
			holds.Go(func() {
				user := fmt.Sprintf("u%d-%d", d, s)
				if _, err := replicas[s%2].Hold(ctx, 1, user, day, s); err != nil {
					t.Errorf("hold %s %d: %v", day, s, err)
					return
				}
				held.Add(1)
			})
		}
	}
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Go(func() {
			last := int64(dates * seats)
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				// Counted again and again in the first half; in the
				// second, the last count made must follow every hold.
				if r == 0 && i%5 == 0 && held.Load() < dates*seats/2 {
					env.rdb.Del(ctx, env.keys.Concert(1).Stock())
				}
				st, err := replicas[r%2].Stock(ctx, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if st.Free > last {
					t.Errorf("free seats rose from %d to %d with no hold lapsed and none sold", last, st.Free)
				}
				last = st.Free
			}
		})
	}
	holds.Wait()
	close(done)
	readers.Wait()
	for i, r := range replicas {
		if st := mustStock(t, r); st.Held != held.Load() || st.Free != int64(dates*seats)-held.Load() {
			t.Errorf("replica %d: stock %+v after %d holds", i, st, held.Load())
		}
	}
}
