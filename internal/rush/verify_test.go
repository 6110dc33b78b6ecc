package rush_test

import (
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/rush"
)

// sound is a small record that keeps every rule: two users bought, a third
// found the rush sold out.
func sound() rush.Record {
	return rush.Record{
		Users: []rush.UserRecord{
			{ID: "a", TokenID: 1, EnteredAt: 0, LastWaitingSent: 10 * ms, FirstActiveRecv: 100 * ms, Charged: 15000, Paid: 10000, Balance: 5000, BalanceKnown: true},
			{ID: "b", TokenID: 2, EnteredAt: 0, LastWaitingSent: 90 * ms, FirstActiveRecv: 200 * ms, Charged: 10000, Paid: 10000, Balance: 0, BalanceKnown: true},
			{ID: "c", TokenID: 3, EnteredAt: 0, LastWaitingSent: 150 * ms, FirstActiveRecv: 300 * ms},
		},
		Sales: []rush.Sale{
			{User: "a", ReservationID: 11, PaymentID: 21, Date: "2030-01-01", Seat: 1, Amount: 10000},
			{User: "b", ReservationID: 12, PaymentID: 22, Date: "2030-01-01", Seat: 2, Amount: 10000},
		},
		Replays: []rush.Replay{{User: "a", ReservationID: 11, FirstPaymentID: 21, Status: 201, PaymentID: 21}},
		Offered: map[string][]int{"2030-01-01": {1, 2}},
	}
}

const ms = time.Millisecond

func TestVerify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		breaks func(*rush.Record)
		slack  time.Duration
		want   string // the rule that must break; "" for none
	}{
		{name: "OK", breaks: func(*rush.Record) {}},
		{name: "a seat sold twice", want: rush.CheckSeatOnce, breaks: func(r *rush.Record) {
			r.Sales[1].Seat = 1
		}},
		{name: "a reservation paid twice", want: rush.CheckSeatOnce, breaks: func(r *rush.Record) {
			r.Sales = append(r.Sales, rush.Sale{User: "c", ReservationID: 11, PaymentID: 23, Date: "2030-01-01", Seat: 3, Amount: 10000})
			r.Offered["2030-01-01"] = []int{1, 2, 3}
			r.Users[2].Charged, r.Users[2].Paid, r.Users[2].BalanceKnown = 10000, 10000, true
		}},
		{name: "more seats sold than offered", want: rush.CheckWithinOffer, breaks: func(r *rush.Record) {
			r.SeatsOffered = 1
		}},
		{name: "a seat sold that was never listed", want: rush.CheckWithinOffer, breaks: func(r *rush.Record) {
			r.Sales[1].Seat = 7
		}},
		{name: "a payment that debited nothing", want: rush.CheckMoney, breaks: func(r *rush.Record) {
			r.Users[1].Balance = 10000
		}},
		{name: "a sale missing from the user's payments", want: rush.CheckMoney, breaks: func(r *rush.Record) {
			r.Users[1].Paid = 0
		}},
		{name: "a balance never read", want: rush.CheckMoney, breaks: func(r *rush.Record) {
			r.Users[0].BalanceKnown = false
		}},
		{name: "an uncertain ledger is set aside, not judged", breaks: func(r *rush.Record) {
			r.Users[1].Balance, r.Users[1].Uncertain = 12345, true
		}},
		{name: "an earlier token still waiting after a later one was active", want: rush.CheckFIFO, breaks: func(r *rush.Record) {
			r.Users[0].LastWaitingSent = 250 * ms // c (token 3) was active at 300ms; b (token 2) at 200ms
		}},
		{name: "an earlier token never admitted while a later one was", want: rush.CheckFIFO, breaks: func(r *rush.Record) {
			r.Users[0].FirstActiveRecv, r.Users[0].LastWaitingSent = -1, 400*ms
		}},
		{name: "overlapping windows are no proof of disorder", breaks: func(r *rush.Record) {
			r.Users[0].LastWaitingSent = 199 * ms // b was seen active at 200ms: a may have been admitted just before
		}},
		{name: "slack forgives replicas' lag", slack: 100 * ms, breaks: func(r *rush.Record) {
			r.Users[0].LastWaitingSent = 250 * ms
		}},
		{name: "one token id for two users", want: rush.CheckFIFO, breaks: func(r *rush.Record) {
			r.Users[2].TokenID = 2
		}},
		{name: "a replay that paid again", want: rush.CheckReplay, breaks: func(r *rush.Record) {
			r.Replays[0].PaymentID = 99
		}},
		{name: "admission still while someone waited and a seat was free", want: rush.CheckUnsold, breaks: func(r *rush.Record) {
			r.Line = line(7, func(i int, s *rush.LineSample) {})
		}},
		{name: "a stall shorter than the limit is not one", breaks: func(r *rush.Record) {
			r.Line = line(7, func(i int, s *rush.LineSample) { s.AdmittedTotal += int64(i / 4) })
		}},
		{name: "admission that moves, or only skips, is no stall", breaks: func(r *rush.Record) {
			r.Line = line(7, func(i int, s *rush.LineSample) {
				if i%2 == 0 {
					s.AdmittedTotal += int64(i)
				} else {
					s.SkippedTotal += int64(i)
				}
			})
		}},
		{name: "a pause, no seat free, a full house or a scheduled sale hold admission back by right", breaks: func(r *rush.Record) {
			r.Line = line(28, func(i int, s *rush.LineSample) {
				switch i / 7 {
				case 0:
					s.Paused = true
				case 1:
					s.FreeSeats = 0
				case 2:
					s.Active = s.MaxActive
				case 3:
					s.State = "scheduled"
				}
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := sound()
			tc.breaks(&rec)
			invs := rush.Verify(rec, tc.slack)
			for _, inv := range invs {
				broken := !inv.OK()
				if want := inv.Name == tc.want; broken != want {
					t.Errorf("%s: violations = %d (%v), want broken = %v", inv.Name, inv.Violations, inv.Examples, want)
				}
			}
			if got := rush.Violations(invs); (got > 0) != (tc.want != "") {
				t.Errorf("Violations = %d", got)
			}
		})
	}
}

// line is n readings a second of a line where admission has every reason
// to move and does not, as change leaves them.
func line(n int, change func(i int, s *rush.LineSample)) []rush.LineSample {
	var out []rush.LineSample
	for i := 0; i < n; i++ {
		s := rush.LineSample{At: time.Duration(i) * time.Second, Waiting: 50, Active: 10, MaxActive: 100, Rate: 10,
			State: "open", FreeSeats: 3, AdmittedTotal: 40, SkippedTotal: 2}
		change(i, &s)
		out = append(out, s)
	}
	return out
}
