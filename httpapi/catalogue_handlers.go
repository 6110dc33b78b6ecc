package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rushgate/rushgate/admin"
	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/queue"
)

// maxConcertID: concert ids are Postgres BIGSERIALs, any positive 63-bit
// integer.
const maxConcertID = math.MaxInt64

func parseConcertID(name, raw string) (int64, error) {
	return parseInt(name, raw, 1, maxConcertID)
}

// pathConcert reads the concert id of /…/concerts/:id.
func pathConcert(c *gin.Context) (int64, error) {
	return parseConcertID("concert id in the path", c.Param("id"))
}

// readConcertPatch reads a PATCH of one concert: its id, found by idOf (in
// the path or the query), then the fields of the body: a bad id is answered
// before a bad body.
func readConcertPatch(c *gin.Context, idOf func(*gin.Context) (int64, error)) (int64, fields, error) {
	id, err := idOf(c)
	if err != nil {
		return 0, nil, err
	}
	f, err := readFields(c, false)
	return id, f, err
}

// concertOfPath returns the concert of /…/concerts/:id, or answers the
// error and returns false.
func (s *server) concertOfPath(c *gin.Context) (booking.Concert, bool) {
	id, err := pathConcert(c)
	if err == nil {
		var con booking.Concert
		if con, err = s.Booking.Concert(c.Request.Context(), id); err == nil {
			return con, true
		}
	}
	s.writeError(c, err)
	return booking.Concert{}, false
}

type dateSeatsJSON struct {
	Date  string `json:"date"`
	Seats int    `json:"seats"`
	Sold  int    `json:"sold"`
	Held  int    `json:"held"`
	Free  int    `json:"free"`
}

// adminConcertJSON is a concert as GET /admin/concerts/{id} shows it: what
// the operator wrote, and the seats of each date sold, held and free.
type adminConcertJSON struct {
	ConcertID int64             `json:"concert_id"`
	Name      string            `json:"name"`
	OpensAt   *time.Time        `json:"opens_at"`
	State     string            `json:"state"`
	Dates     []dateSeatsJSON   `json:"dates"`
	Seats     []admin.SeatBlock `json:"seats"`
}

