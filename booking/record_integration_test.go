package booking_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
)

// A hold's life on the real Redis, its record the member of the user's set
// or a string of its own key as this version writes them, or a hash as an
// older one did: the claim, unclaim and sell scripts and Go's reading of
// records must serve each, in its form (a claim moves a record in the set
// to a string of its own key).
func TestHoldRecordFormsOnRealRedis(t *testing.T) {
	ctx := context.Background()
	for _, form := range []string{"user-set", "string", "hash"} {
		t.Run(form, func(t *testing.T) {
			records := booking.RecordsInOwnKey
			if form == "user-set" {
				records = booking.RecordsInUserSet
			}
			env := newReal(t, booking.Config{HoldTTL: ttl, ClaimLease: time.Minute, MaxHoldsPerUser: 2, HoldRecords: records}, 1, 10)
			kc := env.keys.Concert(1)
			user := "fan-" + form
			h, err := env.svc.Hold(ctx, 1, user, firstDay, 1)
			if err != nil {
				t.Fatal(err)
			}
			key := kc.Hold(h.ID)
			if form == "hash" {
				toHashRecord(t, env.rdb, key)
			}
			kind := form
			if form == "user-set" {
				members, err := env.rdb.ZRange(ctx, kc.UserHolds(user), 0, -1).Result()
				want := fmt.Sprintf("%d|held||%d|10000|1|%s", h.ID, h.ExpiresAt.UnixMilli(), firstDay)
				if err != nil || len(members) != 1 || members[0] != want {
					t.Fatalf("user's set %v (%v), want [%s]", members, err, want)
				}
				if n, err := env.rdb.Exists(ctx, key).Result(); err != nil || n != 0 {
					t.Fatalf("record key of a hold in the user's set: %d (%v)", n, err)
				}
				kind = "string"
			}
			check := func(step string, want map[string]string) {
				t.Helper()
				if got, err := env.rdb.Type(ctx, key).Result(); err != nil || got != kind {
					t.Fatalf("%s: record is a %q (%v), want a %s", step, got, err, kind)
				}
				got, err := recordFields(ctx, env.rdb, key)
				if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s: record %v (%v), want %v", step, got, err, want)
				}
			}
			exp := fmt.Sprint(h.ExpiresAt.UnixMilli())
			base := map[string]string{"user": user, "date": firstDay, "seat": fmt.Sprint(h.Seat), "price": "10000", "exp": exp}
			with := func(state, lease string) map[string]string {
				m := map[string]string{"state": state}
				if lease != "" {
					m["lease"] = lease
				}
				for k, v := range base {
					m[k] = v
				}
				return m
			}
			if form != "user-set" {
				check("held", with("held", ""))
			}

			got, err := env.svc.ClaimHold(ctx, 1, h.ID, user)
			if err != nil || got != h {
				t.Fatalf("claim = %+v, %v; want %+v", got, err, h)
			}
			// The lease is the later of the expiry and now + ClaimLease:
			// here the expiry.
			check("claimed", with("claimed", exp))
			if _, err := env.svc.ClaimHold(ctx, 1, h.ID, user); !errors.Is(err, booking.ErrHoldBusy) {
				t.Fatalf("claim again: err = %v, want ErrHoldBusy", err)
			}
			if err := env.svc.UnclaimHold(ctx, 1, h.ID); err != nil {
				t.Fatal(err)
			}
			if form == "user-set" {
				// Given back as it was: the member alone, the key gone.
				if got, err := recordFields(ctx, env.rdb, key); err != nil || len(got) != 0 {
					t.Fatalf("unclaimed: record key %v (%v), want none", got, err)
				}
				kind = "string"
			} else {
				check("unclaimed", with("held", ""))
			}
			if _, err := env.svc.Hold(ctx, 1, "other", firstDay, h.Seat); !errors.Is(err, booking.ErrSeatTaken) {
				t.Fatalf("hold of the unclaimed seat: err = %v, want ErrSeatTaken", err)
			}
			if _, err := env.svc.ClaimHold(ctx, 1, h.ID, user); err != nil {
				t.Fatal(err)
			}
			if err := env.svc.MarkSold(ctx, 1, h.ID); err != nil {
				t.Fatal(err)
			}
			check("paid", with("paid", ""))
			if ttl, err := env.rdb.PTTL(ctx, key).Result(); err != nil || ttl <= 23*time.Hour || ttl > 24*time.Hour {
				t.Errorf("paid record ttl = %v (%v), want a day", ttl, err)
			}
			if _, err := env.svc.ClaimHold(ctx, 1, h.ID, user); !errors.Is(err, booking.ErrAlreadyPaid) {
				t.Fatalf("claim of a paid hold: err = %v, want ErrAlreadyPaid", err)
			}
			if err := env.svc.MarkSold(ctx, 1, h.ID); err != nil {
				t.Fatalf("MarkSold again: %v", err)
			}
			if _, err := env.svc.Hold(ctx, 1, "other", firstDay, h.Seat); !errors.Is(err, booking.ErrSeatTaken) {
				t.Fatalf("hold of the sold seat: err = %v, want ErrSeatTaken", err)
			}
		})
	}
}

