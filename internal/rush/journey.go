package rush

import (
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// fail ends u's journey with outcome and counts why, for the report.
func (r *runner) fail(u *UserRecord, outcome, why string) {
	u.Outcome = outcome
	r.mu.Lock()
	r.failures[outcome+": "+why]++
	r.mu.Unlock()
}

// user plays one user from arrival to payment.
func (r *runner) user(ctx context.Context, u *UserRecord, rng *mrand.Rand) {
	tok, ok := r.enter(ctx, u)
	if !ok {
		return
	}
	if u.Admitted() {
		r.active.Add(1)
	} else {
		r.waiting.Add(1)
		if !r.waitActive(ctx, u, tok) {
			r.waiting.Add(-1)
			return
		}
		r.waiting.Add(-1)
		r.active.Add(1)
	}
	defer r.active.Add(-1)
	r.buy(ctx, u, tok, rng)
}

func (r *runner) unfinished(ctx context.Context, u *UserRecord) bool {
	if ctx.Err() != nil {
		u.Outcome = OutcomeUnfinished
		return true
	}
	return false
}

func (r *runner) enter(ctx context.Context, u *UserRecord) (string, bool) {
	body := map[string]any{"user_id": u.ID, "concert_id": r.opt.ConcertID}
	a, err := r.send(ctx, transient, http.MethodPost, "POST /api/tokens", "/api/tokens", body)
	if r.unfinished(ctx, u) {
		return "", false
	}
	if err == nil && (a.status == http.StatusCreated || a.status == http.StatusOK) {
		var t struct {
			Token   string `json:"token"`
			TokenID int64  `json:"token_id"`
			Status  string `json:"status"`
		}
		if err := json.Unmarshal(a.body, &t); err != nil || t.Token == "" {
			r.fail(u, OutcomeNoToken, "POST /api/tokens: unreadable body")
			return "", false
		}
		u.TokenID, u.EnteredAt = t.TokenID, a.recv
		if t.Status == "active" {
			u.FirstActiveRecv = a.recv
		} else {
			u.LastWaitingSent = a.sent
		}
		return t.Token, true
	}
	if err == nil && a.status == http.StatusConflict && a.errorCode() == "sold_out" {
		u.Outcome, u.SoldOutSeen = OutcomeSoldOut, a.recv
		return "", false
	}
	r.fail(u, OutcomeNoToken, fmt.Sprintf("POST /api/tokens: %d %s%s", a.status, a.errorCode(), errText(err)))
	return "", false
}

// waitActive polls until the token is active, waiting between polls as long
// as the gateway asks (times PollScale, within PollCap).
func (r *runner) waitActive(ctx context.Context, u *UserRecord, tok string) bool {
	auth := "Bearer " + tok
	for {
		a, err := r.get(ctx, "GET /api/queue/position", "/api/queue/position", auth)
		if r.unfinished(ctx, u) {
			return false
		}
		if transient(a, err) {
			r.fail(u, OutcomeFailed, fmt.Sprintf("GET /api/queue/position: %d%s", a.status, errText(err)))
			return false
		}
		if a.status != http.StatusOK {
			r.fail(u, OutcomeTokenLost, fmt.Sprintf("GET /api/queue/position: %d %s", a.status, a.errorCode()))
			return false
		}
		var p struct {
			Status      string `json:"status"`
			PollAfterMS int64  `json:"poll_after_ms"`
		}
		if err := json.Unmarshal(a.body, &p); err != nil {
			r.fail(u, OutcomeFailed, "GET /api/queue/position: unreadable body")
			return false
		}
		if p.Status == "active" {
			u.FirstActiveRecv = a.recv
			return true
		}
		if p.Status == "sold_out" {
			// Nothing left: the gateway released the token; stop polling.
			u.Outcome, u.SoldOutSeen = OutcomeSoldOut, a.recv
			return false
		}
		u.LastWaitingSent = a.sent
		switch {
		case u.Role == roleAbandon:
			u.Outcome, u.Left = OutcomeAbandoned, true
			return false
		case u.Role == roleReturn && !u.Left:
			u.Left = true
			if !sleepCtx(ctx, r.opt.ReturnAfter) {
				u.Outcome = OutcomeUnfinished
				return false
			}
			continue
		}
		wait := time.Duration(float64(p.PollAfterMS) * r.opt.PollScale * float64(time.Millisecond))
		if r.opt.PollCap > 0 {
			wait = min(wait, r.opt.PollCap)
		}
		if !sleepCtx(ctx, wait) {
			u.Outcome = OutcomeUnfinished
			return false
		}
	}
}

type hold struct {
	id    int64
	date  string
	seat  int
	price int64
}

// buy lists dates and seats, holds a free seat, tops up and pays.
func (r *runner) buy(ctx context.Context, u *UserRecord, tok string, rng *mrand.Rand) {
	auth := "Bearer " + tok
	for round := 0; round < maxRounds; round++ {
		var d struct {
			AvailableDates []string `json:"available_dates"`
		}
		if !r.list(ctx, u, "GET /api/reservationData/available", "/api/reservationData/available", auth, &d) {
			return
		}
		if len(d.AvailableDates) == 0 {
			u.Outcome = OutcomeSoldOut
			return
		}
		day := d.AvailableDates[rng.IntN(len(d.AvailableDates))]

		var s struct {
			AvailableSeats []int `json:"available_seats"`
		}
		if !r.list(ctx, u, "GET /api/reservationSeat/available", "/api/reservationSeat/available?reservation_date="+url.QueryEscape(day), auth, &s) {
			return
		}
		r.offer(day, s.AvailableSeats)
		if len(s.AvailableSeats) == 0 {
			continue
		}
		h, ok, stop := r.hold(ctx, u, auth, day, s.AvailableSeats, rng)
		if stop {
			return
		}
		if !ok {
			continue
		}
		if u.Role == roleHoldLeave {
			// Walks away: the hold lapses by itself and frees the seat.
			u.Outcome = OutcomeHeldLeft
			return
		}
		if !r.topUp(ctx, u, h.price, rng) {
			return
		}
		if again := r.pay(ctx, u, auth, h, rng); !again {
			return
		}
	}
	if u.Outcome == "" {
		r.fail(u, OutcomeGaveUp, fmt.Sprintf("no seat after %d listings", maxRounds))
	}
}

// list reads a listing for u into v. false: u is done (outcome set).
func (r *runner) list(ctx context.Context, u *UserRecord, route, path, auth string, v any) bool {
	a, err := r.get(ctx, route, path, auth)
	if r.unfinished(ctx, u) {
		return false
	}
	if err != nil || a.status != http.StatusOK {
		r.fail(u, outcomeOf(a), fmt.Sprintf("%s: %d %s%s", route, a.status, a.errorCode(), errText(err)))
		return false
	}
	json.Unmarshal(a.body, v)
	return true
}

func outcomeOf(a answer) string {
	if a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
		return OutcomeTokenLost
	}
	return OutcomeFailed
}

