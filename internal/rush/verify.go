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
	// AdmittedTotal is admitted_total's growth over the run (GET
	// /admin/queue; 0 when not read) and SilentAdmissions the part of it no
	// user saw: admissions of tokens that had stopped polling.
	AdmittedTotal    int64 `json:"admitted_total_delta"`
	SilentAdmissions int64 `json:"silent_admissions"`
	// Line is the line as GET /admin/queue showed it, about once a second,
	// oldest first (empty when not read).
	Line []LineSample `json:"line,omitempty"`
}

// LineSample is one reading of GET /admin/queue, at the moment half-way
// through the request.
type LineSample struct {
	At            time.Duration `json:"at"`
	Waiting       int64         `json:"waiting"`
	Active        int64         `json:"active"`
	MaxActive     int64         `json:"max_active"`
	Rate          float64       `json:"admit_per_second"`
	Paused        bool          `json:"paused"`
	State         string        `json:"state"`
	FreeSeats     int64         `json:"free_seats"` // -1: unknown
	AdmittedTotal int64         `json:"admitted_total"`
	SkippedTotal  int64         `json:"skipped_inactive_total"`
}

// admitting reports whether, at s, admission had every reason to move: people
// waiting, a seat free as admission saw it, the sale open and not paused, a
// rate, and room under max_active.
func (s LineSample) admitting() bool {
	return s.Waiting > 0 && s.FreeSeats > 0 && s.State == "open" && !s.Paused && s.Rate > 0 && s.Active < s.MaxActive
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
	// Prequeue is set for a user who entered before the scheduled open;
	// Place is their place in line (from the draw; later arrivals behind
	// them by token id), 0 when unknown: token_id orders the line then.
	Prequeue bool  `json:"prequeue,omitempty"`
	Place    int64 `json:"place,omitempty"`
	// Role is "abandon" or "return" for users who go silent on purpose;
	// Left is set once they did.
	Role string `json:"role,omitempty"`
	Left bool   `json:"left,omitempty"`
}

// Admitted reports whether the user was seen active.
func (u UserRecord) Admitted() bool { return u.FirstActiveRecv >= 0 }

// Sale is one successful payment.
type Sale struct {
	At            time.Duration `json:"at"` // when the payment's answer arrived
	User          string        `json:"user"`
	ReservationID int64         `json:"reservation_id"`
	PaymentID     int64         `json:"payment_id"`
	Date          string        `json:"date"`
	Seat          int           `json:"seat"`
	Amount        int64         `json:"amount"`
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
	CheckSeatOnce     = "seat_sold_once"
	CheckWithinOffer  = "seats_within_offer"
	CheckMoney        = "money_conserved"
	CheckFIFO         = "admission_fifo"
	CheckReplay       = "payment_replay"
	CheckSilent       = "silent_admissions"
	CheckSoldOutPolls = "sold_out_answers"
	CheckUnsold       = "unsold_while_waiting"
	// MaxSilentShare is the most admissions that may go to tokens that had
	// stopped polling.
	MaxSilentShare = 0.02
	// SoldOutGrace is how long after the last seat sold a poll may still be
	// answered with anything but sold_out.
	SoldOutGrace = 10 * time.Second
	// StallLimit is the longest admission may stand still (nobody admitted
	// or skipped) while people wait and a seat is free (see unsold).
	StallLimit         = 5 * time.Second
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
		silent(rec),
		soldOutAnswers(rec),
		unsold(rec),
	}
}

// silent checks that admission was not spent on users who had left: the
// admissions (admitted_total's growth over the run) that no user ever saw
// are those of tokens that stopped polling. Judged only when some users
// leave and the admin view was read.
func silent(rec Record) Invariant {
	inv := Invariant{Name: CheckSilent, Rule: fmt.Sprintf("admissions of tokens that had stopped polling <= %.0f%% of admissions", MaxSilentShare*100)}
	left := 0
	for _, u := range rec.Users {
		if u.Left {
			left++
		}
	}
	if left == 0 || rec.AdmittedTotal <= 0 {
		return inv
	}
	inv.Checked = int(rec.AdmittedTotal)
	if share := float64(rec.SilentAdmissions) / float64(rec.AdmittedTotal); share > MaxSilentShare {
		inv.fail("%d of %d admissions (%.2f%%) went to tokens that had stopped polling", rec.SilentAdmissions, rec.AdmittedTotal, share*100)
	}
	return inv
}

