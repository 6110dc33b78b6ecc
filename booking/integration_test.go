package booking_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/testenv"
)

// These tests run on the machine's real Redis (a private key prefix) and a
// fresh Postgres database each.

func TestHoldOfOneSeatByManyHasOneWinner(t *testing.T) {
	env := newReal(t, booking.Config{}, 1, 10)
	ctx := context.Background()
	const n = 1000
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = env.svc.Hold(ctx, 1, fmt.Sprintf("user%d", i), firstDay, 1)
		})
	}
	wg.Wait()
	won, taken := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, booking.ErrSeatTaken):
			taken++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if got, want := won, 1; got != want {
		t.Errorf("%d holds succeeded, want %d", got, want)
	}
	if got, want := taken, n-1; got != want {
		t.Errorf("%d got ErrSeatTaken, want %d", got, want)
	}
}

func TestHoldsOfFewSeatsByManyUsersGiveEachSeatOnce(t *testing.T) {
	env := newReal(t, booking.Config{}, 1, 10)
	ctx := context.Background()
	const users = 100
	var (
		mu    sync.Mutex
		holds []booking.Hold
		wg    sync.WaitGroup
	)
	for u := range users {
		wg.Go(func() {
			// Every user tries every seat, starting at a different one, and
			// stops at the first success.
			for k := range 10 {
				h, err := env.svc.Hold(ctx, 1, fmt.Sprintf("user%d", u), firstDay, (u+k)%10+1)
				if err == nil {
					mu.Lock()
					holds = append(holds, h)
					mu.Unlock()
					return
				}
				if !errors.Is(err, booking.ErrSeatTaken) {
					t.Errorf("user%d: %v", u, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got, want := len(holds), 10; got != want {
		t.Fatalf("%d holds, want %d", got, want)
	}
	seats, ids, users2 := map[int]bool{}, map[int64]bool{}, map[string]bool{}
	for _, h := range holds {
		if seats[h.Seat] || ids[h.ID] || users2[h.UserID] {
			t.Errorf("seat, id or user twice: %+v", h)
		}
		seats[h.Seat], ids[h.ID], users2[h.UserID] = true, true, true
	}
	left, err := env.svc.AvailableSeats(ctx, 1, firstDay)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(left), 0; got != want {
		t.Errorf("%d seats still listed: %v", got, left)
	}
}

func TestHoldLimitHoldsUnderConcurrency(t *testing.T) {
	env := newReal(t, booking.Config{MaxHoldsPerUser: 4}, 1, 20)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() { _, errs[i] = env.svc.Hold(ctx, 1, "alice", firstDay, i+1) })
	}
	wg.Wait()
	won, limited := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, booking.ErrHoldLimit):
			limited++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if got, want := won, 4; got != want {
		t.Errorf("%d holds, want %d", got, want)
	}
	if got, want := limited, 16; got != want {
		t.Errorf("%d got ErrHoldLimit, want %d", got, want)
	}
}

// A user's payments that start and fail (claim, then unclaim) while the same
// user's holds race for more seats never open a place past the limit: a
// claimed hold counts as live, and a given-back one as before. Redis is left
// as before each payment: the records of the held seats stay in the user's
// set, with no key of their own.
func TestHoldLimitHoldsWhileTheUsersPaymentsComeAndGo(t *testing.T) {
	env := newReal(t, booking.Config{MaxHoldsPerUser: 3, ClaimLease: time.Minute}, 1, 30)
	ctx := context.Background()
	var first []booking.Hold
	for seat := 1; seat <= 2; seat++ {
		h, err := env.svc.Hold(ctx, 1, "alice", firstDay, seat)
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, h)
	}
	var wg sync.WaitGroup
	var payments atomic.Int64
	for _, h := range first {
		wg.Go(func() {
			for range 50 {
				if _, err := env.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if err := env.svc.UnclaimHold(ctx, 1, h.ID); err != nil {
					t.Errorf("unclaim: %v", err)
					return
				}
				payments.Add(1)
			}
		})
	}
	var won, limited atomic.Int64
	for seat := 3; seat <= 30; seat++ {
		wg.Go(func() {
			_, err := env.svc.Hold(ctx, 1, "alice", firstDay, seat)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, booking.ErrHoldLimit):
				limited.Add(1)
			default:
				t.Errorf("hold of seat %d: %v", seat, err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || limited.Load() != 27 {
		t.Errorf("%d more holds and %d refused at the limit, want 1 and 27 (%d payments came and went meanwhile)",
			won.Load(), limited.Load(), payments.Load())
	}
	kc := env.keys.Concert(1)
	for _, h := range first {
		if n, err := env.rdb.Exists(ctx, kc.Hold(h.ID)).Result(); err != nil || n != 0 {
			t.Errorf("hold %d has a record key after its payments failed: %d (%v)", h.ID, n, err)
		}
	}
	if n, err := env.rdb.ZCount(ctx, kc.UserHolds("alice"), "("+strconv.FormatInt(time.Now().UnixMilli(), 10), "+inf").Result(); err != nil || n != 3 {
		t.Errorf("live holds in alice's set = %d (%v), want 3", n, err)
	}
}

func TestLapsedHoldIsListedAndHoldableAgain(t *testing.T) {
	env := newReal(t, booking.Config{HoldTTL: time.Second}, 1, 5)
	ctx := context.Background()
	if _, err := env.svc.Hold(ctx, 1, "alice", firstDay, 2); err != nil {
		t.Fatal(err)
	}
	seats, err := env.svc.AvailableSeats(ctx, 1, firstDay)
	if err != nil {
		t.Fatal(err)
	}
	if contains(seats, 2) {
		t.Fatalf("held seat listed: %v", seats)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		seats, err := env.svc.AvailableSeats(ctx, 1, firstDay)
		if err != nil {
			t.Fatal(err)
		}
		if contains(seats, 2) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("seat 2 not listed again 5s after a 1s hold: %v", seats)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Listed means holdable: the seat lock lapses with the listing score.
	for {
		_, err := env.svc.Hold(ctx, 1, "bob", firstDay, 2)
		if err == nil {
			break
		}
		if !errors.Is(err, booking.ErrSeatTaken) || time.Now().After(deadline) {
			t.Fatalf("hold of the lapsed seat: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSoldSeatStaysUnavailableAfterRedisLosesItsKeys(t *testing.T) {
	env := newReal(t, booking.Config{}, 1, 10)
	ctx := context.Background()
	h, err := env.svc.Hold(ctx, 1, "alice", firstDay, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Seat 3 is sold the way payment sells it (a row, then MarkSold); seat 4
	// only in Postgres, as if the process died before telling Redis.
	sellInPostgres(t, env.db, 1, firstDay, 3, h.ID, "alice")
	if err := env.svc.MarkSold(ctx, 1, h.ID); err != nil {
		t.Fatal(err)
	}
	sellInPostgres(t, env.db, 1, firstDay, 4, reservedID(t, env.db), "bob")

	testenv.DeleteKeys(ctx, env.rdb, env.keys.Prefix())

	seats, err := env.svc.AvailableSeats(ctx, 1, firstDay)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seats), "[1 2 5 6 7 8 9 10]"; got != want {
		t.Errorf("available = %s, want %s", got, want)
	}
	for _, seat := range []int{3, 4} {
		if _, err := env.svc.Hold(ctx, 1, "carol", firstDay, seat); !errors.Is(err, booking.ErrSeatTaken) {
			t.Errorf("hold of sold seat %d: err = %v, want ErrSeatTaken", seat, err)
		}
	}
	if _, err := env.svc.ClaimHold(ctx, 1, h.ID, "alice"); !errors.Is(err, booking.ErrAlreadyPaid) {
		t.Errorf("claim of the paid hold: err = %v, want ErrAlreadyPaid", err)
	}
}

func TestSeedIsIdempotent(t *testing.T) {
	db, _ := testenv.Postgres(t)
	rdb, keys := testenv.Redis(t)
	svc := booking.NewService(db, rdb, keys, booking.Config{})
	ctx := context.Background()
	first, _ := time.Parse(booking.DateLayout, firstDay)
	for i, want := range []bool{true, false, false} {
		created, err := svc.Seed(ctx, 3, 100, 5000, first)
		if err != nil {
			t.Fatal(err)
		}
		if created != want {
			t.Errorf("seed #%d: created = %v, want %v", i+1, created, want)
		}
	}
	var dates, seats int
	if err := db.GetContext(ctx, &dates, `SELECT count(*) FROM concert_dates`); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &seats, `SELECT count(*) FROM seats`); err != nil {
		t.Fatal(err)
	}
	if dates != 3 || seats != 300 {
		t.Errorf("catalogue has %d dates and %d seats, want 3 and 300", dates, seats)
	}
	if got, want := fmt.Sprint(svc.ConcertIDs()), "[1]"; got != want {
		t.Errorf("concert ids = %s, want %s", got, want)
	}
}

func TestSeedByManyReplicasAtOnceCreatesOnce(t *testing.T) {
	db, _ := testenv.Postgres(t)
	rdb, keys := testenv.Redis(t)
	ctx := context.Background()
	first, _ := time.Parse(booking.DateLayout, firstDay)
	var wg sync.WaitGroup
	created := make([]bool, 8)
	for i := range created {
		wg.Go(func() {
			svc := booking.NewService(db, rdb, keys, booking.Config{})
			var err error
			if created[i], err = svc.Seed(ctx, 2, 10, 5000, first); err != nil {
				t.Errorf("seed: %v", err)
			}
		})
	}
	wg.Wait()
	n := 0
	for _, c := range created {
		if c {
			n++
		}
	}
	if got, want := n, 1; got != want {
		t.Errorf("%d seeds reported creating, want %d", got, want)
	}
}

func TestClaimOfOneHoldByManyHasOneWinner(t *testing.T) {
	env := newReal(t, booking.Config{}, 1, 10)
	ctx := context.Background()
	h, err := env.svc.Hold(ctx, 1, "alice", firstDay, 1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = env.svc.ClaimHold(ctx, 1, h.ID, "alice") })
	}
	wg.Wait()
	won, busy := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, booking.ErrHoldBusy):
			busy++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 || busy != n-1 {
		t.Errorf("%d claims won and %d busy, want 1 and %d", won, busy, n-1)
	}
}

func TestSoldCacheRebuildNeverLosesAConcurrentSale(t *testing.T) {
	env := newReal(t, booking.Config{}, 1, 300)
	ctx := context.Background()
	const sales = 100
	holds := make([]booking.Hold, sales)
	for i := range holds {
		var err error
		if holds[i], err = env.svc.Hold(ctx, 1, fmt.Sprintf("user%d", i), firstDay, 2*i+1); err != nil {
			t.Fatal(err)
		}
	}
	// A lost cache is all of the date's: the bitmap, the seats' locks and
	// the lock that says they are loaded, lost at one instant.
	kc := env.keys.Concert(1)
	lost := []string{kc.Sold(firstDay), kc.SeatLocksLoaded(firstDay)}
	for seat := 1; seat <= 300; seat++ {
		lost = append(lost, kc.Seat(firstDay, seat))
	}
	var wg sync.WaitGroup
	for _, h := range holds {
		wg.Go(func() { sell(t, env, h) })
	}
	// Meanwhile the cache keeps being lost and rebuilt by listings.
	for range 20 {
		wg.Go(func() {
			for range 10 {
				if err := env.rdb.Unlink(ctx, lost...).Err(); err != nil {
					t.Errorf("unlink: %v", err)
				}
				if _, err := env.svc.AvailableSeats(ctx, 1, firstDay); err != nil {
					t.Errorf("listing: %v", err)
				}
			}
		})
	}
	wg.Wait()
	// Read the cache as the last writer left it; it must hold every sale.
	seats, err := env.svc.AvailableSeats(ctx, 1, firstDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range holds {
		if contains(seats, h.Seat) {
			t.Errorf("sold seat %d listed", h.Seat)
		}
	}
	if got, want := len(seats), 300-sales; got != want {
		t.Errorf("%d seats listed, want %d", got, want)
	}
	// And holds, which read the seats' locks, find every sale.
	for _, h := range holds {
		if _, err := env.svc.Hold(ctx, 1, "late-buyer", firstDay, h.Seat); !errors.Is(err, booking.ErrSeatTaken) {
			t.Errorf("hold of sold seat %d: %v, want ErrSeatTaken", h.Seat, err)
		}
	}
}

// Holds racing the sales of the seats they try never win one: before its
// sale a seat's lock is its payer's hold, after it "sold", and nothing in
// between lets a hold through.
func TestHoldsRacingSalesNeverTakeASoldSeat(t *testing.T) {
	env := newReal(t, booking.Config{MaxHoldsPerUser: 1000}, 1, 200)
	ctx := context.Background()
	const sales = 100
	holds := make([]booking.Hold, sales)
	for i := range holds {
		var err error
		if holds[i], err = env.svc.Hold(ctx, 1, fmt.Sprintf("payer%d", i), firstDay, i+1); err != nil {
			t.Fatal(err)
		}
		if _, err := env.svc.ClaimHold(ctx, 1, holds[i].ID, holds[i].UserID); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, h := range holds {
		wg.Go(func() { sell(t, env, h) })
	}
	var tries, taken atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			for round := range 5 {
				for seat := 1 + g%2; seat <= sales; seat += 2 {
					tries.Add(1)
					h, err := env.svc.Hold(ctx, 1, fmt.Sprintf("racer%d", g), firstDay, seat)
					switch {
					case err == nil:
						t.Errorf("round %d: racer%d was given seat %d (hold %d), held or sold by another", round, g, seat, h.ID)
					case errors.Is(err, booking.ErrSeatTaken):
						taken.Add(1)
					default:
						t.Errorf("hold of seat %d: %v", seat, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if tries.Load() != taken.Load() || tries.Load() == 0 {
		t.Errorf("%d tries, %d refused as taken", tries.Load(), taken.Load())
	}
	for _, h := range holds {
		if v, _ := env.rdb.Get(ctx, env.keys.Concert(1).Seat(firstDay, h.Seat)).Result(); v != "sold" {
			t.Errorf("seat %d's lock after its sale = %q, want sold", h.Seat, v)
		}
	}
}

func TestPaymentFlowOnTheRealServices(t *testing.T) {
	env := newReal(t, booking.Config{MaxHoldsPerUser: 1}, 1, 3)
	ctx := context.Background()
	h, err := env.svc.Hold(ctx, 1, "alice", firstDay, 2)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"claim", func() error { _, err := env.svc.ClaimHold(ctx, 1, h.ID, "alice"); return err }},
		{"unclaim", func() error { return env.svc.UnclaimHold(ctx, 1, h.ID) }},
		{"claim again", func() error { _, err := env.svc.ClaimHold(ctx, 1, h.ID, "alice"); return err }},
		{"sell in Postgres", func() error { sellInPostgres(t, env.db, 1, firstDay, 2, h.ID, "alice"); return nil }},
		{"mark sold", func() error { return env.svc.MarkSold(ctx, 1, h.ID) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if _, err := env.svc.ClaimHold(ctx, 1, h.ID, "alice"); !errors.Is(err, booking.ErrAlreadyPaid) {
		t.Errorf("claim after the sale: err = %v, want ErrAlreadyPaid", err)
	}
	seats, err := env.svc.AvailableSeats(ctx, 1, firstDay)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seats), "[1 3]"; got != want {
		t.Errorf("available = %s, want %s", got, want)
	}
	// The sale freed alice's only hold slot.
	if _, err := env.svc.Hold(ctx, 1, "alice", firstDay, 3); err != nil {
		t.Errorf("next hold: %v", err)
	}
}

func TestASaleRedisNeverHeardOfIsHealedFromPostgres(t *testing.T) {
	env := newReal(t, booking.Config{}, 1, 10)
	ctx := context.Background()
	if _, err := env.svc.AvailableSeats(ctx, 1, firstDay); err != nil { // the sold cache is loaded
		t.Fatal(err)
	}
	// A payment committed seat 6 and its process died before MarkSold.
	sellInPostgres(t, env.db, 1, firstDay, 6, reservedID(t, env.db), "crashed-buyer")
	if err := env.svc.HealRecentSales(ctx); err != nil {
		t.Fatal(err)
	}
	seats, err := env.svc.AvailableSeats(ctx, 1, firstDay)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(seats), "[1 2 3 4 5 7 8 9 10]"; got != want {
		t.Errorf("available after healing = %s, want %s", got, want)
	}
	if _, err := env.svc.Hold(ctx, 1, "next-buyer", firstDay, 6); !errors.Is(err, booking.ErrSeatTaken) {
		t.Errorf("hold of the healed seat: %v, want ErrSeatTaken", err)
	}
	// Its lock says so until some days after the date, then leaves Redis.
	lock := env.keys.Concert(1).Seat(firstDay, 6)
	if v, _ := env.rdb.Get(ctx, lock).Result(); v != "sold" {
		t.Errorf("healed seat's lock = %q, want \"sold\"", v)
	}
	if ttl, err := env.rdb.PTTL(ctx, lock).Result(); err != nil || ttl <= 0 {
		t.Errorf("healed seat's lock ttl = %v, %v; want an expiry", ttl, err)
	}
}

// sell sells claimed hold h as a payment does: the sale committed in
// Postgres, then marked in Redis.
func sell(t *testing.T, env *realEnv, h booking.Hold) {
	t.Helper()
	sellInPostgres(t, env.db, 1, firstDay, h.Seat, h.ID, h.UserID)
	if err := env.svc.MarkSold(context.Background(), 1, h.ID); err != nil {
		t.Errorf("mark sold: %v", err)
	}
}