// hold tries up to maxSeatTries seats of the listing, at random. ok: a seat
// is held; stop: the user is done (outcome set).
func (r *runner) hold(ctx context.Context, u *UserRecord, auth, day string, seats []int, rng *mrand.Rand) (h hold, ok, stop bool) {
	free := append([]int(nil), seats...)
	for try := 0; try < maxSeatTries && len(free) > 0; try++ {
		i := rng.IntN(len(free))
		seat := free[i]
		free[i] = free[len(free)-1]
		free = free[:len(free)-1]
		body := map[string]any{"user_id": u.ID, "reservation_date": day, "reservation_seat": seat}
		a, err := r.send(ctx, transient, http.MethodPost, "POST /api/reservation", "/api/reservation", body, "Authorization", auth)
		if r.unfinished(ctx, u) {
			return h, false, true
		}
		switch {
		case err == nil && a.status == http.StatusCreated:
			var b struct {
				ReservationID   int64  `json:"reservation_id"`
				ReservationDate string `json:"reservation_date"`
				ReservationSeat int    `json:"reservation_seat"`
				Price           int64  `json:"price"`
			}
			if json.Unmarshal(a.body, &b) != nil || b.ReservationID == 0 || b.Price <= 0 {
				r.fail(u, OutcomeFailed, "POST /api/reservation: unreadable body")
				return h, false, true
			}
			return hold{id: b.ReservationID, date: b.ReservationDate, seat: b.ReservationSeat, price: b.Price}, true, false
		case err == nil && a.status == http.StatusConflict && a.errorCode() == "seat_taken":
			continue
		case err == nil && a.status == http.StatusNotFound:
			return h, false, false // the listing is stale: list again
		default:
			r.fail(u, outcomeOf(a), fmt.Sprintf("POST /api/reservation: %d %s%s", a.status, a.errorCode(), errText(err)))
			return h, false, true
		}
	}
	return h, false, false
}

