// Package bookingdb is the Postgres side of booking: the catalogue (concerts,
// their dates and the seats of each date with prices), the sold seats of a
// date (table reservations, the source of truth of what is sold) and the
// creation of a concert.
//
// It sits below package booking rather than beside it: booking.NewService
// takes a *sqlx.DB and builds its Store, so this package declares its own
// small types and sentinels and booking translates them. Unique violations
// (23505) become ErrConcertExists here and never travel further up.
package bookingdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Sentinel errors of the store.
var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("bookingdb: not found")
	// ErrConcertExists: a concert with that id exists already.
	ErrConcertExists = errors.New("bookingdb: concert exists")
)

// Store reads and writes booking's tables.
type Store struct {
	db *sqlx.DB
}

// New returns a Store on db.
func New(db *sqlx.DB) *Store { return &Store{db: db} }

// Concert is a concert and its dates, ascending.
type Concert struct {
	ID    int64
	Dates []Date
}

// Date is one date of a concert.
type Date struct {
	ID  int64  // date_id
	Day string // YYYY-MM-DD
}

// Seat is one seat of a date.
type Seat struct {
	Number int
	Price  int64
}

// Reservation is a paid (confirmed) hold.
type Reservation struct {
	ID        int64
	ConcertID int64
	DateID    int64
	UserID    string
	Day       string // YYYY-MM-DD
	Seat      int
}

type catalogueRow struct {
	ConcertID int64          `db:"concert_id"`
	DateID    sql.NullInt64  `db:"date_id"`
	Day       sql.NullString `db:"day"`
}

// Catalogue returns every concert with its dates (no seats), ascending by id
// and day. It is one query whatever the size of the catalogue.
func (s *Store) Catalogue(ctx context.Context) ([]Concert, error) {
	var rows []catalogueRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT c.concert_id, d.date_id, to_char(d.concert_date, 'YYYY-MM-DD') AS day
		FROM concerts c LEFT JOIN concert_dates d ON d.concert_id = c.concert_id
		ORDER BY c.concert_id, d.concert_date`)
	if err != nil {
		return nil, fmt.Errorf("bookingdb: catalogue: %w", err)
	}
	var out []Concert
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].ID != r.ConcertID {
			out = append(out, Concert{ID: r.ConcertID})
		}
		if r.DateID.Valid {
			c := &out[len(out)-1]
			c.Dates = append(c.Dates, Date{ID: r.DateID.Int64, Day: r.Day.String})
		}
	}
	return out, nil
}

type summaryRow struct {
	DateID   int64 `db:"date_id"`
	Seats    int   `db:"seats"`
	First    int   `db:"first"`
	Last     int   `db:"last"`
	PriceSum int64 `db:"price_sum"`
}

// SeatSummary is what a date's seat rows add up to: enough to tell, without
// reading them one by one, whether they are the seats its concert's blocks
// describe.
type SeatSummary struct {
	Seats       int   // how many
	First, Last int   // lowest and highest seat number
	PriceSum    int64 // sum of their prices
}

// SeatSummaries returns the seat summary of each of the given dates; a date
// without seats is absent from the map. One query, whatever the number of
// dates.
func (s *Store) SeatSummaries(ctx context.Context, dateIDs []int64) (map[int64]SeatSummary, error) {
	out := make(map[int64]SeatSummary, len(dateIDs))
	if len(dateIDs) == 0 {
		return out, nil
	}
	var rows []summaryRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT date_id, count(*) AS seats, min(seat_number) AS first, max(seat_number) AS last,
		       sum(price) AS price_sum
		FROM seats WHERE date_id = ANY($1) GROUP BY date_id`, pq.Array(dateIDs))
	if err != nil {
		return nil, fmt.Errorf("bookingdb: seat summaries: %w", err)
	}
	for _, r := range rows {
		out[r.DateID] = SeatSummary{Seats: r.Seats, First: r.First, Last: r.Last, PriceSum: r.PriceSum}
	}
	return out, nil
}

type seatRow struct {
	Number int   `db:"seat_number"`
	Price  int64 `db:"price"`
}

