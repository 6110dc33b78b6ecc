package httpapi_test

import (
	"net/http"
	"strconv"
	"testing"
)

func TestBalanceAndCharge(t *testing.T) {
	h := newHarness(t, nil)
	t.Run("ErrUserNotFound", func(t *testing.T) {
		if r := h.do("GET", "/api/pay?user_id=nobody", nil); r.Code != 404 || r.code() != "user_not_found" {
			t.Errorf("got %d %q", r.Code, r.code())
		}
	})
	t.Run("ChargeCreatesTheUser", func(t *testing.T) {
		r := h.do("POST", "/api/chargePay", map[string]any{"user_id": "payer", "amount": 10000})
		if r.Code != 200 || r.str("user_id") != "payer" || r.num("pay") != 10000 {
			t.Fatalf("charge = %d %s", r.Code, r.Body)
		}
		r = h.do("POST", "/api/chargePay", map[string]any{"user_id": "payer", "amount": 5000})
		if r.num("pay") != 15000 {
			t.Errorf("second charge = %s", r.Body)
		}
		r = h.do("GET", "/api/pay?user_id=payer", nil)
		if r.Code != 200 || r.str("user_id") != "payer" || r.num("amount") != 15000 {
			t.Errorf("balance = %d %s", r.Code, r.Body)
		}
	})
	t.Run("BalanceFromABody", func(t *testing.T) {
		if r := h.do("GET", "/api/pay", map[string]any{"user_id": "payer"}); r.num("amount") != 15000 {
			t.Errorf("balance = %d %s", r.Code, r.Body)
		}
	})
	for _, tc := range []struct {
		name string
		body any
	}{
		{"ErrZero", map[string]any{"user_id": "payer", "amount": 0}},
		{"ErrNegative", map[string]any{"user_id": "payer", "amount": -5}},
		{"ErrFraction", map[string]any{"user_id": "payer", "amount": 10.5}},
		{"ErrString", map[string]any{"user_id": "payer", "amount": "5000"}},
		{"ErrTooMuch", map[string]any{"user_id": "payer", "amount": 100000001}},
		{"ErrOverflow", `{"user_id": "payer", "amount": 99999999999999999999999}`},
		{"ErrExponent", `{"user_id": "payer", "amount": 1e3}`},
		{"ErrMissingAmount", map[string]any{"user_id": "payer"}},
		{"ErrBadUser", map[string]any{"user_id": "pay er", "amount": 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/chargePay", tc.body)
			if r.Code != 400 || r.code() != "invalid_request" {
				t.Errorf("got %d %q, want 400 invalid_request (%s)", r.Code, r.code(), r.Body)
			}
			if b := h.do("GET", "/api/pay?user_id=payer", nil); b.num("amount") != 15000 {
				t.Errorf("a rejected charge changed the balance: %s", b.Body)
			}
		})
	}
	t.Run("ErrBalanceBadUser", func(t *testing.T) {
		for _, q := range []string{"", "?user_id=", "?user_id=a%20b", "?user_id=%27%3B--"} {
			if r := h.do("GET", "/api/pay"+q, nil); r.Code != 400 || r.code() != "invalid_request" {
				t.Errorf("GET /api/pay%s: %d %q", q, r.Code, r.code())
			}
		}
	})
}

// paymentSetup gives user an active token, a hold on the next unused seat
// (day 1 seat 1 first) and, when charge > 0, a balance of charge.
func (h *harness) paymentSetup(user string, charge int64) (token string, reservation int64) {
	h.t.Helper()
	token = h.activeToken(user)
	date, seat := day(1+h.seats/10), 1+h.seats%10
	h.seats++
	r := h.do("POST", "/api/reservation", holdBody(user, date, seat), bearer(token)...)
	if r.Code != 201 {
		h.t.Fatalf("hold: %d %s", r.Code, r.Body)
	}
	if charge > 0 {
		if c := h.do("POST", "/api/chargePay", map[string]any{"user_id": user, "amount": charge}); c.Code != 200 {
			h.t.Fatalf("charge: %d %s", c.Code, c.Body)
		}
	}
	return token, r.num("reservation_id")
}

func payBody(user string, reservation, amount int64) map[string]any {
	return map[string]any{"user_id": user, "reservation_id": reservation, "amount": amount}
}