// While HOLD_RECORDS changes across a deployment, replicas writing either
// form serve one Redis: each hold is claimed, given back, claimed again and
// sold through a replica of the other form, and a user's hold limit counts
// the holds of both forms alike.
func TestReplicasWritingEitherRecordFormServeEachOthersHolds(t *testing.T) {
	cfg := booking.Config{HoldTTL: ttl, ClaimLease: time.Minute, MaxHoldsPerUser: 3, HoldRecords: booking.RecordsInOwnKey}
	env := newReal(t, cfg, 1, 10)
	cfg.HoldRecords = booking.RecordsInUserSet
	replicas := map[string]*booking.Service{
		booking.RecordsInOwnKey:  env.svc,
		booking.RecordsInUserSet: booking.NewService(env.db, env.rdb, env.keys, cfg),
	}
	other := map[string]string{booking.RecordsInOwnKey: booking.RecordsInUserSet, booking.RecordsInUserSet: booking.RecordsInOwnKey}
	ctx := context.Background()
	const user = "fan"
	var holds []booking.Hold
	var madeBy []string
	for seat, form := range []string{booking.RecordsInOwnKey, booking.RecordsInUserSet, booking.RecordsInOwnKey} {
		h, err := replicas[form].Hold(ctx, 1, user, firstDay, seat+1)
		if err != nil {
			t.Fatalf("hold of seat %d by the %s replica: %v", seat+1, form, err)
		}
		holds, madeBy = append(holds, h), append(madeBy, form)
	}
	for form, svc := range replicas {
		if _, err := svc.Hold(ctx, 1, user, firstDay, 9); !errors.Is(err, booking.ErrHoldLimit) {
			t.Fatalf("fourth hold by the %s replica: err = %v, want ErrHoldLimit", form, err)
		}
	}
	for i, h := range holds[:2] {
		svc := replicas[other[madeBy[i]]]
		got, err := svc.ClaimHold(ctx, 1, h.ID, user)
		if err != nil || got != h {
			t.Fatalf("claim of %s's hold by the other replica = %+v, %v; want %+v", madeBy[i], got, err, h)
		}
		if err := svc.UnclaimHold(ctx, 1, h.ID); err != nil {
			t.Fatalf("unclaim: %v", err)
		}
		// Given back, it is claimed again through the replica that made it.
		if _, err := replicas[madeBy[i]].ClaimHold(ctx, 1, h.ID, user); err != nil {
			t.Fatalf("claim again: %v", err)
		}
		if err := svc.MarkSold(ctx, 1, h.ID); err != nil {
			t.Fatalf("sale: %v", err)
		}
		for form, s := range replicas {
			if _, err := s.ClaimHold(ctx, 1, h.ID, user); !errors.Is(err, booking.ErrAlreadyPaid) {
				t.Fatalf("claim of the paid hold by the %s replica: err = %v, want ErrAlreadyPaid", form, err)
			}
			if _, err := s.Hold(ctx, 1, "someone", firstDay, h.Seat); !errors.Is(err, booking.ErrSeatTaken) {
				t.Fatalf("hold of the sold seat by the %s replica: err = %v, want ErrSeatTaken", form, err)
			}
		}
	}
	// Two sales freed two of the user's three places.
	for _, seat := range []int{9, 10} {
		if _, err := replicas[booking.RecordsInUserSet].Hold(ctx, 1, user, firstDay, seat); err != nil {
			t.Fatalf("hold of seat %d after two sales: %v", seat, err)
		}
	}
	if _, err := env.svc.Hold(ctx, 1, user, firstDay, 8); !errors.Is(err, booking.ErrHoldLimit) {
		t.Fatalf("a fourth live hold: err = %v, want ErrHoldLimit", err)
	}
}
