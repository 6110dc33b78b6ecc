package booking_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/lua"
)

// These tests run batched holds (HoldBatch) on the machine's real Redis and
// Postgres: many goroutines hold overlapping seats of one concert, and every
// seat has one winner, every user keeps the hold limit and no reservation id
// is given twice, with id blocks used up mid-batch and failures injected
// while batches are in flight.

const batchLimit = 3

// holdRuns counts the runs of hold_batch.lua a client sends and the holds
// they carry, and can make every n-th run fail inside Redis before it writes
// (a bad "now").
type holdRuns struct {
	runs, holds atomic.Int64
	offered     atomic.Int64 // runs that carried a new block of ids
	spoilN      int64
	spoiled     atomic.Int64
}

func (h *holdRuns) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *holdRuns) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *holdRuns) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if cmd.Name() == "evalsha" && len(args) > 3 && args[1] == lua.HoldBatch.Hash() {
			nkeys, _ := strconv.Atoi(fmt.Sprint(args[2]))
			n := h.runs.Add(1)
			h.holds.Add(int64((len(args) - 3 - nkeys - 6) / 6))
			if args[3+nkeys+4] != "" {
				h.offered.Add(1)
			}
			if h.spoilN > 0 && n%h.spoilN == 0 {
				h.spoiled.Add(1)
				args[3+nkeys] = "spoiled" // ARGV[1], now
			}
		}
		return next(ctx, cmd)
	}
}

type batchEnv struct {
	svc   *booking.Service
	rdb   *redis.Client
	db    *sqlx.DB
	keys  keyspace.Space
	runs  *holdRuns
	conns sync.Map // CLIENT ID of every connection of rdb
}

// newBatchEnv is a batching service on its own Redis client (no retries, so
// a killed connection surfaces) over concert 1 with dates of seats seats and
// blocks of 5 reservation ids, so that batches use blocks up mid-run.
func newBatchEnv(t *testing.T, dates, seats int) *batchEnv {
	t.Helper()
	db, _ := testenv.Postgres(t)
	_, keys := testenv.Redis(t) // the key space, cleaned up at the end
	createConcert(t, db, 1, dates, seats)
	smallIDBlocks(t, db, 5)
	e := &batchEnv{db: db, keys: keys, runs: &holdRuns{}}
	e.rdb = redis.NewClient(&redis.Options{
		Addr:       strings.TrimPrefix(strings.TrimSuffix(testenv.RedisURL(), "/0"), "redis://"),
		MaxRetries: -1, PoolSize: 16,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			id, err := cn.ClientID(ctx).Result()
			if err == nil {
				e.conns.Store(id, true)
			}
			return err
		},
	})
	t.Cleanup(func() { e.rdb.Close() })
	e.rdb.AddHook(e.runs)
	e.svc = booking.NewService(db, e.rdb, keys, booking.Config{MaxHoldsPerUser: batchLimit, HoldBatch: 64})
	return e
}

type holdTry struct {
	user, day string
	seat      int
	hold      booking.Hold
	err       error
}

