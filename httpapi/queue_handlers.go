package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/queue"
)

// handleEnter is POST /api/tokens: 201 with a new place in line, or 200 with
// the live token the user already holds for this concert. Like the poll it
// sets no request deadline (its calls, Redis and on a catalogue miss
// Postgres, are bounded by their clients) and writes its answer without
// reflection: every value in it is a number or a string of characters that
// JSON never escapes (token, checked user id, RFC 3339 times).
func (s *server) handleEnter(c *gin.Context) {
	r := readRequest(c)
	user := r.userID()
	concert := r.optionalConcertID(s.DefaultConcert)
	if r.err != nil {
		s.writeError(c, r.err)
		return
	}
	ctx := c.Request.Context()
	if err := s.concertExists(ctx, concert); err != nil {
		s.writeError(c, err)
		return
	}
	t, err := s.Queue.Enter(ctx, concert, user)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if t.Created {
		s.Stats.Entered(concert)
	}
	status := http.StatusOK
	if t.Created {
		status = http.StatusCreated
	}
	writeRaw(c, status, func(b []byte) []byte { return appendTicket(b, t, user, concert) })
}

// appendTicket appends the answer to entering the line: every value in it is
// a number or a string of characters that JSON never escapes (token, checked
// user id, RFC 3339 times).
func appendTicket(b []byte, t queue.Ticket, user string, concert int64) []byte {
	b = append(b, `{"token":"`...)
	b = append(b, t.Token...)
	b = append(b, `","token_id":`...)
	b = strconv.AppendInt(b, t.Claims.Seq, 10)
	b = append(b, `,"user_id":"`...)
	b = append(b, user...)
	b = append(b, `","concert_id":`...)
	b = strconv.AppendInt(b, concert, 10)
	b = append(b, `,"status":"`...)
	b = append(b, t.Status...)
	b = append(b, `","queue_position":`...)
	if t.Status == queue.StatusPrequeue {
		b = append(b, `null,"opens_at":"`...)
		b = t.OpensAt.AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	} else {
		b = strconv.AppendInt(b, t.Position, 10)
	}
	b = append(b, `,"issued_at":"`...)
	b = t.Claims.IssuedAt.AppendFormat(b, time.RFC3339)
	b = append(b, `","expiration_time":"`...)
	b = t.Claims.ExpiresAt.AppendFormat(b, time.RFC3339)
	if t.Status == queue.StatusActive {
		b = append(b, `","active_until":"`...)
		b = t.ActiveUntil.AppendFormat(b, time.RFC3339)
	}
	return append(b, `"}`...)
}

type positionResponse struct {
	TokenID              int64  `json:"token_id"`
	Status               string `json:"status"`
	QueuePosition        int64  `json:"queue_position"`
	Ahead                int64  `json:"ahead"`
	EstimatedWaitSeconds int64  `json:"estimated_wait_seconds"`
	ActiveUntil          string `json:"active_until"`
}

// handlePosition is GET /api/queue/position, the hot path of a rush: for a
// waiting token it is answered from this replica's memory, and written
// without reflection into a pooled buffer.
func (s *server) handlePosition(c *gin.Context) {
	t, ok := s.verifiedToken(c)
	if !ok {
		return
	}
	p, err := s.Queue.Position(c.Request.Context(), t)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if p.Status == queue.StatusActive {
		c.JSON(http.StatusOK, positionResponse{
			TokenID: t.Seq, Status: p.Status, ActiveUntil: rfc3339(p.ActiveUntil),
		})
		return
	}
	writeRaw(c, http.StatusOK, func(b []byte) []byte { return appendWaiting(b, t.Seq, p) })
}

// appendWaiting appends the poll's answer for a token not active: waiting,
// in the pre-queue, or sold out.
func appendWaiting(b []byte, seq int64, p queue.Position) []byte {
	b = append(b, `{"token_id":`...)
	b = strconv.AppendInt(b, seq, 10)
	switch p.Status {
	case queue.StatusSoldOut:
		// Nothing left to wait for: no poll_after_ms, the client stops.
		return append(b, `,"status":"sold_out","queue_position":null}`...)
	case queue.StatusPrequeue:
		b = append(b, `,"status":"prequeue","queue_position":null,"opens_at":"`...)
		b = p.OpensAt.AppendFormat(b, time.RFC3339)
		b = append(b, `","poll_after_ms":`...)
		b = strconv.AppendInt(b, p.PollAfter.Milliseconds(), 10)
		return append(b, '}')
	}
	b = append(b, `,"status":"waiting","queue_position":`...)
	b = strconv.AppendInt(b, p.QueuePosition, 10)
	b = append(b, `,"ahead":`...)
	b = strconv.AppendInt(b, p.Ahead, 10)
	b = append(b, `,"estimated_wait_seconds":`...)
	if p.EstimatedWait == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, int64(p.EstimatedWait.Seconds()), 10)
	}
	b = append(b, `,"poll_after_ms":`...)
	b = strconv.AppendInt(b, p.PollAfter.Milliseconds(), 10)
	return append(b, '}')
}

// bufs are the buffers of the answers written without reflection.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeRaw answers status with the JSON that appendBody appends to a pooled
// buffer: the floods of a rush (enter, poll, hold) are answered without
// reflection or a per-request allocation.
// jsonContentType is shared by the answers of writeRaw (gin would allocate
// a new one for each; see headers for why sharing is safe).
var jsonContentType = []string{"application/json; charset=utf-8"}

func writeRaw(c *gin.Context, status int, appendBody func([]byte) []byte) {
	buf := bufs.Get().(*[]byte)
	b := appendBody((*buf)[:0])
	// Written straight: gin's Data would allocate a Content-Type and a
	// Content-Length, and net/http sets the latter itself for a body this
	// small, answered whole when the handler returns.
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Status(status)
	c.Writer.Write(b)
	*buf = b
	bufs.Put(buf)
}

// concertExists returns booking.ErrConcertNotFound for an unknown concert.
func (s *server) concertExists(ctx context.Context, concertID int64) error {
	ok, err := s.Booking.ConcertExists(ctx, concertID)
	if err == nil && !ok {
		err = booking.ErrConcertNotFound
	}
	return err
}
