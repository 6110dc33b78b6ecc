package booking_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
)

// These tests run the hold and claim scripts on miniredis with time driven
// from Go; the catalogue is a real Postgres database shared by the subtests
// (each subtest has its own Redis).

const ttl = 5 * time.Minute

func TestHold(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 2, 10)
	ctx := context.Background()

	t.Run("OK", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		h, err := m.svc.Hold(ctx, 1, "alice", firstDay, 3)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := h.Seat, 3; got != want {
			t.Errorf("seat = %d, want %d", got, want)
		}
		if got, want := h.Price, int64(10000); got != want {
			t.Errorf("price = %d, want %d", got, want)
		}
		if got, want := h.ExpiresAt, start.Add(ttl); !got.Equal(want) {
			t.Errorf("expires at %v, want %v", got, want)
		}
		if h.ID <= 0 {
			t.Errorf("id %d, want a positive id", h.ID)
		}
		if h.UserID != "alice" || h.Date != firstDay || h.ConcertID != 1 {
			t.Errorf("hold = %+v", h)
		}
	})

	t.Run("ErrDateNotFound for a date that has passed", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl, Location: time.UTC})
		m.advance(48 * time.Hour) // firstDay is yesterday now; the next date is today
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 4); !errors.Is(err, booking.ErrDateNotFound) {
			t.Fatalf("hold on yesterday: err = %v, want ErrDateNotFound", err)
		}
		if _, err := m.svc.Hold(ctx, 1, "alice", "2030-01-03", 4); err != nil {
			t.Fatalf("hold on today: %v", err)
		}
	})

	t.Run("ErrSeatTaken while another user holds the seat", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 3); err != nil {
			t.Fatal(err)
		}
		m.advance(ttl - time.Second)
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 3); !errors.Is(err, booking.ErrSeatTaken) {
			t.Fatalf("err = %v, want ErrSeatTaken", err)
		}
	})

	t.Run("a lapsed hold frees the seat", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		first, err := m.svc.Hold(ctx, 1, "alice", firstDay, 3)
		if err != nil {
			t.Fatal(err)
		}
		m.advance(ttl)
		second, err := m.svc.Hold(ctx, 1, "bob", firstDay, 3)
		if err != nil {
			t.Fatalf("after the lapse: %v", err)
		}
		if second.ID == first.ID {
			t.Errorf("both holds have id %d", first.ID)
		}
	})

	t.Run("ErrHoldLimit counts live holds only", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl, MaxHoldsPerUser: 2})
		for seat := 1; seat <= 2; seat++ {
			if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, seat); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.svc.Hold(ctx, 1, "alice", "2030-01-03", 3); !errors.Is(err, booking.ErrHoldLimit) {
			t.Fatalf("third hold: err = %v, want ErrHoldLimit", err)
		}
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 3); err != nil {
			t.Fatalf("another user: %v", err)
		}
		m.advance(ttl)
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 4); err != nil {
			t.Fatalf("after the lapse: %v", err)
		}
	})

	t.Run("ErrSeatTaken for a sold seat", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		h, err := m.svc.Hold(ctx, 1, "alice", firstDay, 5)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := m.svc.MarkSold(ctx, 1, h.ID); err != nil {
			t.Fatal(err)
		}
		m.advance(2 * ttl)
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 5); !errors.Is(err, booking.ErrSeatTaken) {
			t.Fatalf("err = %v, want ErrSeatTaken", err)
		}
	})

	t.Run("unknown seats and dates", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		for _, tc := range []struct {
			name string
			day  string
			seat int
			want error
		}{
			{"seat beyond the last", firstDay, 11, booking.ErrSeatNotFound},
			{"seat zero", firstDay, 0, booking.ErrSeatNotFound},
			{"negative seat", firstDay, -1, booking.ErrSeatNotFound},
			{"date not in the catalogue", "2031-01-01", 1, booking.ErrDateNotFound},
			{"malformed date", "tomorrow", 1, booking.ErrDateNotFound},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := m.svc.Hold(ctx, 1, "alice", tc.day, tc.seat); !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			})
		}
		if _, err := m.svc.Hold(ctx, 77, "alice", firstDay, 1); !errors.Is(err, booking.ErrDateNotFound) {
			t.Fatalf("unknown concert: err = %v, want ErrDateNotFound", err)
		}
	})

	t.Run("a sale made while Redis lost its sold cache still blocks the seat", func(t *testing.T) {
		createConcert(t, db, 2, 1, 10)
		sold := reservedID(t, db)
		sellInPostgres(t, db, 2, firstDay, 7, sold, "carol")
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		if _, err := m.svc.Hold(ctx, 2, "alice", firstDay, 7); !errors.Is(err, booking.ErrSeatTaken) {
			t.Fatalf("err = %v, want ErrSeatTaken", err)
		}
		h, err := m.svc.Hold(ctx, 2, "alice", firstDay, 8)
		if err != nil {
			t.Fatal(err)
		}
		if h.ID == sold {
			t.Errorf("id %d is the sold reservation's", h.ID)
		}
		m.mr.FlushAll()
		if _, err := m.svc.Hold(ctx, 2, "bob", firstDay, 7); !errors.Is(err, booking.ErrSeatTaken) {
			t.Fatalf("after the flush: err = %v, want ErrSeatTaken", err)
		}
	})
}

