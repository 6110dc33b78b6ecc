package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/booking"
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
// The token's admission is checked by the hold script itself, atomically with
// the hold and in the same round trip. When anything fails, an inadmissible
// token still answers as on every (active) route: 401 or 403 first.
func (s *server) handleHold(c *gin.Context) {
	t := token(c)
	ctx := c.Request.Context()
	fail := func(err error) {
		if !errors.Is(err, booking.ErrSeatTaken) && !errors.Is(err, booking.ErrHoldLimit) && !unavailable(err) {
			if _, aerr := s.Queue.Admitted(ctx, t); aerr != nil {
				err = aerr
			}
		}
		s.writeError(c, err)
	}
	r := readRequest(c)
	user, date, seat := r.userID(), r.date(), r.seat()
	if r.err != nil {
		fail(r.err)
		return
	}
	if err := sameUser(t, user); err != nil {
		fail(err)
		return
	}
	key, member := s.Queue.ActiveEntry(t)
	gate := booking.Gate{Key: key, Member: member}
	h, err := s.Booking.Hold(ctx, t.ConcertID, user, date, seat, gate)
	if errors.Is(err, booking.ErrGateClosed) {
		if _, aerr := s.Queue.Admitted(ctx, t); aerr != nil {
			s.writeError(c, aerr)
			return
		}
		// Admitted between the two checks: hold now.
		h, err = s.Booking.Hold(ctx, t.ConcertID, user, date, seat, gate)
	}
	if err != nil {
		fail(err)
		return
	}
	s.Stats.Held(t.ConcertID)
	// Written without reflection, as the poll's: every value is a number or
	// a string JSON never escapes (a checked date, an RFC 3339 time).
	buf := bufs.Get().(*[]byte)
	b := append((*buf)[:0], `{"reservation_id":`...)
	b = strconv.AppendInt(b, h.ID, 10)
	b = append(b, `,"reservation_date":"`...)
	b = append(b, h.Date...)
	b = append(b, `","reservation_seat":`...)
	b = strconv.AppendInt(b, int64(h.Seat), 10)
	b = append(b, `,"price":`...)
	b = strconv.AppendInt(b, h.Price, 10)
	b = append(b, `,"expiration_time":"`...)
	b = h.ExpiresAt.AppendFormat(b, time.RFC3339)
	b = append(b, `","is_temporary":true}`...)
	c.Data(http.StatusCreated, "application/json; charset=utf-8", b)
	*buf = b
	bufs.Put(buf)
}