// topUp charges the user when its balance is short of price; half the users
// put in more than needed, so that balances end above zero.
func (r *runner) topUp(ctx context.Context, u *UserRecord, price int64, rng *mrand.Rand) bool {
	balance := u.Charged - u.Paid
	if balance >= price {
		return true
	}
	amount := price - balance
	if rng.IntN(2) == 0 {
		amount += rng.Int64N(price/2 + 1)
	}
	body := map[string]any{"user_id": u.ID, "amount": amount}
	a, err := r.send(ctx, func(a answer, err error) bool {
		if err != nil || a.status >= 500 {
			// Top-ups are not idempotent: whether this one counted is unknown.
			u.Uncertain = true
		}
		return transient(a, err)
	}, http.MethodPost, "POST /api/chargePay", "/api/chargePay", body)
	if err == nil && a.status == http.StatusOK {
		u.Charged += amount
		return true
	}
	if r.unfinished(ctx, u) {
		return false
	}
	r.fail(u, OutcomeFailed, fmt.Sprintf("POST /api/chargePay: %d %s%s", a.status, a.errorCode(), errText(err)))
	return false
}

// pay pays for h with an Idempotency-Key, retrying with the same key when
// the answer is lost. again: the hold lapsed, try another seat.
func (r *runner) pay(ctx context.Context, u *UserRecord, auth string, h hold, rng *mrand.Rand) (again bool) {
	key := fmt.Sprintf("rl-%s-%s-%d", r.runID, u.ID, h.id)
	body := map[string]any{"user_id": u.ID, "reservation_id": h.id, "amount": h.price}
	a, err := r.send(ctx, func(a answer, err error) bool {
		if paymentLost(a, err) {
			// Whether the lost attempt paid is unknown until a retry with the
			// same key tells.
			u.Uncertain = true
			return true
		}
		return false
	}, http.MethodPost, "POST /api/payment", "/api/payment", body, "Authorization", auth, "Idempotency-Key", key)
	if err == nil && a.status == http.StatusCreated {
		var p struct {
			PaymentID       int64  `json:"payment_id"`
			ReservationID   int64  `json:"reservation_id"`
			ReservationDate string `json:"reservation_date"`
			ReservationSeat int    `json:"reservation_seat"`
			Amount          int64  `json:"amount"`
		}
		if json.Unmarshal(a.body, &p) != nil || p.PaymentID == 0 {
			u.Uncertain = true
			r.fail(u, OutcomeFailed, "POST /api/payment: unreadable body")
			return false
		}
		u.Paid += p.Amount
		u.Outcome = OutcomeBought
		r.mu.Lock()
		r.sales = append(r.sales, Sale{At: a.recv, User: u.ID, ReservationID: p.ReservationID, PaymentID: p.PaymentID,
			Date: p.ReservationDate, Seat: p.ReservationSeat, Amount: p.Amount})
		r.mu.Unlock()
		if r.opt.ReplayFraction > 0 && rng.Float64() < r.opt.ReplayFraction {
			r.replay(ctx, u, auth, key, body, p.ReservationID, p.PaymentID)
		}
		return false
	}
	if paymentLost(a, err) {
		if ctx.Err() != nil {
			u.Outcome = OutcomeUnfinished
			return false
		}
		r.fail(u, OutcomeFailed, fmt.Sprintf("POST /api/payment: %d %s%s", a.status, a.errorCode(), errText(err)))
		return false
	}
	u.Uncertain = false // a definite answer settles an earlier lost one
	code := a.errorCode()
	if a.status == http.StatusConflict && code == "hold_expired" {
		return true
	}
	r.fail(u, outcomeOf(a), fmt.Sprintf("POST /api/payment: %d %s", a.status, code))
	return false
}

// paymentLost reports whether the answer to a payment attempt is unknown and
// the attempt may be sent again with its key: a transient failure, or 409
// payment_in_progress (an earlier attempt with the key, one whose answer was
// lost, is still running; a retry gets its answer).
func paymentLost(a answer, err error) bool {
	return transient(a, err) || (a.status == http.StatusConflict && a.errorCode() == "payment_in_progress")
}

func (r *runner) replay(ctx context.Context, u *UserRecord, auth, key string, body map[string]any, rid, pid int64) {
	a, err := r.do(ctx, http.MethodPost, "POST /api/payment", "/api/payment", body, "Authorization", auth, "Idempotency-Key", key)
	if err != nil {
		return // no answer: nothing to judge
	}
	var p struct {
		PaymentID int64 `json:"payment_id"`
	}
	json.Unmarshal(a.body, &p)
	r.mu.Lock()
	r.replays = append(r.replays, Replay{User: u.ID, ReservationID: rid, FirstPaymentID: pid, Status: a.status, PaymentID: p.PaymentID})
	r.mu.Unlock()
}
