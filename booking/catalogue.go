package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/booking/bookingdb"
)

// Errors of the catalogue.
var (
	// ErrInvalidConcert: a concert or a change of one breaks a rule of the
	// catalogue; the wrapped message names the field.
	ErrInvalidConcert = errors.New("invalid concert")
	// ErrSaleOpen: the opening time of a concert whose sale has opened
	// cannot change any more.
	ErrSaleOpen = errors.New("the sale has opened")
)

// Limits of the catalogue.
const (
	MaxSeatNumber      = 100_000
	MaxPrice           = 100_000_000
	MaxSeatsPerConcert = 1_000_000 // over all dates
	MaxNameLength      = 200       // characters
)

// SeatBlock is a run of seats numbered From..To (inclusive) at one price.
type SeatBlock struct {
	From, To int
	Price    int64
}

// Seats is how many seats the block has.
func (b SeatBlock) Seats() int { return b.To - b.From + 1 }

// Concert is a concert as the catalogue has it. Every date has the same seat
// blocks.
type Concert struct {
	ID   int64
	Name string
	// OpensAt is when the sale opens; nil: it was open from the start.
	OpensAt *time.Time
	Dates   []string // YYYY-MM-DD, ascending
	Blocks  []SeatBlock
}

// SaleOpen reports whether the concert's sale has opened at now.
func (c Concert) SaleOpen(now time.Time) bool {
	return c.OpensAt == nil || !now.Before(*c.OpensAt)
}

// NewConcert is a concert to create.
type NewConcert struct {
	Name    string
	Dates   []string // YYYY-MM-DD, any order, no repeats
	Blocks  []SeatBlock
	OpensAt *time.Time
}

// ConcertPatch names what to change of a concert; nil Name and a false
// SetOpensAt leave those as they are. SetOpensAt with a nil OpensAt clears it.
type ConcertPatch struct {
	Name       *string
	SetOpensAt bool
	OpensAt    *time.Time
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConcert}, args...)...)
}

func checkName(name string) error {
	if strings.TrimSpace(name) == "" || utf8.RuneCountInString(name) > MaxNameLength || !utf8.ValidString(name) {
		return invalidf("name must be 1 to %d characters, not only spaces", MaxNameLength)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalidf("name must not contain control characters")
		}
	}
	return nil
}

// Validate returns ErrInvalidConcert, naming the field, when the concert
// breaks a rule: an empty name, no dates, a malformed or repeated date, no
// blocks, a block that is empty (from > to) or overlaps another, a seat
// number outside 1…MaxSeatNumber, a price outside 1…MaxPrice, or more than
// MaxSeatsPerConcert seats over all dates.
func (nc NewConcert) Validate() error {
	if err := checkName(nc.Name); err != nil {
		return err
	}
	if len(nc.Dates) == 0 {
		return invalidf("dates must list at least one date")
	}
	seen := make(map[string]int, len(nc.Dates))
	for i, d := range nc.Dates {
		if len(d) != len(DateLayout) {
			return invalidf("dates[%d] must be a date YYYY-MM-DD", i)
		}
		if _, err := time.Parse(DateLayout, d); err != nil {
			return invalidf("dates[%d] must be a date YYYY-MM-DD", i)
		}
		if j, dup := seen[d]; dup {
			return invalidf("dates[%d] repeats dates[%d] (%s)", i, j, d)
		}
		seen[d] = i
	}
	if len(nc.Blocks) == 0 {
		return invalidf("seats must list at least one block")
	}
	perDate := 0
	for i, b := range nc.Blocks {
		switch {
		case b.From < 1 || b.From > MaxSeatNumber:
			return invalidf("seats[%d].from must be from 1 to %d", i, MaxSeatNumber)
		case b.To < 1 || b.To > MaxSeatNumber:
			return invalidf("seats[%d].to must be from 1 to %d", i, MaxSeatNumber)
		case b.To < b.From:
			return invalidf("seats[%d] is empty: to is below from", i)
		case b.Price < 1 || b.Price > MaxPrice:
			return invalidf("seats[%d].price must be from 1 to %d", i, MaxPrice)
		}
		for j, o := range nc.Blocks[:i] {
			if b.From <= o.To && o.From <= b.To {
				return invalidf("seats[%d] overlaps seats[%d]", i, j)
			}
		}
		perDate += b.Seats()
	}
	if total := perDate * len(nc.Dates); total > MaxSeatsPerConcert {
		return invalidf("seats: %d seats over %d dates is more than %d in all", total, len(nc.Dates), MaxSeatsPerConcert)
	}
	return nil
}

