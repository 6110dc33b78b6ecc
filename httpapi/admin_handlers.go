package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/queue"
)

type queueStatusResponse struct {
	ConcertID        int64      `json:"concert_id"`
	Waiting          int64      `json:"waiting"`
	Active           int64      `json:"active"`
	AdmitPerSecond   float64    `json:"admit_per_second"`
	MaxActive        int64      `json:"max_active"`
	ActiveTTLSeconds int64      `json:"active_ttl_seconds"`
	Paused           bool       `json:"paused"`
	AdmittedTotal    int64      `json:"admitted_total"`
	SkippedInactive  int64      `json:"skipped_inactive_total"`
	FreeSeats        int        `json:"free_seats"`
	OpensAt          *time.Time `json:"opens_at"`
	State            string     `json:"state"`
}

// adminConcert reads ?concert_id= (default concert when absent) and checks
// that the concert exists.
func (s *server) adminConcert(c *gin.Context) (int64, error) {
	id := s.DefaultConcert
	if raw, ok := c.GetQuery("concert_id"); ok {
		var err error
		if id, err = parseConcertID("concert_id", raw); err != nil {
			return 0, err
		}
	}
	if err := s.concertExists(c.Request.Context(), id); err != nil {
		return 0, err
	}
	return id, nil
}

// handleAdminQueue is GET /admin/queue.
func (s *server) handleAdminQueue(c *gin.Context) {
	id, err := s.adminConcert(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	st, err := s.Queue.Status(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeQueueStatus(c, id, st)
}

// handleAdminPatchQueue is PATCH /admin/queue: change any of the admission
// settings; every replica applies them on its next admission tick.
func (s *server) handleAdminPatchQueue(c *gin.Context) {
	id, f, err := readConcertPatch(c, s.adminConcert)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var p queue.SettingsPatch
	if f.has("admit_per_second") {
		v, err := f.number("admit_per_second", 0, queue.MaxAdmitPerSecond)
		if err != nil {
			s.writeError(c, err)
			return
		}
		p.AdmitPerSecond = &v
	}
	if f.has("max_active") {
		v, err := f.int("max_active", 0, queue.MaxMaxActive)
		if err != nil {
			s.writeError(c, err)
			return
		}
		p.MaxActive = &v
	}
	if f.has("active_ttl_seconds") {
		v, err := f.int("active_ttl_seconds", 1, int64(queue.MaxActiveTTL/time.Second))
		if err != nil {
			s.writeError(c, err)
			return
		}
		d := time.Duration(v) * time.Second
		p.ActiveTTL = &d
	}
	if f.has("paused") {
		v, err := f.bool("paused")
		if err != nil {
			s.writeError(c, err)
			return
		}
		p.Paused = &v
	}
	st, err := s.Admin.UpdateQueue(c.Request.Context(), actor(c), id, p)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.log.InfoContext(c.Request.Context(), "admission settings changed", "actor", actor(c), "concert_id", id,
		"admit_per_second", st.AdmitPerSecond, "max_active", st.MaxActive,
		"active_ttl", st.ActiveTTL, "paused", st.Paused)
	s.writeQueueStatus(c, id, st)
}

// writeQueueStatus answers with the line's settings and counts, and the
// concert's free seats, opening time and state.
func (s *server) writeQueueStatus(c *gin.Context, id int64, st queue.Status) {
	ctx := c.Request.Context()
	con, err := s.Booking.Concert(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	free, err := s.Booking.FreeSeats(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, queueStatusResponse{
		ConcertID: id, Waiting: st.Waiting, Active: st.Active,
		AdmitPerSecond: st.AdmitPerSecond, MaxActive: st.MaxActive,
		ActiveTTLSeconds: int64(st.ActiveTTL / time.Second), Paused: st.Paused,
		AdmittedTotal: st.AdmittedTotal, SkippedInactive: st.SkippedTotal, FreeSeats: free, OpensAt: con.OpensAt,
		State: s.concertState(con, st.State),
	})
}