func TestClaimHold(t *testing.T) {
	t.Run("records in the user's set", func(t *testing.T) { testClaimHold(t, booking.RecordsInUserSet, false) })
	t.Run("string records", func(t *testing.T) { testClaimHold(t, booking.RecordsInOwnKey, false) })
	// During a rolling upgrade, holds made by replicas of an older version
	// still have hash records.
	t.Run("hash records of an older version", func(t *testing.T) { testClaimHold(t, booking.RecordsInOwnKey, true) })
}

// testClaimHold runs the claim tests, on a database of their own, on holds
// made with records where form says; with hashRecords, the records are
// turned into the hash form of older versions.
func testClaimHold(t *testing.T, form string, hashRecords bool) {
	newMini := func(t *testing.T, db *sqlx.DB, cfg booking.Config) *mini {
		cfg.HoldRecords = form
		return newMini(t, db, cfg)
	}
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 1, 10)
	ctx := context.Background()
	hold := func(t *testing.T, m *mini, user string, seat int) booking.Hold {
		t.Helper()
		h, err := m.svc.Hold(ctx, 1, user, firstDay, seat)
		if err != nil {
			t.Fatal(err)
		}
		if hashRecords {
			toHashRecord(t, m.rdb, m.keys.Concert(1).Hold(h.ID))
		}
		return h
	}

	t.Run("OK", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		h := hold(t, m, "alice", 1)
		got, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if got != h {
			t.Errorf("claimed %+v, want %+v", got, h)
		}
		// A record keeps its form: an older replica may still read it.
		want := map[bool]string{false: "string", true: "hash"}[hashRecords]
		if kind := m.mr.Type(m.keys.Concert(1).Hold(h.ID)); kind != want {
			t.Errorf("claimed record is a %s, want a %s", kind, want)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			setup func(t *testing.T, m *mini, h booking.Hold)
			user  string
			want  error
		}{
			{"another user's hold is not found", nil, "mallory", booking.ErrHoldNotFound},
			{"a lapsed hold is expired", func(t *testing.T, m *mini, h booking.Hold) { m.advance(ttl) }, "alice", booking.ErrHoldExpired},
			{"a claimed hold is busy", func(t *testing.T, m *mini, h booking.Hold) {
				if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
					t.Fatal(err)
				}
			}, "alice", booking.ErrHoldBusy},
			{"a paid hold is already paid", func(t *testing.T, m *mini, h booking.Hold) {
				if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
					t.Fatal(err)
				}
				if err := m.svc.MarkSold(ctx, 1, h.ID); err != nil {
					t.Fatal(err)
				}
			}, "alice", booking.ErrAlreadyPaid},
			{"a claim whose lease ran out is expired", func(t *testing.T, m *mini, h booking.Hold) {
				if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
					t.Fatal(err)
				}
				m.advance(ttl + time.Minute)
			}, "alice", booking.ErrHoldExpired},
			{"the seat lock lost while the record lives is expired", func(t *testing.T, m *mini, h booking.Hold) {
				m.mr.Del(m.keys.Concert(1).Seat(firstDay, h.Seat))
			}, "alice", booking.ErrHoldExpired},
		} {
			t.Run(tc.name, func(t *testing.T) {
				m := newMini(t, db, booking.Config{HoldTTL: ttl, ClaimLease: time.Minute})
				h := hold(t, m, "alice", 1)
				if tc.setup != nil {
					tc.setup(t, m, h)
				}
				if _, err := m.svc.ClaimHold(ctx, 1, h.ID, tc.user); !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
			})
		}
	})

	t.Run("an unknown hold is not found", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		if _, err := m.svc.ClaimHold(ctx, 1, 123450001, "alice"); !errors.Is(err, booking.ErrHoldNotFound) {
			t.Fatalf("err = %v, want ErrHoldNotFound", err)
		}
	})

	t.Run("a claimed hold does not lapse while the payment runs", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl, ClaimLease: time.Minute})
		h := hold(t, m, "alice", 1)
		m.advance(ttl - time.Second)
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		m.advance(30 * time.Second) // past the hold's expiry, within the lease
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 1); !errors.Is(err, booking.ErrSeatTaken) {
			t.Fatalf("hold of a seat being paid: err = %v, want ErrSeatTaken", err)
		}
		seats, err := m.svc.AvailableSeats(ctx, 1, firstDay)
		if err != nil {
			t.Fatal(err)
		}
		if contains(seats, 1) {
			t.Errorf("seat being paid is listed: %v", seats)
		}
	})

	t.Run("MarkSold sells the seat and frees the user's slot", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl, MaxHoldsPerUser: 1})
		h := hold(t, m, "alice", 1)
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := m.svc.MarkSold(ctx, 1, h.ID); err != nil {
			t.Fatal(err)
		}
		if err := m.svc.MarkSold(ctx, 1, h.ID); err != nil {
			t.Fatalf("MarkSold again: %v", err)
		}
		// The lock says "sold" until 72 hours after the date's UTC
		// midnight, when the date can no longer be held.
		lock := m.keys.Concert(1).Seat(firstDay, 1)
		life := time.Date(2030, 1, 5, 0, 0, 0, 0, time.UTC).Sub(start)
		if v, _ := m.mr.Get(lock); v != "sold" || m.mr.TTL(lock) != life {
			t.Errorf("seat lock %q (ttl %v), want \"sold\" for %v", v, m.mr.TTL(lock), life)
		}
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 2); err != nil {
			t.Fatalf("alice's slot not freed: %v", err)
		}
		m.advance(10 * ttl)
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 1); !errors.Is(err, booking.ErrSeatTaken) {
			t.Fatalf("sold seat: err = %v, want ErrSeatTaken", err)
		}
	})

	t.Run("UnclaimHold before expiry makes the hold live again", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		h := hold(t, m, "alice", 1)
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := m.svc.UnclaimHold(ctx, 1, h.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 1); !errors.Is(err, booking.ErrSeatTaken) {
			t.Fatalf("unclaimed live hold: err = %v, want ErrSeatTaken", err)
		}
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
			t.Fatalf("claim again: %v", err)
		}
		if err := m.svc.UnclaimHold(ctx, 1, h.ID); err != nil {
			t.Fatal(err)
		}
		m.advance(ttl) // the original expiry still rules
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); !errors.Is(err, booking.ErrHoldExpired) {
			t.Fatalf("after the original expiry: err = %v, want ErrHoldExpired", err)
		}
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 1); err != nil {
			t.Fatalf("seat not free after the original expiry: %v", err)
		}
	})

	t.Run("UnclaimHold past expiry lets the hold lapse at once", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl, ClaimLease: time.Minute, MaxHoldsPerUser: 1})
		h := hold(t, m, "alice", 1)
		m.advance(ttl - time.Second)
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); err != nil {
			t.Fatal(err)
		}
		m.advance(10 * time.Second)
		if err := m.svc.UnclaimHold(ctx, 1, h.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := m.svc.ClaimHold(ctx, 1, h.ID, "alice"); !errors.Is(err, booking.ErrHoldExpired) {
			t.Fatalf("err = %v, want ErrHoldExpired", err)
		}
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 1); err != nil {
			t.Fatalf("seat or slot not freed: %v", err)
		}
	})

	t.Run("UnclaimHold of an unknown hold is not found", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		if err := m.svc.UnclaimHold(ctx, 1, 50001); !errors.Is(err, booking.ErrHoldNotFound) {
			t.Fatalf("err = %v, want ErrHoldNotFound", err)
		}
	})

	t.Run("a paid hold Redis forgot is already paid for its owner only", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		id := reservedID(t, db)
		sellInPostgres(t, db, 1, firstDay, 9, id, "dave")
		if _, err := m.svc.ClaimHold(ctx, 1, id, "dave"); !errors.Is(err, booking.ErrAlreadyPaid) {
			t.Fatalf("owner: err = %v, want ErrAlreadyPaid", err)
		}
		if _, err := m.svc.ClaimHold(ctx, 1, id, "erin"); !errors.Is(err, booking.ErrHoldNotFound) {
			t.Fatalf("other user: err = %v, want ErrHoldNotFound", err)
		}
		if err := m.svc.MarkSold(ctx, 1, id); err != nil {
			t.Fatalf("MarkSold from Postgres: %v", err)
		}
		if err := m.svc.MarkSold(ctx, 1, 7780001); !errors.Is(err, booking.ErrHoldNotFound) {
			t.Fatalf("MarkSold of an unknown hold: err = %v, want ErrHoldNotFound", err)
		}
	})
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestHoldWithAGate(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 1, 10)
	ctx := context.Background()
	gateKey := keyspace.New("").Concert(1).Active()
	gate := booking.Gate{Key: gateKey, Member: "7:alice"}

	t.Run("OpenGateHolds", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		m.rdb.ZAdd(ctx, gateKey, redis.Z{Score: float64(start.Add(time.Minute).UnixMilli()), Member: gate.Member})
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 1, gate); err != nil {
			t.Fatalf("open gate: %v", err)
		}
	})
	t.Run("ErrGateClosedWhenAbsentOrLapsed", func(t *testing.T) {
		m := newMini(t, db, booking.Config{HoldTTL: ttl})
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 1, gate); !errors.Is(err, booking.ErrGateClosed) {
			t.Fatalf("absent gate: %v, want ErrGateClosed", err)
		}
		// A gate with no member admits no one, even with an empty member in the set.
		m.rdb.ZAdd(ctx, gateKey, redis.Z{Score: float64(start.Add(time.Hour).UnixMilli()), Member: ""})
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 1, booking.Gate{Key: gateKey}); !errors.Is(err, booking.ErrGateClosed) {
			t.Fatalf("gate without a member: %v, want ErrGateClosed", err)
		}
		m.rdb.ZAdd(ctx, gateKey, redis.Z{Score: float64(start.Add(time.Minute).UnixMilli()), Member: gate.Member})
		m.advance(time.Minute)
		if _, err := m.svc.Hold(ctx, 1, "alice", firstDay, 1, gate); !errors.Is(err, booking.ErrGateClosed) {
			t.Fatalf("lapsed gate: %v, want ErrGateClosed", err)
		}
		// A closed gate changes nothing: the seat is still free for anyone.
		if seats, _ := m.svc.AvailableSeats(ctx, 1, firstDay); len(seats) != 10 {
			t.Errorf("available after refused holds = %v, want all 10", seats)
		}
		if _, err := m.svc.Hold(ctx, 1, "bob", firstDay, 1); err != nil {
			t.Errorf("the seat was taken by a refused hold: %v", err)
		}
	})
}

func TestTheUsersHoldSetOutlivesEveryLiveHold(t *testing.T) {
	db, _ := testenv.Postgres(t)
	createConcert(t, db, 1, 1, 10)
	ctx := context.Background()
	m := newMini(t, db, booking.Config{HoldTTL: ttl, MaxHoldsPerUser: 4})
	key := m.keys.Concert(1).UserHolds("alice")
	for seat := 1; seat <= 4; seat++ {
		h, err := m.svc.Hold(ctx, 1, "alice", firstDay, seat)
		if err != nil {
			t.Fatal(err)
		}
		left := m.mr.TTL(key)
		if until := h.ExpiresAt.Sub(m.clock.Now()); left <= until {
			t.Fatalf("after hold %d the set lives %v more, the hold %v", seat, left, until)
		}
		m.advance(ttl - time.Minute) // the earlier holds are near their end
	}
}