// Validate returns ErrInvalidConcert, naming the field, for a bad name.
func (p ConcertPatch) Validate() error {
	if p.Name != nil {
		return checkName(*p.Name)
	}
	return nil
}

// CreateConcert validates nc and creates it inside the caller's transaction
// tx, returning it as the catalogue will show it once tx commits. Seats are
// written in one statement per date. The catalogue of this replica sees the
// concert after Refresh (or on first use of its id); others within their
// refresh interval. Errors: ErrInvalidConcert.
func (s *Service) CreateConcert(ctx context.Context, tx sqlx.ExtContext, nc NewConcert) (_ Concert, err error) {
	defer markUnavailable(&err)
	if err := nc.Validate(); err != nil {
		return Concert{}, err
	}
	c := Concert{Name: nc.Name, OpensAt: nc.OpensAt, Dates: slices.Clone(nc.Dates), Blocks: slices.Clone(nc.Blocks)}
	slices.Sort(c.Dates)
	slices.SortFunc(c.Blocks, func(a, b SeatBlock) int { return a.From - b.From })
	id, err := bookingdb.InsertConcert(ctx, tx, toDBConcert(0, c))
	if err != nil {
		return Concert{}, fmt.Errorf("booking: create concert: %w", err)
	}
	c.ID = id
	return c, nil
}

func toDBConcert(id int64, c Concert) bookingdb.NewConcert {
	blocks := make([]bookingdb.Block, len(c.Blocks))
	for i, b := range c.Blocks {
		blocks[i] = bookingdb.Block(b)
	}
	return bookingdb.NewConcert{ID: id, Name: c.Name, OpensAt: c.OpensAt, Days: c.Dates, Blocks: blocks}
}

// PatchConcert changes a concert's name and opening time inside the caller's
// transaction, locking the concert until tx ends so that concurrent changes
// of one concert apply one after another, and returns the concert before and
// after. Errors: ErrConcertNotFound, ErrInvalidConcert, ErrSaleOpen (the
// opening time changes while the sale is open: at or after opens_at, or
// without one).
func (s *Service) PatchConcert(ctx context.Context, tx sqlx.ExtContext, id int64, p ConcertPatch) (before, after Concert, err error) {
	defer markUnavailable(&err)
	if err := p.Validate(); err != nil {
		return Concert{}, Concert{}, err
	}
	d, err := bookingdb.LockDetails(ctx, tx, id)
	if errors.Is(err, bookingdb.ErrNotFound) {
		return Concert{}, Concert{}, ErrConcertNotFound
	}
	if err != nil {
		return Concert{}, Concert{}, fmt.Errorf("booking: change concert: %w", err)
	}
	before, err = s.Concert(ctx, id)
	if err != nil {
		return Concert{}, Concert{}, err
	}
	before.Name, before.OpensAt = d.Name, d.OpensAt // the locked truth, not the cache
	after = before
	if p.Name != nil {
		after.Name = *p.Name
	}
	if p.SetOpensAt && !sameTime(before.OpensAt, p.OpensAt) {
		if before.SaleOpen(s.cfg.Now()) {
			return Concert{}, Concert{}, ErrSaleOpen
		}
		after.OpensAt = p.OpensAt
	}
	if err := bookingdb.UpdateDetails(ctx, tx, id, after.Name, after.OpensAt); err != nil {
		return Concert{}, Concert{}, fmt.Errorf("booking: change concert: %w", err)
	}
	return before, after, nil
}