func TestPayment(t *testing.T) {
	h := newHarness(t, nil)
	t.Run("OK", func(t *testing.T) {
		tok, rid := h.paymentSetup("buyer", 15000)
		r := h.do("POST", "/api/payment", payBody("buyer", rid, 10000), bearer(tok)...)
		if r.Code != http.StatusCreated || r.num("payment_id") < 1 || r.num("reservation_id") != rid ||
			r.str("reservation_date") != day(1) || r.num("reservation_seat") != 1 || r.num("amount") != 10000 ||
			r.str("payment_status") != "COMPLETED" || r.num("balance") != 5000 {
			t.Fatalf("payment = %d %s", r.Code, r.Body)
		}
		// The token is released: its slot goes to the next in line.
		if p := h.do("GET", "/api/queue/position", nil, bearer(tok)...); p.Code != 401 || p.code() != "token_expired" {
			t.Errorf("token after payment: %d %q", p.Code, p.code())
		}
		// The seat is sold: never listed again.
		other := h.activeToken("looker")
		s := h.do("GET", "/api/reservationSeat/available?reservation_date="+day(1), nil, bearer(other)...)
		for _, seat := range s.body["available_seats"].([]any) {
			if seat == 1.0 {
				t.Errorf("sold seat listed: %s", s.Body)
			}
		}
	})
	t.Run("IdempotentRetryAfterRelease", func(t *testing.T) {
		tok, rid := h.paymentSetup("retrier", 10000)
		key := []string{"Idempotency-Key", "retry-" + t.Name()}
		first := h.do("POST", "/api/payment", payBody("retrier", rid, 10000), append(bearer(tok), key...)...)
		again := h.do("POST", "/api/payment", payBody("retrier", rid, 10000), append(bearer(tok), key...)...)
		if first.Code != 201 || again.Code != 201 || first.Body.String() != again.Body.String() {
			t.Fatalf("first %d %s, retry %d %s", first.Code, first.Body, again.Code, again.Body)
		}
		if b := h.do("GET", "/api/pay?user_id=retrier", nil); b.num("amount") != 0 {
			t.Errorf("balance after one payment and a retry = %d, want 0", b.num("amount"))
		}
		conflict := h.do("POST", "/api/payment", payBody("retrier", rid, 9999), append(bearer(tok), key...)...)
		if conflict.Code != 409 || conflict.code() != "idempotency_conflict" {
			t.Errorf("same key, other request: %d %q", conflict.Code, conflict.code())
		}
		noKey := h.do("POST", "/api/payment", payBody("retrier", rid, 10000), bearer(tok)...)
		if noKey.Code != 401 || noKey.code() != "token_expired" {
			t.Errorf("retry without the key after release: %d %q, want 401 token_expired", noKey.Code, noKey.code())
		}
	})
	t.Run("IdempotentRetryWithANewerTokenKeepsIt", func(t *testing.T) {
		t1, rid := h.paymentSetup("returner", 10000)
		key := []string{"Idempotency-Key", "order-1"}
		first := h.do("POST", "/api/payment", payBody("returner", rid, 10000), append(bearer(t1), key...)...)
		if first.Code != 201 {
			t.Fatalf("payment: %d %s", first.Code, first.Body)
		}
		t2 := h.activeToken("returner") // entered again after the release
		again := h.do("POST", "/api/payment", payBody("returner", rid, 10000), append(bearer(t2), key...)...)
		if again.Code != 201 || again.Body.String() != first.Body.String() {
			t.Fatalf("retry with the newer token: %d %s, want 201 %s", again.Code, again.Body, first.Body)
		}
		if p := h.do("GET", "/api/queue/position", nil, bearer(t2)...); p.Code != 200 || p.str("status") != "active" {
			t.Fatalf("the newer token after the retry: %d %s, want still active", p.Code, p.Body)
		}
	})
	t.Run("ErrAlreadyPaid", func(t *testing.T) {
		tok, rid := h.paymentSetup("twice", 20000)
		if r := h.do("POST", "/api/payment", payBody("twice", rid, 10000), bearer(tok)...); r.Code != 201 {
			t.Fatalf("payment: %d %s", r.Code, r.Body)
		}
		tok2 := h.activeToken("twice") // a new token after the release
		r := h.do("POST", "/api/payment", payBody("twice", rid, 10000), bearer(tok2)...)
		if r.Code != 409 || r.code() != "already_paid" {
			t.Errorf("second payment: %d %q", r.Code, r.code())
		}
	})
	t.Run("ErrInsufficientBalance", func(t *testing.T) {
		tok, rid := h.paymentSetup("poor", 3000)
		r := h.do("POST", "/api/payment", payBody("poor", rid, 10000), bearer(tok)...)
		if r.Code != http.StatusPaymentRequired || r.code() != "insufficient_balance" {
			t.Fatalf("got %d %q", r.Code, r.code())
		}
		// Nothing changed: the balance stays, and after a top-up the same hold can be paid.
		h.do("POST", "/api/chargePay", map[string]any{"user_id": "poor", "amount": 7000})
		if r := h.do("POST", "/api/payment", payBody("poor", rid, 10000), bearer(tok)...); r.Code != 201 || r.num("balance") != 0 {
			t.Errorf("after a top-up: %d %s", r.Code, r.Body)
		}
	})
	for _, tc := range []struct {
		name   string
		body   func(user string, rid int64) any
		status int
		code   string
	}{
		{"ErrAmountMismatch", func(u string, rid int64) any { return payBody(u, rid, 9999) }, 400, "amount_mismatch"},
		{"ErrReservationNotFound", func(u string, rid int64) any { return payBody(u, rid+100000, 10000) }, 404, "reservation_not_found"},
		{"ErrAmountZero", func(u string, rid int64) any { return payBody(u, rid, 0) }, 400, "invalid_request"},
		{"ErrAmountString", func(u string, rid int64) any {
			return map[string]any{"user_id": u, "reservation_id": rid, "amount": "10000"}
		}, 400, "invalid_request"},
		{"ErrReservationNotInteger", func(u string, rid int64) any {
			return map[string]any{"user_id": u, "reservation_id": 1.5, "amount": 10000}
		}, 400, "invalid_request"},
		{"ErrMissingReservation", func(u string, rid int64) any { return map[string]any{"user_id": u, "amount": 10000} }, 400, "invalid_request"},
		{"ErrUserMismatch", func(u string, rid int64) any { return payBody("someone-else", rid, 10000) }, 403, "user_mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := "u" + tc.name
			tok, rid := h.paymentSetup(user, 0)
			r := h.do("POST", "/api/payment", tc.body(user, rid), bearer(tok)...)
			if r.Code != tc.status || r.code() != tc.code {
				t.Errorf("got %d %q, want %d %q (%s)", r.Code, r.code(), tc.status, tc.code, r.Body)
			}
		})
	}
	t.Run("ErrOtherUsersReservation", func(t *testing.T) {
		_, rid := h.paymentSetup("owner", 10000)
		thief := h.activeToken("thief")
		h.do("POST", "/api/chargePay", map[string]any{"user_id": "thief", "amount": 10000})
		r := h.do("POST", "/api/payment", payBody("thief", rid, 10000), bearer(thief)...)
		if r.Code != 404 || r.code() != "reservation_not_found" {
			t.Errorf("paying another's hold: %d %q", r.Code, r.code())
		}
		if b := h.do("GET", "/api/pay?user_id=thief", nil); b.num("amount") != 10000 {
			t.Errorf("thief charged: %s", b.Body)
		}
	})
	t.Run("ErrIdempotencyKeyNotPrintable", func(t *testing.T) {
		tok, rid := h.paymentSetup("keyed", 10000)
		r := h.do("POST", "/api/payment", payBody("keyed", rid, 10000), append(bearer(tok), "Idempotency-Key", "bad\x01key")...)
		if r.Code != 400 || r.code() != "invalid_request" {
			t.Errorf("got %d %q", r.Code, r.code())
		}
	})
}

