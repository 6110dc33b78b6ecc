package booking_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/redisconn"
	"github.com/rushgate/rushgate/schema"
)

// These tests run on the machine's real Redis (a private key prefix) and a
// fresh Postgres database each: reservation ids must be unique across
// concerts, gateways and Redis losing its data.

// Concerts of the id tests: small ids, one above 10^12, one near 2^63.
var idConcerts = []int64{1, 2, 1_000_000_000_007, 1<<62 + 5}

// smallIDBlocks makes the blocks of reservation ids tiny in this test's
// database, so that a few hundred holds use up and replace many of them.
func smallIDBlocks(t *testing.T, db *sqlx.DB, size int) {
	t.Helper()
	if _, err := db.Exec(fmt.Sprintf(`ALTER SEQUENCE reservation_id_blocks INCREMENT BY %d`, size)); err != nil {
		t.Fatal(err)
	}
}

// gateways returns n booking services, each with its own Redis and Postgres
// pools, as n gateway replicas have, over one Redis key space and database.
func gateways(t *testing.T, n int, dbURL string, keys keyspace.Space) []*booking.Service {
	t.Helper()
	out := make([]*booking.Service, n)
	for i := range out {
		rdb, err := redisconn.Open(context.Background(), testenv.RedisOptions(config.RedisSingle, testenv.RedisURL()))
		if err != nil {
			t.Fatal(err)
		}
		db, err := schema.Connect(dbURL, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(4) // the machine's Postgres is shared
		t.Cleanup(func() {
			rdb.Close()
			db.Close()
		})
		out[i] = booking.NewService(db, rdb, keys, booking.Config{})
	}
	return out
}

// holdAll has every gateway try every seat of every concert at once, each
// try by a user of its own, and returns the ids of the holds made, checking
// that each seat was won once.
func holdAll(t *testing.T, svcs []*booking.Service, dates []string, seats int) []int64 {
	t.Helper()
	ctx := context.Background()
	type won struct {
		id      int64
		concert int64
		seat    string
	}
	var (
		mu   sync.Mutex
		wins []won
		wg   sync.WaitGroup
	)
	for g, svc := range svcs {
		for _, c := range idConcerts {
			for _, day := range dates {
				for seat := 1; seat <= seats; seat++ {
					wg.Go(func() {
						user := fmt.Sprintf("g%d-c%d-%s-%d", g, c, day, seat)
						h, err := svc.Hold(ctx, c, user, day, seat)
						if err != nil {
							if !errors.Is(err, booking.ErrSeatTaken) {
								t.Errorf("hold %d %s %d: %v", c, day, seat, err)
							}
							return
						}
						mu.Lock()
						wins = append(wins, won{h.ID, c, fmt.Sprintf("%d/%s/%d", c, day, seat)})
						mu.Unlock()
					})
				}
			}
		}
	}
	wg.Wait()
	seen := map[string]bool{}
	ids := make([]int64, 0, len(wins))
	for _, w := range wins {
		if seen[w.seat] {
			t.Errorf("seat %s held twice", w.seat)
		}
		seen[w.seat] = true
		ids = append(ids, w.id)
	}
	if got, want := len(seen), len(idConcerts)*len(dates)*seats; got != want {
		t.Errorf("%d seats held, want %d", got, want)
	}
	return ids
}

// unique checks that no id of ids is in before or twice in ids, and adds
// them to before.
func unique(t *testing.T, before map[int64]bool, ids []int64) {
	t.Helper()
	for _, id := range ids {
		if id <= 0 || id >= 1<<53 {
			t.Errorf("id %d outside 1..2^53-1", id)
		}
		if before[id] {
			t.Errorf("reservation id %d given twice", id)
		}
		before[id] = true
	}
}

// newIDEnv is n gateways over one Redis key space and one database with the
// id concerts (2 dates of 15 seats each) and id blocks of block ids.
func newIDEnv(t *testing.T, n, block int) ([]*booking.Service, redis.UniversalClient, keyspace.Space, []string) {
	t.Helper()
	db, dbURL := testenv.Postgres(t)
	rdb, keys := testenv.Redis(t)
	for _, c := range idConcerts {
		createConcert(t, db, c, 2, 15)
	}
	smallIDBlocks(t, db, block)
	// The services run on the real clock: the test concerts' dates are
	// years ahead.
	return gateways(t, n, dbURL, keys), rdb, keys, []string{firstDay, "2030-01-03"}
}

func TestConcurrentHoldsOfManyConcertsOnManyGatewaysNeverShareAnID(t *testing.T) {
	svcs, _, _, dates := newIDEnv(t, 4, 7)
	ids := holdAll(t, svcs, dates, 15)
	unique(t, map[int64]bool{}, ids)
}

func TestHoldIDsAreNotReusedAfterRedisComesBackEmpty(t *testing.T) {
	svcs, rdb, keys, dates := newIDEnv(t, 3, 1000)
	ctx := context.Background()
	given := map[int64]bool{}
	for round := range 3 {
		// None of these holds is paid: Postgres knows none of their ids.
		unique(t, given, holdAll(t, svcs, dates, 15))
		if round < 2 {
			testenv.DeleteKeys(ctx, rdb, keys.Prefix())
		}
	}
	if got, want := len(given), 3*len(idConcerts)*len(dates)*15; got != want {
		t.Errorf("%d distinct ids, want %d", got, want)
	}
}

func TestHoldsWithIDsNear2To53CanBeClaimed(t *testing.T) {
	// Lua prints such numbers with an exponent; the script must not.
	env := newReal(t, booking.Config{}, 1, 10)
	ctx := context.Background()
	const last = 1<<53 - 1
	if _, err := env.db.Exec(`SELECT setval('reservation_id_blocks', $1, false)`, last-9999); err != nil {
		t.Fatal(err)
	}
	h, err := env.svc.Hold(ctx, 1, "ann", firstDay, 1)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != last-9999 {
		t.Fatalf("id = %d, want %d", h.ID, last-9999)
	}
	if _, err := env.svc.Hold(ctx, 1, "bob", firstDay, 1); !errors.Is(err, booking.ErrSeatTaken) {
		t.Fatalf("second hold of the seat: %v, want ErrSeatTaken", err)
	}
	c, err := env.svc.ClaimHold(ctx, 1, h.ID, "ann")
	if err != nil || c.ID != h.ID || c.Seat != 1 {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	if err := env.svc.MarkSold(ctx, 1, h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.ClaimHold(ctx, 1, h.ID, "ann"); !errors.Is(err, booking.ErrAlreadyPaid) {
		t.Fatalf("claim after the sale: %v, want ErrAlreadyPaid", err)
	}
}
