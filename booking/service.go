package booking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking/bookingdb"
	"github.com/rushgate/rushgate/internal/coalesce"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/unreachable"
)

// Config configures a Service. Zero fields take the defaults below.
type Config struct {
	// HoldTTL is how long an unpaid hold keeps its seat (default 5m).
	HoldTTL time.Duration
	// MaxHoldsPerUser is how many live unpaid holds a user may have in one
	// concert (default 4).
	MaxHoldsPerUser int
	// ClaimLease is how long a claim (a payment in progress) keeps the seat at
	// least, even past the hold's expiry (default 1m); a payment must finish
	// well within it. It bounds how long a
	// payment that crashed between ClaimHold and UnclaimHold/MarkSold can keep
	// a seat from being sold to someone else.
	ClaimLease time.Duration
	// RefreshOnMiss is the least time between two catalogue reloads caused by
	// an unknown concert or date (default 1s), so a client asking for
	// concerts that do not exist cannot turn every request into a query.
	RefreshOnMiss time.Duration
	// HoldBatch is the most holds of one concert sent to Redis as one script
	// run (see holdBatch); 1 or less (the default) sends each hold alone.
	HoldBatch int
	// HoldBatchWait bounds how long a hold queued behind its concert's batch
	// in flight may wait for more to join its own batch.
	HoldBatchWait time.Duration
	// OnHoldBatch, when set, is told of every run of holds (how many, how
	// long the oldest waited, how long the run took), batched or not; it
	// must be quick.
	OnHoldBatch func(coalesce.BatchStats)
	// HoldRecords is where a new hold's record goes: RecordsInUserSet (the
	// default) or RecordsInOwnKey, the form versions before the set form
	// read. Every version since reads both, so a rolling upgrade from an
	// older one writes RecordsInOwnKey until no older replica serves.
	HoldRecords string
	// StockMaxAge is how long a count of a concert's seats serves admission
	// on every replica before it is made again (see Stock): default 250ms;
	// negative counts at every call.
	StockMaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Location decides which day is "today" for AvailableDates; nil means
	// time.Local.
	Location *time.Location
}

// Where hold records go (Config.HoldRecords).
const (
	// RecordsInUserSet keeps a hold's record as its member of the user's
	// set of holds: one Redis write per hold instead of two.
	RecordsInUserSet = "user-set"
	// RecordsInOwnKey keeps each hold's record in a key of its own.
	RecordsInOwnKey = "own-key"
)