func TestConcertsWithIDsAbove10To12SellThroughHTTP(t *testing.T) {
	h := newHarness(t, nil)
	for _, id := range []int64{1_000_000_000_123, 1<<62 + 12345} {
		h.createConcertNumbered(t, id, 3)
		sid := strconv.FormatInt(id, 10)
		user := "fan-" + sid
		e := h.do("POST", "/api/tokens", `{"user_id": "`+user+`", "concert_id": `+sid+`}`)
		if e.Code != 201 {
			t.Fatalf("enter: %d %s", e.Code, e.Body)
		}
		h.admitAllOf(id)
		tok := bearer(e.str("token"))
		hold := h.do("POST", "/api/reservation", holdBody(user, day(2), 2), tok...)
		if hold.Code != 201 || hold.num("reservation_id") <= 0 || hold.num("price") != 1000 {
			t.Fatalf("hold on concert %s: %d %s", sid, hold.Code, hold.Body)
		}
		rid := hold.num("reservation_id")
		if c := h.do("POST", "/api/chargePay", map[string]any{"user_id": user, "amount": 1000}); c.Code != 200 {
			t.Fatalf("charge: %d %s", c.Code, c.Body)
		}
		p := h.do("POST", "/api/payment", payBody(user, rid, 1000), tok...)
		if p.Code != 201 || p.num("reservation_id") != rid || p.str("payment_status") != "COMPLETED" {
			t.Fatalf("payment on concert %s: %d %s", sid, p.Code, p.Body)
		}
		var c concertJSON
		decodeInto(t, h.admin("GET", "/admin/concerts/"+sid, nil), &c)
		if len(c.Dates) != 1 || c.Dates[0].Sold != 1 || c.Dates[0].Free != 2 {
			t.Errorf("concert %s after the sale: %+v, want 1 sold and 2 free", sid, c.Dates)
		}
		var sold int
		if err := h.db.Get(&sold, `SELECT count(*) FROM reservations WHERE reservation_id = $1 AND concert_id = $2 AND seat_number = 2`, rid, id); err != nil || sold != 1 {
			t.Errorf("reservations of %d on concert %s: %d, %v; want 1", rid, sid, sold, err)
		}
	}
}