// Seats returns the seats of a date, ascending by number.
func (s *Store) Seats(ctx context.Context, dateID int64) ([]Seat, error) {
	var rows []seatRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT seat_number, price FROM seats WHERE date_id = $1 ORDER BY seat_number`, dateID)
	if err != nil {
		return nil, fmt.Errorf("bookingdb: seats of date %d: %w", dateID, err)
	}
	out := make([]Seat, len(rows))
	for i, r := range rows {
		out[i] = Seat(r)
	}
	return out, nil
}

// SoldSeats returns the numbers of the sold seats of a date, ascending.
func (s *Store) SoldSeats(ctx context.Context, dateID int64) ([]int, error) {
	out := []int{}
	err := s.db.SelectContext(ctx, &out, `
		SELECT seat_number FROM reservations WHERE date_id = $1 ORDER BY seat_number`, dateID)
	if err != nil {
		return nil, fmt.Errorf("bookingdb: sold seats of date %d: %w", dateID, err)
	}
	return out, nil
}

// IDBlock is a run of reservation ids, First..Last inclusive, that no one
// else is ever given.
type IDBlock struct {
	First, Last int64
}

// ReserveIDBlock reserves the next block of reservation ids from the
// sequence reservation_id_blocks: its increment is the block size.
func (s *Store) ReserveIDBlock(ctx context.Context) (IDBlock, error) {
	var b struct {
		First int64 `db:"first"`
		Size  int64 `db:"size"`
	}
	err := s.db.GetContext(ctx, &b, `
		SELECT nextval('reservation_id_blocks') AS first, seqincrement AS size
		FROM pg_sequence WHERE seqrelid = 'reservation_id_blocks'::regclass`)
	if err != nil {
		return IDBlock{}, fmt.Errorf("bookingdb: reserve id block: %w", err)
	}
	return IDBlock{First: b.First, Last: b.First + b.Size - 1}, nil
}

type reservationRow struct {
	ID        int64  `db:"reservation_id"`
	ConcertID int64  `db:"concert_id"`
	DateID    int64  `db:"date_id"`
	UserID    string `db:"user_id"`
	Day       string `db:"day"`
	Seat      int    `db:"seat_number"`
}

// Reservation returns the paid reservation id of a concert, or ErrNotFound.
func (s *Store) Reservation(ctx context.Context, concertID, id int64) (Reservation, error) {
	var r reservationRow
	err := s.db.GetContext(ctx, &r, `
		SELECT r.reservation_id, r.concert_id, r.date_id, u.user_id,
		       to_char(r.reservation_date, 'YYYY-MM-DD') AS day, r.seat_number
		FROM reservations r JOIN users u ON u.user_seq = r.user_seq
		WHERE r.reservation_id = $1 AND r.concert_id = $2`, id, concertID)
	if errors.Is(err, sql.ErrNoRows) {
		return Reservation{}, ErrNotFound
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("bookingdb: reservation %d: %w", id, err)
	}
	return Reservation(r), nil
}

// ConcertExists reports whether the concert is in the catalogue.
func (s *Store) ConcertExists(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := s.db.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM concerts WHERE concert_id = $1)`, id)
	if err != nil {
		return false, fmt.Errorf("bookingdb: concert %d: %w", id, err)
	}
	return ok, nil
}

// Block is a run of seats numbered From..To (inclusive) at one price.
type Block struct {
	From, To int
	Price    int64
}

// NewConcert describes a concert to create: every one of Days gets the seats
// of Blocks. The caller has validated it (booking does).
type NewConcert struct {
	ID      int64 // 0: the next id of the sequence
	Name    string
	OpensAt *time.Time
	Days    []string // YYYY-MM-DD
	Blocks  []Block
}

// CreateConcert creates a concert in a transaction of its own; see
// InsertConcert.
func (s *Store) CreateConcert(ctx context.Context, c NewConcert) (id int64, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("bookingdb: create concert: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if id, err = InsertConcert(ctx, tx, c); err != nil {
		return 0, err
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("bookingdb: create concert: %w", err)
	}
	return id, nil
}

