package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/checkout"
)

// handleAvailableDates is GET /api/reservationData/available.
func (s *server) handleAvailableDates(c *gin.Context) {
	t := token(c)
	dates, err := s.Booking.AvailableDates(c.Request.Context(), t.ConcertID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if dates == nil {
		dates = []string{}
	}
	c.JSON(http.StatusOK, gin.H{"concert_id": t.ConcertID, "available_dates": dates})
}

// handleAvailableSeats is GET /api/reservationSeat/available. The date comes
// from the query, or from a JSON body (the original form); the query wins.
func (s *server) handleAvailableSeats(c *gin.Context) {
	date, ok := c.GetQuery("reservation_date")
	var err error
	if ok {
		date, err = checkDate(date)
	} else {
		var f fields
		if f, err = readFields(c, true); err == nil {
			date, err = f.date()
		}
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	seats, err := s.Booking.AvailableSeats(c.Request.Context(), token(c).ConcertID, date)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if seats == nil {
		seats = []int{}
	}
	c.JSON(http.StatusOK, gin.H{"reservation_date": date, "available_seats": seats})
}

// handleHold is POST /api/reservation: hold a seat until it is paid or lapses.
// The token's admission is checked inside the hold itself (see
// checkout.Service.Hold); a malformed request from a token that may not hold
// anything is answered 401 or 403 first, as on every route for admitted users.
// It checks its own token, as the poll does: handing it on through the gin
// context costs a map and a copy of the token on the heap per hold.
func (s *server) handleHold(c *gin.Context) {
	t, ok := s.verifiedToken(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	r := readRequest(c)
	req := checkout.HoldRequest{UserID: r.userID(), Date: r.date(), Seat: r.seat()}
	if r.err != nil {
		s.writeError(c, s.Checkout.Refusal(ctx, t, r.err))
		return
	}
	h, err := s.Checkout.Hold(ctx, t, req)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.Stats.Held(t.ConcertID)
	writeRaw(c, http.StatusCreated, func(b []byte) []byte { return appendHold(b, h) })
}

// appendHold appends the answer to a hold: every value is a number or a
// string JSON never escapes (a checked date, an RFC 3339 time).
func appendHold(b []byte, h booking.Hold) []byte {
	b = append(b, `{"reservation_id":`...)
	b = strconv.AppendInt(b, h.ID, 10)
	b = append(b, `,"reservation_date":"`...)
	b = append(b, h.Date...)
	b = append(b, `","reservation_seat":`...)
	b = strconv.AppendInt(b, int64(h.Seat), 10)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, h.Price, 10)
	b = append(b, `,"expiration_time":"`...)
	b = h.ExpiresAt.AppendFormat(b, time.RFC3339)
	return append(b, `","is_temporary":true}`...)
}
