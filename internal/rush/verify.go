package rush

import (
	"fmt"
	"sort"
	"time"
)

// Record is what a rush observed, as raw facts: every user's token and the
// moments the gateway told it "waiting" and "active", its money, and every
// sale it was granted. Verify judges a Record; keeping the facts apart from
// the judging lets a test hand Verify a record that is broken on purpose.
type Record struct {
	// Users, in no particular order.
	Users []UserRecord `json:"users"`
	// Sales are the successful payments (201), each once.
	Sales []Sale `json:"sales"`
	// Replays are payments sent a second time with the same Idempotency-Key.
	Replays []Replay `json:"replays"`
	// Offered is, per date, every seat number ever listed as available.
	Offered map[string][]int `json:"offered"`
	// SeatsOffered is how many seats the concert offers in all, when known
	// (0: unknown; the seats ever listed stand in for it).
	SeatsOffered int `json:"seats_offered"`
}

// UserRecord is one simulated user. Times are offsets from the start of the
// run, read on the monotonic clock.
type UserRecord struct {
	ID      string `json:"id"`
	TokenID int64  `json:"token_id"` // 0: never got a token
	// EnteredAt is when the token was received.
	EnteredAt time.Duration `json:"entered_at"`
	// LastWaitingSent is when the last request that was answered "waiting"
	// was sent: the gateway still held the token waiting at some moment
	// after it. -1 when no answer said waiting.
	LastWaitingSent time.Duration `json:"last_waiting_sent"`
	// FirstActiveRecv is when the first answer that said "active" was
	// received: the token was admitted at some moment before it. -1 when the
	// user was never seen active.
	FirstActiveRecv time.Duration `json:"first_active_recv"`
	// Charged and Paid are the sums of successful top-ups and payments.
	Charged int64 `json:"charged"`
	Paid    int64 `json:"paid"`
	// Balance is the balance read at the end (GET /api/pay); BalanceKnown
	// is false when it could not be read.
	Balance      int64 `json:"balance"`
	BalanceKnown bool  `json:"balance_known"`
	// Uncertain is set when a charge or payment had an unknown outcome (a
	// transport error, or the run's deadline cut it): the user's ledger
	// cannot be checked and is counted apart.
	Uncertain bool   `json:"uncertain"`
	Outcome   string `json:"outcome"`
	// SoldOutSeen is when the gateway first told this user the concert was
	// sold out (a poll or an entry); 0 when it never did.
	SoldOutSeen time.Duration `json:"sold_out_seen,omitempty"`
}

// Admitted reports whether the user was seen active.
func (u UserRecord) Admitted() bool { return u.FirstActiveRecv >= 0 }

// Sale is one successful payment.
type Sale struct {
	User          string `json:"user"`
	ReservationID int64  `json:"reservation_id"`
	PaymentID     int64  `json:"payment_id"`
	Date          string `json:"date"`
	Seat          int    `json:"seat"`
	Amount        int64  `json:"amount"`
}

// Replay is a payment sent again with the same Idempotency-Key after it
// succeeded: the gateway must answer with the first payment, not a second.
type Replay struct {
	User           string `json:"user"`
	ReservationID  int64  `json:"reservation_id"`
	FirstPaymentID int64  `json:"first_payment_id"`
	// Status and PaymentID are the replay's answer.
	Status    int   `json:"status"`
	PaymentID int64 `json:"payment_id"`
}

// The invariants Verify checks.
const (
	CheckSeatOnce      = "seat_sold_once"
	CheckWithinOffer   = "seats_within_offer"
	CheckMoney         = "money_conserved"
	CheckFIFO          = "admission_fifo"
	CheckReplay        = "payment_replay"
	maxExamplesPerRule = 5
)

// Invariant is the verdict on one rule.
type Invariant struct {
	Name string `json:"name"`
	// Rule says, in a sentence, what is checked.
	Rule string `json:"rule"`
	// Checked is how many items were judged (sales, users, pairs...).
	Checked    int      `json:"checked"`
	Violations int      `json:"violations"`
	Examples   []string `json:"examples,omitempty"`
	// Skipped counts items that could not be judged (e.g. a ledger with an
	// unknown outcome); they are not violations.
	Skipped int `json:"skipped,omitempty"`
}

// OK reports whether the rule holds.
func (i Invariant) OK() bool { return i.Violations == 0 }

func (i *Invariant) fail(format string, args ...any) {
	i.Violations++
	if len(i.Examples) < maxExamplesPerRule {
		i.Examples = append(i.Examples, fmt.Sprintf(format, args...))
	}
}

// Verify judges rec. orderSlack widens the admission-order check for
// deployments whose replicas see the admission head at different moments
// (see CheckFIFO); 0 is exact for a single replica.
func Verify(rec Record, orderSlack time.Duration) []Invariant {
	return []Invariant{
		seatOnce(rec),
		withinOffer(rec),
		money(rec),
		fifo(rec, orderSlack),
		replays(rec),
	}
}

// Violations is the number of broken rules' violations in all.
func Violations(inv []Invariant) int {
	n := 0
	for _, i := range inv {
		n += i.Violations
	}
	return n
}