func (c *Config) setDefaults() {
	if c.HoldRecords == "" {
		c.HoldRecords = RecordsInUserSet
	}
	if c.StockMaxAge == 0 {
		c.StockMaxAge = 250 * time.Millisecond
	}
	if c.HoldTTL <= 0 {
		c.HoldTTL = 5 * time.Minute
	}
	if c.MaxHoldsPerUser <= 0 {
		c.MaxHoldsPerUser = 4
	}
	if c.ClaimLease <= 0 {
		c.ClaimLease = time.Minute
	}
	if c.RefreshOnMiss <= 0 {
		c.RefreshOnMiss = time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Location == nil {
		c.Location = time.Local
	}
}

// Service is the booking of every concert: the catalogue, cached in memory,
// and the holds and sold seats, in Redis. It is safe for concurrent use.
type Service struct {
	store *bookingdb.Store
	rdb   redis.UniversalClient
	keys  keyspace.Space
	cfg   Config

	cat       atomic.Pointer[catalogue]
	refreshMu sync.Mutex // one reload at a time
	missMu    sync.Mutex // guards lastMiss*; held while a miss reloads
	lastMiss  time.Time
	// lastMissErr is the error of the last reload on a miss: while it
	// stands, an id the catalogue does not hold may exist all the same.
	lastMissErr error

	rebuilds flight // one sold-cache rebuild per date at a time

	// holds batches the holds of each concert and gate; nil when HoldBatch
	// is 1.
	holds *coalesce.Batcher[holdLane, holdRequest, holdResult]
}

// NewService returns the booking service on Postgres db (the catalogue and the
// sales) and Redis rdb (holds and the sold cache) under the key space keys.
// It does not touch either until first used.
func NewService(db *sqlx.DB, rdb redis.UniversalClient, keys keyspace.Space, cfg Config) *Service {
	cfg.setDefaults()
	s := &Service{store: bookingdb.New(db), rdb: rdb, keys: keys, cfg: cfg}
	if cfg.HoldBatch > 1 {
		// A batch that finds Redis unreachable answers those queued behind
		// it too: they would only wait out a call deadline of their own.
		s.holds, _ = coalesce.New(coalesce.Config{MaxBatch: cfg.HoldBatch, Wait: max(cfg.HoldBatchWait, 0),
			Unreachable: unreachable.Is, OnBatch: cfg.OnHoldBatch}, func(ctx context.Context, l holdLane, reqs []holdRequest) ([]holdResult, error) {
			return s.holdBatch(ctx, l.concert, reqs)
		}) // cannot fail: nothing negative
	}
	return s
}

// holdLane is what the holds of one batch share: their concert (the key
// space of one script run) and their gate's key ("" for holds without
// one), which the script takes once per run. Checkout gates every hold of
// a concert with its admitted tokens, so a concert has one lane.
type holdLane struct {
	concert int64
	gate    string
}

// catalogue is an immutable snapshot of the concerts and their dates; a
// refresh swaps in a new one. Date entries are shared between snapshots, so
// the seats a replica has loaded survive refreshes.
type catalogue struct {
	concerts map[int64]*concert
	ids      []int64
}

type concert struct {
	id      int64
	name    string
	opensAt *time.Time
	blocks  []SeatBlock
	dates   []*date // ascending by day
	byDay   map[string]*date
}

// date is one date of a concert. Its seats never change once created. They
// are its concert's seat blocks, known with the catalogue; a date whose seat
// count disagrees with its blocks has its seats loaded from Postgres, once
// per replica, on first use.
type date struct {
	id    int64
	day   string
	count int // number of seats

	mu    sync.Mutex // serialises the first load of seats
	seats atomic.Pointer[seatTable]
}

// ConcertExists reports whether the concert is in the catalogue. It answers
// from memory; an unknown id reloads the catalogue at most once per
// Config.RefreshOnMiss, so a new concert is seen without a restart. The error
// is that of loading the catalogue the first time.
func (s *Service) ConcertExists(ctx context.Context, concertID int64) (_ bool, err error) {
	defer markUnavailable(&err)
	_, err = s.lookupConcert(ctx, concertID)
	if errors.Is(err, ErrConcertNotFound) {
		return false, nil
	}
	return err == nil, err
}

// ConcertIDs returns the ids of all concerts, ascending, from the cache. If the
// catalogue was never loaded it tries once (errors are logged) so that an
// admission loop started before Run still sees the concerts.
func (s *Service) ConcertIDs() []int64 {
	c := s.cat.Load()
	if c == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		if c, err = s.loaded(ctx); err != nil {
			slog.Warn("booking: load catalogue", "err", err)
		}
		if c == nil {
			return nil
		}
	}
	return slices.Clone(c.ids)
}