// InsertConcert creates a concert with its dates, seat blocks and seats inside
// the caller's transaction and returns its id. The seats of each date are one
// INSERT ... SELECT generate_series, so a 100,000-seat date is one statement,
// not 100,000 round trips, and no statement is longer than one date's seats.
// Returns ErrConcertExists when the id is taken.
func InsertConcert(ctx context.Context, tx sqlx.ExtContext, c NewConcert) (id int64, err error) {
	if len(c.Days) == 0 || len(c.Blocks) == 0 {
		return 0, fmt.Errorf("bookingdb: create concert: no dates or no seats")
	}
	if c.ID == 0 {
		err = sqlx.GetContext(ctx, tx, &id, `INSERT INTO concerts (name, opens_at) VALUES ($1, $2) RETURNING concert_id`, c.Name, c.OpensAt)
	} else {
		err = sqlx.GetContext(ctx, tx, &id, `INSERT INTO concerts (concert_id, name, opens_at) VALUES ($1, $2, $3) RETURNING concert_id`, c.ID, c.Name, c.OpensAt)
		if err == nil {
			// An explicit id does not move the sequence; keep it ahead so a
			// later concert without an id does not collide.
			_, err = tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('concerts', 'concert_id'),
				GREATEST((SELECT max(concert_id) FROM concerts), 1))`)
		}
	}
	if err != nil {
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "23505" {
			return 0, ErrConcertExists
		}
		return 0, fmt.Errorf("bookingdb: create concert: %w", err)
	}
	from, to, price := make([]int64, len(c.Blocks)), make([]int64, len(c.Blocks)), make([]int64, len(c.Blocks))
	for i, b := range c.Blocks {
		from[i], to[i], price[i] = int64(b.From), int64(b.To), b.Price
	}
	if _, err = tx.ExecContext(ctx, `
		INSERT INTO seat_blocks (concert_id, seat_from, seat_to, price)
		SELECT $1, f, t, p FROM unnest($2::int[], $3::int[], $4::numeric[]) AS b(f, t, p)`,
		id, pq.Array(from), pq.Array(to), pq.Array(price)); err != nil {
		return 0, fmt.Errorf("bookingdb: create seat blocks: %w", err)
	}
	var dateIDs []int64
	if err = sqlx.SelectContext(ctx, tx, &dateIDs, `
		INSERT INTO concert_dates (concert_id, concert_date)
		SELECT $1, d FROM unnest($2::date[]) AS d RETURNING date_id`,
		id, pq.Array(c.Days)); err != nil {
		return 0, fmt.Errorf("bookingdb: create concert dates: %w", err)
	}
	for _, dateID := range dateIDs {
		if _, err = tx.ExecContext(ctx, `
			INSERT INTO seats (date_id, seat_number, price)
			SELECT $1, n, b.price FROM seat_blocks b CROSS JOIN LATERAL generate_series(b.seat_from, b.seat_to) AS n
			WHERE b.concert_id = $2`, dateID, id); err != nil {
			return 0, fmt.Errorf("bookingdb: create concert seats: %w", err)
		}
	}
	return id, nil
}

// Details is what an operator wrote of a concert: its name, when its sale
// opens and its seat blocks.
type Details struct {
	ID      int64
	Name    string
	OpensAt *time.Time
	Blocks  []Block
}

type detailsRow struct {
	ID      int64        `db:"concert_id"`
	Name    string       `db:"name"`
	OpensAt sql.NullTime `db:"opens_at"`
}

type blockRow struct {
	ConcertID int64 `db:"concert_id"`
	From      int   `db:"seat_from"`
	To        int   `db:"seat_to"`
	Price     int64 `db:"price"`
}

// AllDetails returns the details of every concert, ascending by id, in two
// queries whatever the size of the catalogue.
func (s *Store) AllDetails(ctx context.Context) ([]Details, error) {
	var rows []detailsRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT concert_id, name, opens_at FROM concerts ORDER BY concert_id`); err != nil {
		return nil, fmt.Errorf("bookingdb: concerts: %w", err)
	}
	var blocks []blockRow
	if err := s.db.SelectContext(ctx, &blocks, `
		SELECT concert_id, seat_from, seat_to, price FROM seat_blocks ORDER BY concert_id, seat_from`); err != nil {
		return nil, fmt.Errorf("bookingdb: seat blocks: %w", err)
	}
	out := make([]Details, len(rows))
	at := make(map[int64]int, len(rows))
	for i, r := range rows {
		out[i] = toDetails(r)
		at[r.ID] = i
	}
	for _, b := range blocks {
		if i, ok := at[b.ConcertID]; ok {
			out[i].Blocks = append(out[i].Blocks, Block{From: b.From, To: b.To, Price: b.Price})
		}
	}
	return out, nil
}

func toDetails(r detailsRow) Details {
	d := Details{ID: r.ID, Name: r.Name}
	if r.OpensAt.Valid {
		t := r.OpensAt.Time
		d.OpensAt = &t
	}
	return d
}

// LockDetails reads a concert's name and opening time inside the caller's
// transaction and locks its row until the transaction ends, so concurrent
// changes of one concert apply one after another. Returns ErrNotFound.
func LockDetails(ctx context.Context, tx sqlx.ExtContext, id int64) (Details, error) {
	var r detailsRow
	err := sqlx.GetContext(ctx, tx, &r, `SELECT concert_id, name, opens_at FROM concerts WHERE concert_id = $1 FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Details{}, ErrNotFound
	}
	if err != nil {
		return Details{}, fmt.Errorf("bookingdb: lock concert %d: %w", id, err)
	}
	return toDetails(r), nil
}

// UpdateDetails sets a concert's name and opening time (nil: none) inside the
// caller's transaction.
func UpdateDetails(ctx context.Context, tx sqlx.ExtContext, id int64, name string, opensAt *time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE concerts SET name = $2, opens_at = $3 WHERE concert_id = $1`, id, name, opensAt); err != nil {
		return fmt.Errorf("bookingdb: update concert %d: %w", id, err)
	}
	return nil
}

// Sale is a sold seat, as RecentSales reports it.
type Sale struct {
	ConcertID int64
	Day       string // YYYY-MM-DD
	Seat      int
}

type saleRow struct {
	ConcertID int64  `db:"concert_id"`
	Day       string `db:"day"`
	Seat      int    `db:"seat_number"`
}

// RecentSales returns the seats sold (committed) at or after since, at most
// limit of them, oldest first.
func (s *Store) RecentSales(ctx context.Context, since time.Time, limit int) ([]Sale, error) {
	var rows []saleRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT concert_id, to_char(reservation_date, 'YYYY-MM-DD') AS day, seat_number
		FROM reservations WHERE confirmed_at >= $1
		ORDER BY confirmed_at LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("bookingdb: recent sales: %w", err)
	}
	out := make([]Sale, len(rows))
	for i, r := range rows {
		out[i] = Sale(r)
	}
	return out, nil
}
