package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/queue"
)

type enterResponse struct {
	Token          string `json:"token"`
	TokenID        int64  `json:"token_id"`
	UserID         string `json:"user_id"`
	ConcertID      int64  `json:"concert_id"`
	Status         string `json:"status"`
	QueuePosition  int64  `json:"queue_position"`
	IssuedAt       string `json:"issued_at"`
	ExpirationTime string `json:"expiration_time"`
	ActiveUntil    string `json:"active_until,omitempty"`
}

// handleEnter is POST /api/tokens: 201 with a new place in line, or 200 with
// the live token the user already holds for this concert.
func (s *server) handleEnter(c *gin.Context) {
	r := readRequest(c)
	user := r.userID()
	concert := r.optionalID("concert_id", s.DefaultConcert)
	if r.err != nil {
		s.writeError(c, r.err)
		return
	}
	ctx := c.Request.Context()
	ok, err := s.Booking.ConcertExists(ctx, concert)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if !ok {
		s.writeError(c, booking.ErrConcertNotFound)
		return
	}
	t, err := s.Queue.Enter(ctx, concert, user)
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp := enterResponse{
		Token: t.Token, TokenID: t.Claims.Seq, UserID: user, ConcertID: concert,
		Status: t.Status, QueuePosition: t.Position,
		IssuedAt: rfc3339(t.Claims.IssuedAt), ExpirationTime: rfc3339(t.Claims.ExpiresAt),
	}
	if t.Status == queue.StatusActive {
		resp.ActiveUntil = rfc3339(t.ActiveUntil)
	}
	status := http.StatusOK
	if t.Created {
		status = http.StatusCreated
	}
	c.JSON(status, resp)
}

type positionResponse struct {
	TokenID              int64  `json:"token_id"`
	Status               string `json:"status"`
	QueuePosition        int64  `json:"queue_position"`
	Ahead                *int64 `json:"ahead,omitempty"`
	EstimatedWaitSeconds *int64 `json:"estimated_wait_seconds"`
	PollAfterMS          *int64 `json:"poll_after_ms,omitempty"`
	ActiveUntil          string `json:"active_until,omitempty"`
}

// handlePosition is GET /api/queue/position, the hot path of a rush: for a
// waiting token it is answered from this replica's memory.
func (s *server) handlePosition(c *gin.Context) {
	t := token(c)
	p, err := s.Queue.Position(c.Request.Context(), t)
	if err != nil {
		s.writeError(c, err)
		return
	}
	resp := positionResponse{TokenID: t.Seq, Status: p.Status, QueuePosition: p.QueuePosition}
	if p.Status == queue.StatusActive {
		zero := int64(0)
		resp.Ahead, resp.EstimatedWaitSeconds = &zero, &zero
		resp.ActiveUntil = rfc3339(p.ActiveUntil)
	} else {
		ahead, poll := p.Ahead, p.PollAfter.Milliseconds()
		resp.Ahead, resp.PollAfterMS = &ahead, &poll
		if p.EstimatedWait != nil {
			secs := int64(p.EstimatedWait.Seconds())
			resp.EstimatedWaitSeconds = &secs
		}
	}
	c.JSON(http.StatusOK, resp)
}
