package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/queue"
)

func day(offset int) string { return time.Now().AddDate(0, 0, offset).Format("2006-01-02") }

func TestAvailableDates(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.activeToken("dates-user")
	r := h.do("GET", "/api/reservationData/available", nil, bearer(tok)...)
	dates, _ := r.body["available_dates"].([]any)
	if r.Code != 200 || r.num("concert_id") != 1 || len(dates) != 3 || dates[0] != day(1) || dates[2] != day(3) {
		t.Fatalf("dates = %d %s", r.Code, r.Body)
	}
	// A date with every seat held drops out of the list.
	for seat := 1; seat <= 10; seat++ {
		user := "filler" + string(rune('a'+seat))
		ft := h.activeToken(user)
		if r := h.do("POST", "/api/reservation", holdBody(user, day(2), seat), bearer(ft)...); r.Code != 201 {
			t.Fatalf("hold %d: %d %s", seat, r.Code, r.Body)
		}
	}
	r = h.do("GET", "/api/reservationData/available", nil, bearer(tok)...)
	dates, _ = r.body["available_dates"].([]any)
	if len(dates) != 2 || dates[0] != day(1) || dates[1] != day(3) {
		t.Errorf("dates with day 2 full = %s", r.Body)
	}
}

func TestAvailableSeats(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.activeToken("seats-user")
	t.Run("OK", func(t *testing.T) {
		r := h.do("GET", "/api/reservationSeat/available?reservation_date="+day(1), nil, bearer(tok)...)
		seats, _ := r.body["available_seats"].([]any)
		if r.Code != 200 || r.str("reservation_date") != day(1) || len(seats) != 10 || seats[0] != 1.0 || seats[9] != 10.0 {
			t.Fatalf("seats = %d %s", r.Code, r.Body)
		}
	})
	t.Run("HeldSeatIsNotListed", func(t *testing.T) {
		if r := h.do("POST", "/api/reservation", holdBody("seats-user", day(1), 4), bearer(tok)...); r.Code != 201 {
			t.Fatalf("hold: %d %s", r.Code, r.Body)
		}
		r := h.do("GET", "/api/reservationSeat/available?reservation_date="+day(1), nil, bearer(tok)...)
		for _, s := range r.body["available_seats"].([]any) {
			if s == 4.0 {
				t.Errorf("held seat 4 listed: %s", r.Body)
			}
		}
	})
	t.Run("DateInABody", func(t *testing.T) {
		r := h.do("GET", "/api/reservationSeat/available", map[string]any{"reservation_date": day(2)}, bearer(tok)...)
		if r.Code != 200 || r.str("reservation_date") != day(2) {
			t.Errorf("body form: %d %s", r.Code, r.Body)
		}
	})
	t.Run("QueryWinsOverBody", func(t *testing.T) {
		r := h.do("GET", "/api/reservationSeat/available?reservation_date="+day(3), map[string]any{"reservation_date": day(2)}, bearer(tok)...)
		if r.str("reservation_date") != day(3) {
			t.Errorf("got %s, want the query's date", r.Body)
		}
	})
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		status int
		code   string
	}{
		{"ErrNoDate", "", nil, 400, "invalid_request"},
		{"ErrBadDate", "?reservation_date=2024-13-45", nil, 400, "invalid_request"},
		{"ErrNotADate", "?reservation_date=tomorrow", nil, 400, "invalid_request"},
		{"ErrDateWithTime", "?reservation_date=" + day(1) + "T00:00:00Z", nil, 400, "invalid_request"},
		{"ErrDateInBodyNotString", "", map[string]any{"reservation_date": 20241013}, 400, "invalid_request"},
		{"ErrUnknownDate", "?reservation_date=2031-01-01", nil, 404, "date_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("GET", "/api/reservationSeat/available"+tc.path, tc.body, bearer(tok)...)
			if r.Code != tc.status || r.code() != tc.code {
				t.Errorf("got %d %q, want %d %q (%s)", r.Code, r.code(), tc.status, tc.code, r.Body)
			}
		})
	}
}

func holdBody(user, date string, seat any) map[string]any {
	return map[string]any{"user_id": user, "reservation_date": date, "reservation_seat": seat}
}

// TestHold runs with holds sent to Redis alone and batched (HOLD_BATCH): the
// answers are the same.
func TestHold(t *testing.T) {
	for _, batch := range []int{1, 64} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) { testHold(t, batch) })
	}
}

