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

// dateLayout is how Postgres dates are read and written (YYYY-MM-DD).
const dateLayout = "2006-01-02"

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

type countRow struct {
	DateID int64 `db:"date_id"`
	Seats  int   `db:"seats"`
}

// SeatCounts returns how many seats each of the given dates has; a date
// without seats is absent from the map.
func (s *Store) SeatCounts(ctx context.Context, dateIDs []int64) (map[int64]int, error) {
	out := make(map[int64]int, len(dateIDs))
	if len(dateIDs) == 0 {
		return out, nil
	}
	var rows []countRow
	err := s.db.SelectContext(ctx, &rows, `
		SELECT date_id, count(*) AS seats FROM seats
		WHERE date_id = ANY($1) GROUP BY date_id`, pq.Array(dateIDs))
	if err != nil {
		return nil, fmt.Errorf("bookingdb: seat counts: %w", err)
	}
	for _, r := range rows {
		out[r.DateID] = r.Seats
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

// MaxReservationID returns the greatest reservation id Postgres knows, in
// reservations or in pay_history (a failed attempt names a hold that was never
// sold), or 0 when there is none. New hold ids must be above it.
func (s *Store) MaxReservationID(ctx context.Context) (int64, error) {
	var id int64
	err := s.db.GetContext(ctx, &id, `
		SELECT GREATEST(
			(SELECT COALESCE(max(reservation_id), 0) FROM reservations),
			(SELECT COALESCE(max(reservation_id), 0) FROM pay_history))`)
	if err != nil {
		return 0, fmt.Errorf("bookingdb: max reservation id: %w", err)
	}
	return id, nil
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

// NewConcert describes a concert to create: Dates consecutive days from
// FirstDate, each with seats numbered 1..Seats at Price.
type NewConcert struct {
	ID        int64 // 0: the next id of the sequence
	Name      string
	FirstDate time.Time // its calendar day in its own location counts
	Dates     int
	Seats     int
	Price     int64
}

// CreateConcert creates a concert with its dates and seats in one
// transaction and returns its id. Dates and seats are each one
// INSERT ... SELECT generate_series, so a 50,000-seat date is one statement,
// not 50,000 round trips. Returns ErrConcertExists when the id is taken.
func (s *Store) CreateConcert(ctx context.Context, c NewConcert) (id int64, err error) {
	if c.Dates < 1 || c.Seats < 1 || c.Price < 1 {
		return 0, fmt.Errorf("bookingdb: create concert: dates, seats and price must be positive (got %d, %d, %d)", c.Dates, c.Seats, c.Price)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("bookingdb: create concert: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if c.ID == 0 {
		err = tx.GetContext(ctx, &id, `INSERT INTO concerts (name) VALUES ($1) RETURNING concert_id`, c.Name)
	} else {
		err = tx.GetContext(ctx, &id, `INSERT INTO concerts (concert_id, name) VALUES ($1, $2) RETURNING concert_id`, c.ID, c.Name)
		if err == nil {
			// An explicit id does not move the sequence; keep it ahead so a
			// later concert without an id does not collide.
			_, err = tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('concerts', 'concert_id'),
				(SELECT max(concert_id) FROM concerts))`)
		}
	}
	if err != nil {
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "23505" {
			return 0, ErrConcertExists
		}
		return 0, fmt.Errorf("bookingdb: create concert: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `
		INSERT INTO concert_dates (concert_id, concert_date)
		SELECT $1, $2::date + g FROM generate_series(0, $3 - 1) AS g`,
		id, c.FirstDate.Format(dateLayout), c.Dates); err != nil {
		return 0, fmt.Errorf("bookingdb: create concert dates: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `
		INSERT INTO seats (date_id, seat_number, price)
		SELECT d.date_id, n, $3 FROM concert_dates d CROSS JOIN generate_series(1, $2) AS n
		WHERE d.concert_id = $1`, id, c.Seats, c.Price); err != nil {
		return 0, fmt.Errorf("bookingdb: create concert seats: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("bookingdb: create concert: %w", err)
	}
	return id, nil
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