func seatOnce(rec Record) Invariant {
	inv := Invariant{Name: CheckSeatOnce, Rule: "no date+seat, reservation or payment id appears in two successful payments", Checked: len(rec.Sales)}
	seats := make(map[string]Sale, len(rec.Sales))
	reservations := make(map[int64]Sale, len(rec.Sales))
	payments := make(map[int64]Sale, len(rec.Sales))
	for _, s := range rec.Sales {
		k := fmt.Sprintf("%s#%d", s.Date, s.Seat)
		if o, dup := seats[k]; dup {
			inv.fail("seat %s sold to %s (payment %d) and to %s (payment %d)", k, o.User, o.PaymentID, s.User, s.PaymentID)
		}
		seats[k] = s
		if o, dup := reservations[s.ReservationID]; dup {
			inv.fail("reservation %d paid by %s and by %s", s.ReservationID, o.User, s.User)
		}
		reservations[s.ReservationID] = s
		if o, dup := payments[s.PaymentID]; dup {
			inv.fail("payment id %d granted to %s and to %s", s.PaymentID, o.User, s.User)
		}
		payments[s.PaymentID] = s
	}
	return inv
}

func withinOffer(rec Record) Invariant {
	inv := Invariant{Name: CheckWithinOffer, Rule: "seats sold <= seats offered, and every seat sold was once listed available", Checked: len(rec.Sales)}
	offered := make(map[string]map[int]bool, len(rec.Offered))
	listed := 0
	for day, seats := range rec.Offered {
		m := make(map[int]bool, len(seats))
		for _, s := range seats {
			m[s] = true
		}
		offered[day] = m
		listed += len(m)
	}
	total := rec.SeatsOffered
	if total == 0 {
		total = listed
	}
	if len(rec.Sales) > total {
		inv.fail("%d seats sold, %d offered", len(rec.Sales), total)
	}
	for _, s := range rec.Sales {
		if !offered[s.Date][s.Seat] {
			inv.fail("seat %s#%d sold to %s was never listed available", s.Date, s.Seat, s.User)
		}
	}
	return inv
}

func money(rec Record) Invariant {
	inv := Invariant{Name: CheckMoney, Rule: "for every user who was charged: charges - payments = final balance (GET /api/pay)"}
	paid := make(map[string]int64)
	for _, s := range rec.Sales {
		paid[s.User] += s.Amount
	}
	for _, u := range rec.Users {
		if u.Charged == 0 && u.Paid == 0 && paid[u.ID] == 0 {
			continue
		}
		if u.Uncertain {
			inv.Skipped++
			continue
		}
		inv.Checked++
		if u.Paid != paid[u.ID] {
			inv.fail("user %s: paid %d by its receipts but %d by its sales", u.ID, u.Paid, paid[u.ID])
			continue
		}
		if !u.BalanceKnown {
			inv.fail("user %s: final balance could not be read", u.ID)
			continue
		}
		if want := u.Charged - u.Paid; u.Balance != want {
			inv.fail("user %s: charged %d, paid %d, balance %d (want %d)", u.ID, u.Charged, u.Paid, u.Balance, want)
		}
	}
	return inv
}

// fifo checks that no token was admitted after a later one. A user's
// admission happened after LastWaitingSent (an answer sent then still said
// waiting) and before FirstActiveRecv (an answer received then said active).
// Admission being strict FIFO, a token A issued before B (smaller token_id)
// is admitted no later than B. It is proven broken when the gateway still
// said A was waiting in a request sent after B was already seen active:
// LastWaitingSent(A) > FirstActiveRecv(B). Poll intervals only widen the
// windows, so a sound check needs no allowance for them; the request's own
// flight time is on the safe side at both ends. slack allows for replicas
// whose copies of the admission head lag one another.
func fifo(rec Record, slack time.Duration) Invariant {
	inv := Invariant{Name: CheckFIFO, Rule: fmt.Sprintf("no user still waiting (request sent) after a user with a later token_id was seen active (answer received), slack %v", slack)}
	users := make([]UserRecord, 0, len(rec.Users))
	for _, u := range rec.Users {
		if u.TokenID > 0 {
			users = append(users, u)
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].TokenID < users[j].TokenID })
	inv.Checked = len(users)
	const never = time.Duration(1<<63 - 1)
	minActive, minUser := never, UserRecord{}
	for i := len(users) - 1; i >= 0; i-- {
		a := users[i]
		if i+1 < len(users) && users[i+1].TokenID == a.TokenID {
			inv.fail("token_id %d given to %s and to %s", a.TokenID, a.ID, users[i+1].ID)
		}
		if a.LastWaitingSent >= 0 && minActive != never && a.LastWaitingSent > minActive+slack {
			inv.fail("token %d (%s) still waiting at %v, but token %d (%s) was active by %v",
				a.TokenID, a.ID, a.LastWaitingSent.Round(time.Millisecond), minUser.TokenID, minUser.ID, minActive.Round(time.Millisecond))
		}
		if a.Admitted() && a.FirstActiveRecv < minActive {
			minActive, minUser = a.FirstActiveRecv, a
		}
	}
	return inv
}

func replays(rec Record) Invariant {
	inv := Invariant{Name: CheckReplay, Rule: "a payment sent again with its Idempotency-Key answers 201 with the first payment_id", Checked: len(rec.Replays)}
	for _, r := range rec.Replays {
		if r.Status != 201 || r.PaymentID != r.FirstPaymentID {
			inv.fail("user %s reservation %d: replay answered %d payment %d, first was payment %d", r.User, r.ReservationID, r.Status, r.PaymentID, r.FirstPaymentID)
		}
	}
	return inv
}
