package booking_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rushgate/rushgate/booking"
)

// A hold's life on the real Redis, its record a string as this version
// writes it or a hash as an older one did: the claim, unclaim and sell
// scripts and Go's reading of records must serve both, each in its form.
func TestHoldRecordFormsOnRealRedis(t *testing.T) {
	env := newReal(t, booking.Config{HoldTTL: ttl, ClaimLease: time.Minute, MaxHoldsPerUser: 2}, 1, 10)
	ctx := context.Background()
	kc := env.keys.Concert(1)
	for i, form := range []string{"string", "hash"} {
		t.Run(form, func(t *testing.T) {
			user := "fan-" + form
			h, err := env.svc.Hold(ctx, 1, user, firstDay, i+1)
			if err != nil {
				t.Fatal(err)
			}
			key := kc.Hold(h.ID)
			if form == "hash" {
				toHashRecord(t, env.rdb, key)
			}
			check := func(step string, want map[string]string) {
				t.Helper()
				if kind, err := env.rdb.Type(ctx, key).Result(); err != nil || kind != form {
					t.Fatalf("%s: record is a %q (%v), want a %s", step, kind, err, form)
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
			check("held", with("held", ""))

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
			check("unclaimed", with("held", ""))
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