// rush has users goroutines each try tries random seats of days in turn and
// returns every answer.
func (e *batchEnv) rush(t *testing.T, users, tries int, days []string, seats int) []holdTry {
	t.Helper()
	var (
		mu  sync.Mutex
		out []holdTry
		wg  sync.WaitGroup
	)
	for u := range users {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(u), 7))
			for range tries {
				try := holdTry{user: fmt.Sprintf("u%03d", u), day: days[r.IntN(len(days))], seat: 1 + r.IntN(seats)}
				try.hold, try.err = e.svc.Hold(context.Background(), 1, try.user, try.day, try.seat)
				mu.Lock()
				out = append(out, try)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// checkHolds checks the answers and Redis: one winner per seat, each the
// holder Redis records, at most the limit of live holds per user (answered
// or not), and no id twice. It returns the number of holds made.
func (e *batchEnv) checkHolds(t *testing.T, tries []holdTry) int {
	t.Helper()
	ctx := context.Background()
	kc := e.keys.Concert(1)
	bySeat := map[string]booking.Hold{}
	ids := map[int64]string{}
	perUser := map[string]int{}
	for _, try := range tries {
		if try.err != nil {
			continue
		}
		h := try.hold
		seat := fmt.Sprintf("%s/%d", h.Date, h.Seat)
		if prev, dup := bySeat[seat]; dup {
			t.Errorf("seat %s won twice: ids %d and %d", seat, prev.ID, h.ID)
		}
		bySeat[seat] = h
		if prev, dup := ids[h.ID]; dup {
			t.Errorf("reservation id %d given twice: seats %s and %s", h.ID, prev, seat)
		}
		ids[h.ID] = seat
		if h.UserID != try.user || h.Date != try.day || h.Seat != try.seat {
			t.Errorf("hold %+v answers the try %+v", h, try)
		}
		perUser[h.UserID]++
		if got, err := e.rdb.Get(ctx, kc.Seat(h.Date, h.Seat)).Int64(); err != nil || got != h.ID {
			t.Errorf("seat %s: Redis holds it for %d (%v), the answer was %d", seat, got, err, h.ID)
		}
	}
	for user, n := range perUser {
		if n > batchLimit {
			t.Errorf("%s was given %d holds, the limit is %d", user, n, batchLimit)
		}
		if live := e.rdb.ZCard(ctx, kc.UserHolds(user)).Val(); live > batchLimit {
			t.Errorf("%s has %d live holds in Redis, the limit is %d", user, live, batchLimit)
		}
	}
	return len(bySeat)
}

func TestBatchedHoldsOfOverlappingSeatsHaveOneWinnerEachAndKeepTheLimit(t *testing.T) {
	e := newBatchEnv(t, 2, 40)
	days := []string{firstDay, "2030-01-03"}
	tries := e.rush(t, 100, 12, days, 40)
	taken, limited := 0, 0
	for _, try := range tries {
		switch {
		case try.err == nil:
		case errors.Is(try.err, booking.ErrSeatTaken):
			taken++
		case errors.Is(try.err, booking.ErrHoldLimit):
			limited++
		default:
			t.Errorf("%s seat %s/%d: %v", try.user, try.day, try.seat, try.err)
		}
	}
	made := e.checkHolds(t, tries)
	runs, holds := e.runs.runs.Load(), e.runs.holds.Load()
	t.Logf("%d tries: %d held, %d taken, %d at the limit; %d holds in %d script runs, %d with a new block",
		len(tries), made, taken, limited, holds, runs, e.runs.offered.Load())
	if taken == 0 || limited == 0 {
		t.Errorf("no contention (taken %d, limited %d): the test proves little", taken, limited)
	}
	if runs >= holds {
		t.Errorf("%d script runs for %d holds: nothing was batched", runs, holds)
	}
	// A batched hold is a hold like any other: it can be claimed and sold.
	paid := 0
	for _, try := range tries {
		if try.err != nil || paid == 5 {
			continue
		}
		ctx := context.Background()
		if _, err := e.svc.ClaimHold(ctx, 1, try.hold.ID, try.user); err != nil {
			t.Fatalf("claim of batched hold %d: %v", try.hold.ID, err)
		}
		if err := e.svc.MarkSold(ctx, 1, try.hold.ID); err != nil {
			t.Fatalf("sale of batched hold %d: %v", try.hold.ID, err)
		}
		paid++
	}
	// Blocks are five ids: runs stopped at a used-up block and went on
	// with a new one.
	if e.runs.offered.Load() == 0 {
		t.Error("no run was given a new block of ids")
	}
}

// Failures injected while batches are in flight: connections killed by
// Redis (CLIENT KILL), one script run in seven failing inside Redis before it
// writes, the sold caches deleted (each hold then waits for a rebuild from
// Postgres), and ten users whose hold sets are of the wrong type (each of
// their holds fails inside its batch, the rest of the batch goes on).
func TestBatchedHoldsSurviveFailuresMidBatch(t *testing.T) {
	e := newBatchEnv(t, 2, 40)
	days := []string{firstDay, "2030-01-03"}
	ctx := context.Background()
	kc := e.keys.Concert(1)
	admin, _ := testenv.Redis(t)
	// Ten of the hundred users: with a run in seven spoiled, connections
	// killed and caches dropped, only a few tries of each user reach the
	// step that meets the broken key, and two users alone sometimes had
	// none that did.
	poisoned := map[string]bool{}
	for _, u := range []int{7, 13, 21, 34, 42, 55, 68, 77, 86, 99} {
		poisoned[fmt.Sprintf("u%03d", u)] = true
	}
	for u := range poisoned {
		if err := admin.Set(ctx, kc.UserHolds(u), "not a sorted set", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	e.runs.spoilN = 7

	stop := make(chan struct{})
	var killed, dropped atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			e.conns.Range(func(id, _ any) bool {
				if rand.IntN(4) == 0 {
					n, _ := admin.ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Result()
					killed.Add(n)
					e.conns.Delete(id)
				}
				return true
			})
			if i%5 == 0 {
				// (a hold reads the lock that says the seats' locks are
				// loaded; a listing, the bitmap)
				n, _ := admin.Del(ctx, kc.Sold(days[0]), kc.Sold(days[1]),
					kc.SeatLocksLoaded(days[0]), kc.SeatLocksLoaded(days[1])).Result()
				dropped.Add(n)
			}
		}
	}()
	tries := e.rush(t, 100, 12, days, 40)
	close(stop)
	<-done

	var spoiledFails, wrongType, unavailable int
	for _, try := range tries {
		switch {
		case try.err == nil:
			if poisoned[try.user] {
				t.Errorf("%s, whose hold set is broken, was given hold %d", try.user, try.hold.ID)
			}
		case errors.Is(try.err, booking.ErrSeatTaken), errors.Is(try.err, booking.ErrHoldLimit):
		case strings.Contains(try.err.Error(), "bad arguments"):
			spoiledFails++
		case strings.Contains(try.err.Error(), "WRONGTYPE"):
			wrongType++
			if !poisoned[try.user] {
				t.Errorf("%s failed with another user's broken key: %v", try.user, try.err)
			}
		case errors.Is(try.err, booking.ErrUnavailable):
			unavailable++
		case strings.Contains(try.err.Error(), "sold cache keeps vanishing"):
			// The cache was dropped again after each rebuild, as alone.
		default:
			t.Errorf("%s seat %s/%d: %v", try.user, try.day, try.seat, try.err)
		}
	}
	made := e.checkHolds(t, tries)
	t.Logf("%d tries: %d held; failed: %d in spoiled runs, %d of broken users, %d unavailable; %d connections killed, %d sold caches dropped; %d holds in %d script runs",
		len(tries), made, spoiledFails, wrongType, unavailable, killed.Load(), dropped.Load(), e.runs.holds.Load(), e.runs.runs.Load())
	if spoiledFails == 0 || wrongType == 0 || killed.Load() == 0 || dropped.Load() == 0 {
		t.Fatalf("a failure was not injected: the test proves nothing")
	}

	// Never half-applied: every seat Redis holds has a record of its holder,
	// and the holder's set lists it, whether or not its answer got through.
	var users []string
	for _, try := range tries {
		if !slices.Contains(users, try.user) {
			users = append(users, try.user)
		}
	}
	for _, day := range days {
		for seat := 1; seat <= 40; seat++ {
			sid, err := e.rdb.Get(ctx, kc.Seat(day, seat)).Result()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			rec, err := holdRecord(ctx, e.rdb, kc, sid, users)
			if err != nil || rec["seat"] != strconv.Itoa(seat) || rec["date"] != day {
				t.Errorf("seat %s/%d held by %s: record %v (%v)", day, seat, sid, rec, err)
				continue
			}
			if poisoned[rec["user"]] {
				t.Errorf("seat %s/%d held by %s, whose holds all failed", day, seat, rec["user"])
			}
			if _, err := e.rdb.ZScore(ctx, kc.UserHolds(rec["user"]), sid).Result(); err != nil && !inUserSet(ctx, e.rdb, kc, sid, rec["user"]) {
				t.Errorf("hold %s of %s is missing from the user's set: %v", sid, rec["user"], err)
			}
		}
	}
}