// Run refreshes the catalogue now and then every interval until ctx ends,
// and each time heals the sold cache from the latest sales (HealRecentSales;
// every is capped so that it runs well within the heal window). A failed
// refresh is logged and the previous catalogue kept.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	every = min(every, healWindow/3)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("booking: refresh catalogue", "err", err)
		}
		if err := s.HealRecentSales(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("booking: heal sold cache", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Refresh reloads the catalogue from Postgres (three queries, plus one to
// count the seats of dates not seen before), then makes sure the sold cache of
// every date from today on is loaded in Redis, rebuilding the missing ones
// from Postgres. On error the previous catalogue is kept, except that a
// failure to warm the sold caches still installs the new catalogue.
func (s *Service) Refresh(ctx context.Context) (err error) {
	defer markUnavailable(&err)
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	rows, err := s.store.Catalogue(ctx)
	if err != nil {
		return fmt.Errorf("booking: refresh: %w", err)
	}
	known := map[int64]*date{}
	if old := s.cat.Load(); old != nil {
		for _, c := range old.concerts {
			for _, d := range c.dates {
				known[d.id] = d
			}
		}
	}
	var fresh []int64
	for _, c := range rows {
		for _, d := range c.Dates {
			if known[d.ID] == nil {
				fresh = append(fresh, d.ID)
			}
		}
	}
	summaries, err := s.store.SeatSummaries(ctx, fresh)
	if err != nil {
		return fmt.Errorf("booking: refresh: %w", err)
	}
	details, err := s.store.AllDetails(ctx)
	if err != nil {
		return fmt.Errorf("booking: refresh: %w", err)
	}
	byID := make(map[int64]bookingdb.Details, len(details))
	for _, d := range details {
		byID[d.ID] = d
	}
	next := &catalogue{concerts: make(map[int64]*concert, len(rows))}
	for _, r := range rows {
		det := byID[r.ID]
		c := &concert{id: r.ID, name: det.Name, opensAt: det.OpensAt, byDay: make(map[string]*date, len(r.Dates))}
		for _, b := range det.Blocks {
			c.blocks = append(c.blocks, SeatBlock(b))
		}
		// Every date has its concert's blocks: a hold or a listing needs no
		// read of a date's seats (one read of thousands of rows, which every
		// hold of the date would wait for, on each replica). A date whose
		// rows add up otherwise (count, lowest and highest number, sum of
		// prices) is read from Postgres on first use.
		blocks := tableOfBlocks(c.blocks)
		for _, rd := range r.Dates {
			d := known[rd.ID]
			if d == nil {
				sum := summaries[rd.ID]
				d = &date{id: rd.ID, day: rd.Day, count: sum.Seats}
				if sum == blocks.summary() {
					d.seats.Store(blocks)
				}
			}
			c.dates = append(c.dates, d)
			c.byDay[d.day] = d
		}
		next.concerts[c.id] = c
		next.ids = append(next.ids, c.id)
	}
	s.cat.Store(next)
	if err := s.warmSold(ctx, next); err != nil {
		return fmt.Errorf("booking: refresh: %w", err)
	}
	return nil
}

// loaded returns the catalogue, loading it the first time.
func (s *Service) loaded(ctx context.Context) (*catalogue, error) {
	if c := s.cat.Load(); c != nil {
		return c, nil
	}
	s.missMu.Lock()
	defer s.missMu.Unlock()
	if c := s.cat.Load(); c != nil {
		return c, nil
	}
	err := s.Refresh(ctx)
	if c := s.cat.Load(); c != nil {
		return c, nil // loaded, even if warming the sold caches failed
	}
	return nil, err
}

// refreshOnMiss reloads the catalogue unless a miss did so less than
// Config.RefreshOnMiss ago, and returns the error of that reload (this one or
// the last). Concurrent misses wait for one reload.
func (s *Service) refreshOnMiss(ctx context.Context) error {
	s.missMu.Lock()
	defer s.missMu.Unlock()
	now := s.cfg.Now()
	if !s.lastMiss.IsZero() && now.Sub(s.lastMiss) < s.cfg.RefreshOnMiss {
		return s.lastMissErr
	}
	s.lastMiss = now
	s.lastMissErr = s.Refresh(ctx)
	if s.lastMissErr != nil {
		slog.Warn("booking: refresh catalogue on miss", "err", s.lastMissErr)
	}
	return s.lastMissErr
}

// lookupConcert finds a concert; ErrConcertNotFound, or the reload's error
// when the catalogue could not be reloaded to look for it.
func (s *Service) lookupConcert(ctx context.Context, concertID int64) (*concert, error) {
	cat, err := s.loaded(ctx)
	if err != nil {
		return nil, err
	}
	if c := cat.concerts[concertID]; c != nil {
		return c, nil
	}
	err = s.refreshOnMiss(ctx)
	if c := s.cat.Load().concerts[concertID]; c != nil {
		return c, nil
	}
	if err != nil {
		// The catalogue could not be checked (Postgres is down): the
		// concert may well exist, so this is no "not found".
		return nil, err
	}
	return nil, ErrConcertNotFound
}

// lookupDate finds a date of a concert; ErrDateNotFound (also when the
// concert does not exist), or the reload's error as in lookupConcert.
func (s *Service) lookupDate(ctx context.Context, concertID int64, day string) (*date, error) {
	cat, err := s.loaded(ctx)
	if err != nil {
		return nil, err
	}
	if c := cat.concerts[concertID]; c != nil {
		if d := c.byDay[day]; d != nil {
			return d, nil
		}
	}
	if _, err := time.Parse(DateLayout, day); err != nil {
		return nil, ErrDateNotFound // malformed: no reload can make it exist
	}
	err = s.refreshOnMiss(ctx)
	if c := s.cat.Load().concerts[concertID]; c != nil {
		if d := c.byDay[day]; d != nil {
			return d, nil
		}
	}
	if err != nil {
		return nil, err // as in lookupConcert: unknown, not known absent
	}
	return nil, ErrDateNotFound
}

// seatTable returns the seats of a date: those set from its blocks by the
// catalogue refresh, or else loaded from Postgres once.
func (s *Service) seatTable(ctx context.Context, d *date) (*seatTable, error) {
	if t := d.seats.Load(); t != nil {
		return t, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.seats.Load(); t != nil {
		return t, nil
	}
	seats, err := s.store.Seats(ctx, d.id)
	if err != nil {
		return nil, fmt.Errorf("booking: %w", err)
	}
	t := tableOfSeats(seats)
	d.seats.Store(t)
	return t, nil
}

// today is the day (in Config.Location) from which dates are on sale.
func (s *Service) today() string { return s.cfg.Now().In(s.cfg.Location).Format(DateLayout) }

// fromToday returns the dates of c from today (in Config.Location) on.
func (s *Service) fromToday(c *concert) []*date {
	today := s.today()
	i := sort.Search(len(c.dates), func(i int) bool { return c.dates[i].day >= today })
	return c.dates[i:]
}

// Seed creates the default concert (id 1) with dates consecutive days from
// firstDate (its calendar day in its own location), each with seats numbered
// 1..seats at price, unless concert 1 exists already: then created is false
// and nothing changes. It follows the rules of CreateConcert
// (ErrInvalidConcert). Two replicas seeding at once create it once.
func (s *Service) Seed(ctx context.Context, dates, seats int, price int64, firstDate time.Time) (created bool, err error) {
	defer markUnavailable(&err)
	const defaultConcert = 1
	nc := NewConcert{Name: "Concert 1", Dates: Days(firstDate, dates), Blocks: []SeatBlock{{From: 1, To: seats, Price: price}}}
	if err := nc.Validate(); err != nil {
		return false, err
	}
	exists, err := s.store.ConcertExists(ctx, defaultConcert)
	if err != nil {
		return false, fmt.Errorf("booking: seed: %w", err)
	}
	if exists {
		return false, nil
	}
	_, err = s.store.CreateConcert(ctx, toDBConcert(defaultConcert, Concert{Name: nc.Name, Dates: nc.Dates, Blocks: nc.Blocks}))
	if errors.Is(err, bookingdb.ErrConcertExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("booking: seed: %w", err)
	}
	if err := s.Refresh(ctx); err != nil {
		return true, err
	}
	return true, nil
}

// Days returns n consecutive days from first's calendar day (in its own
// location), as YYYY-MM-DD.
func Days(first time.Time, n int) []string {
	out := make([]string, max(n, 0))
	for i := range out {
		out[i] = first.AddDate(0, 0, i).Format(DateLayout)
	}
	return out
}
