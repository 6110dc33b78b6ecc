package httpapi

import (
	"math"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/queue"
)

type drawResponse struct {
	ConcertID  int64    `json:"concert_id"`
	OpensAt    string   `json:"opens_at"`
	Commitment string   `json:"commitment"`
	Entrants   int64    `json:"entrants"`
	Seed       string   `json:"seed,omitempty"`
	KeysDigest string   `json:"keys_digest,omitempty"`
	Offset     *int64   `json:"offset,omitempty"`
	Limit      *int64   `json:"limit,omitempty"`
	Keys       []string `json:"keys,omitempty"`
}

// defaultDrawPage is the page of keys given when ?limit= is absent.
const defaultDrawPage = 1000

// handleDraw is GET /api/concerts/{id}/draw: anyone may check a scheduled
// sale's draw. Before the open it shows the commitment; after it the seed,
// the digest and the sorted keys, a page at a time.
func (s *server) handleDraw(c *gin.Context) {
	id, err := parseInt("concert_id", c.Param("id"), 1, math.MaxInt64)
	if err != nil {
		s.writeError(c, err)
		return
	}
	offset, limit := int64(0), int64(defaultDrawPage)
	if raw, ok := c.GetQuery("offset"); ok {
		if offset, err = parseInt("offset", raw, 0, math.MaxInt32); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if raw, ok := c.GetQuery("limit"); ok {
		if limit, err = parseInt("limit", raw, 1, queue.MaxDrawPage); err != nil {
			s.writeError(c, err)
			return
		}
	}
	ctx := c.Request.Context()
	if err := s.concertExists(ctx, id); err != nil {
		s.writeError(c, err)
		return
	}
	d, err := s.Queue.Draw(ctx, id, offset, limit)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := drawResponse{ConcertID: id, OpensAt: rfc3339(d.OpensAt), Commitment: d.Commitment, Entrants: d.Entrants}
	if d.Done {
		out.Seed, out.KeysDigest, out.Offset, out.Limit, out.Keys = d.Seed, d.KeysDigest, &offset, &limit, d.Keys
		if out.Keys == nil {
			out.Keys = []string{}
		}
	}
	// Before the open the entrant count changes; after it nothing does.
	c.Header("Cache-Control", "no-cache")
	c.JSON(http.StatusOK, out)
}