// SameOpening reports whether c and o open their sale at the same time.
func (c Concert) SameOpening(o Concert) bool { return sameTime(c.OpensAt, o.OpensAt) }

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// Concerts returns every concert of the catalogue, ascending by id, from
// this replica's cache.
func (s *Service) Concerts(ctx context.Context) (_ []Concert, err error) {
	defer markUnavailable(&err)
	cat, err := s.loaded(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Concert, 0, len(cat.ids))
	for _, id := range cat.ids {
		out = append(out, cat.concerts[id].public())
	}
	return out, nil
}

// Concert returns one concert from this replica's cache (reloading it on a
// miss, as ConcertExists does). Errors: ErrConcertNotFound.
func (s *Service) Concert(ctx context.Context, id int64) (_ Concert, err error) {
	defer markUnavailable(&err)
	c, err := s.lookupConcert(ctx, id)
	if err != nil {
		return Concert{}, err
	}
	return c.public(), nil
}

// OnSale returns the concerts that have a date today or later, ascending by
// id: the ones fans may still buy for, scheduled ones included.
func (s *Service) OnSale(ctx context.Context) (_ []Concert, err error) {
	defer markUnavailable(&err)
	cat, err := s.loaded(ctx)
	if err != nil {
		return nil, err
	}
	var out []Concert
	for _, id := range cat.ids {
		c := cat.concerts[id]
		if len(s.fromToday(c)) > 0 {
			out = append(out, c.public())
		}
	}
	return out, nil
}

func (c *concert) public() Concert {
	out := Concert{ID: c.id, Name: c.name, OpensAt: c.opensAt, Blocks: slices.Clone(c.blocks), Dates: make([]string, len(c.dates))}
	for i, d := range c.dates {
		out.Dates[i] = d.day
	}
	return out
}

// DateSeats counts the seats of one date: Seats = Sold + Held + Free.
type DateSeats struct {
	Date                    string
	Seats, Sold, Held, Free int
}

// SeatCounts returns, per date of the concert (ascending), how many seats are
// sold, held and free right now: one pipelined Redis round trip for all dates
// (plus the rebuild of a lost sold cache), and the seats of each date from
// memory. A seat both sold and held (a sale finishing) counts as sold.
// Errors: ErrConcertNotFound.
func (s *Service) SeatCounts(ctx context.Context, concertID int64) (_ []DateSeats, err error) {
	defer markUnavailable(&err)
	c, err := s.lookupConcert(ctx, concertID)
	if err != nil {
		return nil, err
	}
	out := make([]DateSeats, len(c.dates))
	if len(c.dates) == 0 {
		return out, nil
	}
	snaps, err := s.snapshots(ctx, concertID, c.dates, ms(s.cfg.Now()))
	if err != nil {
		return nil, err
	}
	for i, d := range c.dates {
		t, err := s.seatTable(ctx, d)
		if err != nil {
			return nil, err
		}
		free := len(snaps[i].available(t, 0))
		sold := 0
		for n := range t.numbers() {
			if soldBit(snaps[i].sold, n) {
				sold++
			}
		}
		out[i] = DateSeats{Date: d.day, Seats: t.size(), Sold: sold, Held: t.size() - sold - free, Free: free}
	}
	return out, nil
}

// FreeSeats is how many seats of the concert's dates from today on are
// neither sold nor held. Errors: ErrConcertNotFound.
func (s *Service) FreeSeats(ctx context.Context, concertID int64) (_ int, err error) {
	defer markUnavailable(&err)
	counts, err := s.SeatCounts(ctx, concertID)
	if err != nil {
		return 0, err
	}
	today := s.cfg.Now().In(s.cfg.Location).Format(DateLayout)
	free := 0
	for _, d := range counts {
		if d.Date >= today {
			free += d.Free
		}
	}
	return free, nil
}
