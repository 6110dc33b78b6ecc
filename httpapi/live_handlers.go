package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/audit"
	"github.com/rushgate/rushgate/forecast"
	"github.com/rushgate/rushgate/livestats"
	"github.com/rushgate/rushgate/queue"
)

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(c *gin.Context, name string, def, lo, hi int64) (int64, error) {
	raw, ok := c.GetQuery(name)
	if !ok {
		return def, nil
	}
	return parseInt(name, raw, lo, hi)
}

type auditEntryJSON struct {
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	ConcertID *int64          `json:"concert_id"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

// handleAudit is GET /admin/audit?concert_id=&limit=: the latest admin
// changes, newest first; of one concert, or of all without concert_id.
func (s *server) handleAudit(c *gin.Context) {
	var id int64
	if _, ok := c.GetQuery("concert_id"); ok {
		var err error
		if id, err = s.adminConcert(c); err != nil {
			s.writeError(c, err)
			return
		}
	}
	limit, err := queryInt(c, "limit", 100, 1, audit.MaxList)
	if err != nil {
		s.writeError(c, err)
		return
	}
	entries, err := s.Admin.Log().List(c.Request.Context(), id, int(limit))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]auditEntryJSON, len(entries))
	for i, e := range entries {
		out[i] = auditEntryJSON{At: e.At, Actor: e.Actor, Action: e.Action, Before: e.Before, After: e.After}
		if e.ConcertID != 0 {
			cid := e.ConcertID
			out[i].ConcertID = &cid
		}
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}

type pointJSON struct {
	T               time.Time `json:"t"`
	Waiting         int64     `json:"waiting"`
	Active          int64     `json:"active"`
	Entered         int64     `json:"entered"`
	Admitted        int64     `json:"admitted"`
	SkippedInactive int64     `json:"skipped_inactive"`
	Holds           int64     `json:"holds"`
	Sales           int64     `json:"sales"`
	AdmitPerSecond  float64   `json:"admit_per_second"`
}

// handleStats is GET /admin/queue/stats?concert_id=&seconds=: one point per
// second, oldest first, ending with the last second every replica has
// written (livestats.Settle before now).
func (s *server) handleStats(c *gin.Context) {
	id, err := s.adminConcert(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	n, err := queryInt(c, "seconds", 900, 1, livestats.MaxSeconds)
	if err != nil {
		s.writeError(c, err)
		return
	}
	points, err := s.Stats.Last(c.Request.Context(), id, int(n))
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]pointJSON, len(points))
	for i, p := range points {
		out[i] = pointJSON{T: p.T, Waiting: p.Waiting, Active: p.Active, Entered: p.Entered, Admitted: p.Admitted,
			SkippedInactive: p.SkippedInactive, Holds: p.Holds, Sales: p.Sales, AdmitPerSecond: p.AdmitPerSecond}
	}
	c.JSON(http.StatusOK, gin.H{"concert_id": id, "points": out})
}

// arrivalWindow is how far back the arrival rate of a projection is
// measured: long enough to smooth a burst, short enough to follow a change.
const arrivalWindow = 10

// handleProjection is GET /admin/queue/projection?concert_id=&admit_per_second=
// (the rate defaults to the current one): what the line would do at that rate.
func (s *server) handleProjection(c *gin.Context) {
	id, err := s.adminConcert(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	st, err := s.Queue.Status(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	rate := st.AdmitPerSecond
	if raw, ok := c.GetQuery("admit_per_second"); ok {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v != v || v < 0 || v > queue.MaxAdmitPerSecond {
			s.writeError(c, invalid("admit_per_second must be a number from 0 to "+strconv.Itoa(queue.MaxAdmitPerSecond)))
			return
		}
		rate = v
	}
	free, err := s.Booking.FreeSeats(ctx, id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	points, err := s.Stats.Last(ctx, id, arrivalWindow)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var entered int64
	for _, p := range points {
		entered += p.Entered
	}
	line := forecast.Line{Waiting: st.Waiting, FreeSeats: int64(free), ArrivalsPerSecond: float64(entered) / arrivalWindow}
	p := forecast.Project(line, rate)
	c.JSON(http.StatusOK, gin.H{
		"concert_id": id, "waiting": st.Waiting, "admit_per_second": rate,
		"drain_seconds": p.DrainSeconds, "tail_wait_seconds": p.TailWaitSeconds,
		"free_seats": free, "sold_out_in_seconds": p.SoldOutInSeconds,
		"arrivals_per_second": line.ArrivalsPerSecond, "active": st.Active, "max_active": st.MaxActive,
		"paused": st.Paused,
	})
}