func testHold(t *testing.T, batch int) {
	h := newHarness(t, func(c *config.Config) { c.MaxHoldsPerUser, c.HoldBatch = 2, batch })
	tok := h.activeToken("holder")
	other := h.activeToken("rival")
	t.Run("OK", func(t *testing.T) {
		before := time.Now()
		r := h.do("POST", "/api/reservation", holdBody("holder", day(1), 1), bearer(tok)...)
		if r.Code != http.StatusCreated || r.num("reservation_id") < 1 || r.str("reservation_date") != day(1) ||
			r.num("reservation_seat") != 1 || r.num("price") != 10000 || r.body["is_temporary"] != true {
			t.Fatalf("hold = %d %s", r.Code, r.Body)
		}
		exp, err := time.Parse(time.RFC3339, r.str("expiration_time"))
		if err != nil || exp.Before(before.Add(5*time.Minute-2*time.Second)) || exp.After(time.Now().Add(5*time.Minute+time.Second)) {
			t.Errorf("expiration_time = %q, want now + 5m", r.str("expiration_time"))
		}
	})
	for _, tc := range []struct {
		name   string
		token  string
		body   any
		status int
		code   string
	}{
		{"ErrSeatTaken", other, holdBody("rival", day(1), 1), 409, "seat_taken"},
		{"ErrUnknownSeat", tok, holdBody("holder", day(1), 11), 404, "seat_not_found"},
		{"ErrUnknownDate", tok, holdBody("holder", "2031-01-01", 1), 404, "date_not_found"},
		{"ErrSeatZero", tok, holdBody("holder", day(1), 0), 400, "invalid_request"},
		{"ErrSeatNegative", tok, holdBody("holder", day(1), -3), 400, "invalid_request"},
		{"ErrSeatFraction", tok, holdBody("holder", day(1), 1.5), 400, "invalid_request"},
		{"ErrSeatString", tok, holdBody("holder", day(1), "2"), 400, "invalid_request"},
		{"ErrSeatHuge", tok, holdBody("holder", day(1), 1e12), 400, "invalid_request"},
		{"ErrBadDate", tok, holdBody("holder", "13/10/2024", 2), 400, "invalid_request"},
		{"ErrMissingSeat", tok, map[string]any{"user_id": "holder", "reservation_date": day(1)}, 400, "invalid_request"},
		{"ErrMissingUser", tok, map[string]any{"reservation_date": day(1), "reservation_seat": 2}, 400, "invalid_request"},
		{"ErrUserMismatch", tok, holdBody("rival", day(1), 2), 403, "user_mismatch"},
		{"ErrMalformed", tok, `{"user_id": "holder",`, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/reservation", tc.body, bearer(tc.token)...)
			if r.Code != tc.status || r.code() != tc.code {
				t.Errorf("got %d %q, want %d %q (%s)", r.Code, r.code(), tc.status, tc.code, r.Body)
			}
		})
	}
	t.Run("ErrHoldLimit", func(t *testing.T) {
		if r := h.do("POST", "/api/reservation", holdBody("holder", day(1), 2), bearer(tok)...); r.Code != 201 {
			t.Fatalf("second hold: %d %s", r.Code, r.Body)
		}
		r := h.do("POST", "/api/reservation", holdBody("holder", day(1), 3), bearer(tok)...)
		if r.Code != 409 || r.code() != "hold_limit" {
			t.Errorf("third hold with a limit of 2: %d %q", r.Code, r.code())
		}
	})
	t.Run("ErrNotAdmitted", func(t *testing.T) {
		waiting := h.enter("latecomer")
		for name, body := range map[string]any{
			"valid":        holdBody("latecomer", day(1), 5),
			"unknown seat": holdBody("latecomer", day(1), 99),
			"bad date":     holdBody("latecomer", "someday", 5),
			"other user":   holdBody("holder", day(1), 5),
		} {
			r := h.do("POST", "/api/reservation", body, bearer(waiting)...)
			if r.Code != 403 || r.code() != "not_admitted" || r.num("queue_position") != 1 {
				t.Errorf("waiting token, %s: %d %s", name, r.Code, r.Body)
			}
		}
		if seats := h.do("GET", "/api/reservationSeat/available?reservation_date="+day(1), nil, bearer(tok)...); len(seats.body["available_seats"].([]any)) != 8 {
			t.Errorf("a refused hold changed the seats: %s", seats.Body)
		}
	})
	t.Run("ErrTokenExpiredAfterRelease", func(t *testing.T) {
		released := h.activeToken("leaver")
		h.gw.Queue.Release(h.ctx, mustParse(t, h, released))
		r := h.do("POST", "/api/reservation", holdBody("leaver", day(1), 6), bearer(released)...)
		if r.Code != 401 || r.code() != "token_expired" {
			t.Errorf("released token: %d %q", r.Code, r.code())
		}
	})
}

func mustParse(t *testing.T, h *harness, token string) queue.Token {
	t.Helper()
	c, err := h.gw.Queue.Signer().Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