// writeAdminConcert answers with the concert and its seat counts.
func (s *server) writeAdminConcert(c *gin.Context, status int, con booking.Concert) {
	counts, err := s.Booking.SeatCounts(c.Request.Context(), con.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	a := admin.ConcertOf(con)
	out := adminConcertJSON{ConcertID: con.ID, Name: con.Name, OpensAt: con.OpensAt, State: s.concertState(con),
		Seats: a.Seats, Dates: make([]dateSeatsJSON, len(counts))}
	for i, d := range counts {
		out.Dates[i] = dateSeatsJSON(d)
	}
	c.JSON(status, out)
}

// handleCreateConcert is POST /admin/concerts.
func (s *server) handleCreateConcert(c *gin.Context) {
	f, err := readFields(c, false)
	if err != nil {
		s.writeError(c, err)
		return
	}
	nc, err := f.newConcert()
	if err != nil {
		s.writeError(c, err)
		return
	}
	con, err := s.Admin.CreateConcert(c.Request.Context(), actor(c), nc)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.log.InfoContext(c.Request.Context(), "concert created", "actor", actor(c), "concert_id", con.ID, "name", con.Name)
	s.writeAdminConcert(c, http.StatusCreated, con)
}

// handleListConcerts is GET /admin/concerts: every concert, past ones too.
func (s *server) handleListConcerts(c *gin.Context) {
	all, err := s.Booking.Concerts(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.writeConcertList(c, all)
}

// writeConcertList answers {"concerts": [...]}, without seat blocks.
func (s *server) writeConcertList(c *gin.Context, all []booking.Concert) {
	out := make([]publicConcertJSON, len(all))
	for i, con := range all {
		out[i] = publicConcertJSON{ConcertID: con.ID, Name: con.Name, OpensAt: con.OpensAt, State: s.concertState(con), Dates: admin.ConcertOf(con).Dates}
	}
	c.JSON(http.StatusOK, gin.H{"concerts": out})
}

// handleGetConcert is GET /admin/concerts/{id}.
func (s *server) handleGetConcert(c *gin.Context) {
	if con, ok := s.concertOfPath(c); ok {
		s.writeAdminConcert(c, http.StatusOK, con)
	}
}

// handlePatchConcert is PATCH /admin/concerts/{id}: name and/or opens_at
// (null clears it).
func (s *server) handlePatchConcert(c *gin.Context) {
	id, f, err := readConcertPatch(c, pathConcert)
	if err != nil {
		s.writeError(c, err)
		return
	}
	var p booking.ConcertPatch
	if f.has("name") {
		name, err := f.string("name")
		if err != nil {
			s.writeError(c, err)
			return
		}
		p.Name = &name
	}
	if _, ok := f["opens_at"]; ok {
		p.SetOpensAt = true
		if p.OpensAt, err = f.optionalTime("opens_at"); err != nil {
			s.writeError(c, err)
			return
		}
	}
	con, err := s.Admin.PatchConcert(c.Request.Context(), actor(c), id, p)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.log.InfoContext(c.Request.Context(), "concert changed", "actor", actor(c), "concert_id", id)
	s.writeAdminConcert(c, http.StatusOK, con)
}

// newConcert decodes the body of POST /admin/concerts. It checks types
// only; booking checks the rules (ranges, overlaps, repeats).
func (f fields) newConcert() (booking.NewConcert, error) {
	var nc booking.NewConcert
	var err error
	if nc.Name, err = f.string("name"); err != nil {
		return nc, err
	}
	if !f.has("dates") {
		return nc, invalid("dates is required")
	}
	var dates []json.RawMessage
	if err := json.Unmarshal(f["dates"], &dates); err != nil {
		return nc, invalid("dates must be an array of dates YYYY-MM-DD")
	}
	for i, raw := range dates {
		var d string
		if err := json.Unmarshal(raw, &d); err != nil {
			return nc, invalid("dates[" + strconv.Itoa(i) + "] must be a date YYYY-MM-DD")
		}
		nc.Dates = append(nc.Dates, d)
	}
	if !f.has("seats") {
		return nc, invalid("seats is required")
	}
	var blocks []json.RawMessage
	if err := json.Unmarshal(f["seats"], &blocks); err != nil {
		return nc, invalid(`seats must be an array of blocks {"from", "to", "price"}`)
	}
	for i, raw := range blocks {
		name := "seats[" + strconv.Itoa(i) + "]"
		var bf fields
		if err := json.Unmarshal(raw, &bf); err != nil || bf == nil {
			return nc, invalid(name + ` must be an object {"from", "to", "price"}`)
		}
		// Wide bounds here only reject what is not an integer; booking
		// names the rule a number breaks.
		from, err := bf.int("from", math.MinInt32, math.MaxInt32)
		if err != nil {
			return nc, prefixed(name+".", err)
		}
		to, err := bf.int("to", math.MinInt32, math.MaxInt32)
		if err != nil {
			return nc, prefixed(name+".", err)
		}
		price, err := bf.int("price", math.MinInt64, math.MaxInt64)
		if err != nil {
			return nc, prefixed(name+".", err)
		}
		nc.Blocks = append(nc.Blocks, booking.SeatBlock{From: int(from), To: int(to), Price: price})
	}
	if nc.OpensAt, err = f.optionalTime("opens_at"); err != nil {
		return nc, err
	}
	return nc, nil
}

// prefixed puts a path in front of the field an invalid_request names.
func prefixed(path string, err error) error {
	if ae, ok := err.(*apiError); ok {
		return invalid(path + ae.message)
	}
	return err
}

// optionalTime reads an RFC 3339 time with offset; nil when absent or null.
func (f fields) optionalTime(name string) (*time.Time, error) {
	if !f.has(name) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(f[name], &s); err != nil {
		return nil, invalid(name + " must be a time in RFC 3339 with offset, e.g. 2026-12-24T20:00:00+09:00")
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || t.Year() < 2000 || t.Year() > 9999 {
		return nil, invalid(name + " must be a time in RFC 3339 with offset, e.g. 2026-12-24T20:00:00+09:00")
	}
	return &t, nil
}

// concertState is the state of a concert's sale as fans see it: sold_out
// once every seat is sold, scheduled before opens_at, paused while its
// admission is paused, else open; as this replica's admission loop last saw
// it (no Redis call), or as known, a state the queue just read.
func (s *server) concertState(con booking.Concert, known ...string) string {
	state := ""
	if a, _, _, ok := s.Queue.Observed(con.ID); ok {
		state = a.State
	}
	if len(known) > 0 {
		state = known[0]
	}
	switch {
	case state == queue.StateSoldOut:
		return queue.StateSoldOut
	case !con.SaleOpen(s.Now()) || state == queue.StateScheduled:
		return queue.StateScheduled
	case state == queue.StatePaused:
		return queue.StatePaused
	}
	return queue.StateOpen
}

// publicConcertJSON is a concert as fans see it: no counts, no settings.
type publicConcertJSON struct {
	ConcertID int64             `json:"concert_id"`
	Name      string            `json:"name"`
	OpensAt   *time.Time        `json:"opens_at"`
	State     string            `json:"state"`
	Dates     []string          `json:"dates"`
	Seats     []admin.SeatBlock `json:"seats,omitempty"`
}

// publicCache lets browsers and CDNs keep the public catalogue briefly: it
// changes rarely, and a rush's first seconds would otherwise send every fan's
// page load here.
const publicCache = "public, max-age=5"

// handlePublicConcerts is GET /api/concerts: the concerts on sale (a date
// today or later), answered from this replica's catalogue in memory.
func (s *server) handlePublicConcerts(c *gin.Context) {
	all, err := s.Booking.OnSale(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Cache-Control", publicCache)
	s.writeConcertList(c, all)
}

// handlePublicConcert is GET /api/concerts/{id}: also the seat blocks and
// their prices.
func (s *server) handlePublicConcert(c *gin.Context) {
	con, ok := s.concertOfPath(c)
	if !ok {
		return
	}
	a := admin.ConcertOf(con)
	c.Header("Cache-Control", publicCache)
	c.JSON(http.StatusOK, publicConcertJSON{ConcertID: con.ID, Name: con.Name, OpensAt: con.OpensAt,
		State: s.concertState(con), Dates: a.Dates, Seats: a.Seats})
}