// soldOutAt is when the last seat sold (the answer of the payment that sold
// it), or false when not every seat sold.
func soldOutAt(rec Record) (time.Duration, bool) {
	total := rec.SeatsOffered
	if total == 0 || len(rec.Sales) < total {
		return 0, false
	}
	var at time.Duration
	for _, s := range rec.Sales {
		at = max(at, s.At)
	}
	return at, true
}

// soldOutAnswers checks that once every seat sold, nobody is kept waiting:
// no poll sent later than SoldOutGrace after the last sale was answered
// with anything but sold_out (active users are not polling).
func soldOutAnswers(rec Record) Invariant {
	inv := Invariant{Name: CheckSoldOutPolls, Rule: fmt.Sprintf("no poll sent %v after the last seat sold was answered other than sold_out", SoldOutGrace)}
	at, ok := soldOutAt(rec)
	if !ok {
		return inv
	}
	for _, u := range rec.Users {
		if u.LastWaitingSent < 0 {
			continue
		}
		inv.Checked++
		if u.LastWaitingSent > at+SoldOutGrace {
			inv.fail("%s still told to wait by a poll sent at %v; the last seat sold at %v", u.ID, u.LastWaitingSent.Round(time.Millisecond), at.Round(time.Millisecond))
		}
	}
	return inv
}

// unsold checks that no seat stays unsold while someone waits for it:
// nobody was sent away as sold out while seats stayed unsold to the end, and
// admission never stood still for StallLimit while people waited and a seat
// was free (as admission saw it: a lapsed hold counts once admission has
// seen it), the sale open, not paused, with a rate and room under
// max_active. Standing still is judged from the line's readings: neither
// admitted_total nor skipped_inactive_total grew over every reading of a
// span at least StallLimit long in which all readings had every reason to
// admit. Readings at a rate too slow to admit one in StallLimit are not
// judged.
func unsold(rec Record) Invariant {
	inv := Invariant{Name: CheckUnsold, Rule: fmt.Sprintf("no user told sold_out while seats stayed unsold, and admission never still for %v while someone waited and a seat was free", StallLimit)}
	total := rec.SeatsOffered
	for _, u := range rec.Users {
		if u.SoldOutSeen <= 0 {
			continue
		}
		inv.Checked++
		if total > 0 && len(rec.Sales) < total {
			inv.fail("%s told sold_out at %v, but only %d of %d seats sold", u.ID, u.SoldOutSeen.Round(time.Millisecond), len(rec.Sales), total)
		}
	}
	judged := func(s LineSample) bool { return s.admitting() && s.Rate*StallLimit.Seconds() >= 1 }
	line := rec.Line
	for i := 0; i < len(line); i++ {
		if !judged(line[i]) {
			continue
		}
		inv.Checked++
		// The longest run of judged readings from i on with no movement.
		j := i
		for j+1 < len(line) && judged(line[j+1]) &&
			line[j+1].AdmittedTotal == line[i].AdmittedTotal && line[j+1].SkippedTotal == line[i].SkippedTotal {
			j++
		}
		if span := line[j].At - line[i].At; span >= StallLimit {
			inv.fail("admission still from %v to %v with %d waiting and %d seats free", line[i].At.Round(time.Millisecond),
				line[j].At.Round(time.Millisecond), line[i].Waiting, line[i].FreeSeats)
			inv.Checked += j - i
			i = j
		}
	}
	return inv
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
//
// The line's order is token_id, or with a pre-queue the place each user got
// (Place: the draw's, then later arrivals). Users who went silent on purpose
// (Left) are not judged: a skipped token that comes back is let in ahead of
// the line by design.
func fifo(rec Record, slack time.Duration) Invariant {
	inv := Invariant{Name: CheckFIFO, Rule: fmt.Sprintf("no user still waiting (request sent) after a user later in line (token_id, or draw place) was seen active (answer received), slack %v", slack)}
	users := make([]UserRecord, 0, len(rec.Users))
	for _, u := range rec.Users {
		if u.TokenID > 0 && !u.Left {
			if u.Place == 0 {
				u.Place = u.TokenID
			}
			users = append(users, u)
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Place < users[j].Place })
	inv.Checked = len(users)
	const never = time.Duration(1<<63 - 1)
	minActive, minUser := never, UserRecord{}
	for i := len(users) - 1; i >= 0; i-- {
		a := users[i]
		if i+1 < len(users) && users[i+1].Place == a.Place {
			inv.fail("place %d given to %s and to %s", a.Place, a.ID, users[i+1].ID)
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
