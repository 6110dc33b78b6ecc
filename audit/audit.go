// Package audit is the log of every change an operator makes (admission
// settings, concerts, schedules), kept in Postgres: who, when, what, and the
// state before and after. A change and its entry commit together, and the
// changes of one concert are applied one at a time, so the log of a concert
// lists its changes in the order they took effect and each entry's "before"
// is the previous entry's "after".
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/unreachable"
)

// Entry is one change.
type Entry struct {
	ID     int64
	At     time.Time
	Actor  string // the label of the admin key used
	Action string // e.g. "queue.update", "concert.create"
	// ConcertID is the concert changed; 0 for none.
	ConcertID int64
	// Before and After are JSON documents of the changed state; "null" when
	// there is none (before a creation).
	Before, After json.RawMessage
}

// MaxList is the most entries List returns.
const MaxList = 1000

// lockClass namespaces the advisory locks of this package (the two-key form
// of pg_advisory_xact_lock); the second key is the concert id's hash.
const lockClass = 0x61756474 // "audt"

// Log is the audit log on one Postgres database.
type Log struct {
	db *sqlx.DB
}

// New returns the log on db (migrated).
func New(db *sqlx.DB) *Log { return &Log{db: db} }

// Change is the outcome of applying one change: which concert it changed and
// its state before and after (each marshalled to JSON; nil is null).
type Change struct {
	ConcertID     int64
	Before, After any
}

// Apply makes one change and records it. It opens a transaction, takes the
// lock of concertID (0: no concert yet, as when creating one), calls apply
// with the transaction, then inserts the entry and commits. Changes of one
// concert therefore run one at a time, in the order of their entries. When
// apply fails nothing is recorded and its error is returned. apply may change
// things outside Postgres (Redis); if recording or committing then fails, the
// error is returned and the caller must undo them.
//
// A Postgres that cannot be reached is ErrUnavailable (see package
// unreachable), whichever step failed.
func (l *Log) Apply(ctx context.Context, actor, action string, concertID int64, apply func(ctx context.Context, tx *sqlx.Tx) (Change, error)) (err error) {
	defer func() { err = unreachable.Mark(ErrUnavailable, err) }()
	tx, err := l.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if concertID != 0 {
		if _, err = tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashint8($2))`, lockClass, concertID); err != nil {
			return fmt.Errorf("audit: lock concert %d: %w", concertID, err)
		}
	}
	ch, err := apply(ctx, tx)
	if err != nil {
		return err
	}
	before, err := json.Marshal(ch.Before)
	if err != nil {
		return fmt.Errorf("audit: before: %w", err)
	}
	after, err := json.Marshal(ch.After)
	if err != nil {
		return fmt.Errorf("audit: after: %w", err)
	}
	var concert sql.NullInt64
	if ch.ConcertID != 0 {
		concert = sql.NullInt64{Int64: ch.ConcertID, Valid: true}
	}
	if _, err = tx.ExecContext(ctx, `
		INSERT INTO admin_audit (actor, action, concert_id, before, after) VALUES ($1, $2, $3, $4, $5)`,
		actor, action, concert, nullJSON(before), nullJSON(after)); err != nil {
		return fmt.Errorf("audit: record: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("audit: commit: %w", err)
	}
	return nil
}

func nullJSON(b []byte) any {
	if string(b) == "null" {
		return nil
	}
	return string(b)
}

type entryRow struct {
	ID        int64          `db:"audit_id"`
	At        time.Time      `db:"at"`
	Actor     string         `db:"actor"`
	Action    string         `db:"action"`
	ConcertID sql.NullInt64  `db:"concert_id"`
	Before    sql.NullString `db:"before"`
	After     sql.NullString `db:"after"`
}

// Sentinel errors of the log.
var (
	// ErrInvalidLimit: List's limit is outside 1…MaxList.
	ErrInvalidLimit = errors.New("audit: limit out of range")
	// ErrUnavailable: Postgres could not be reached in time; try again later.
	ErrUnavailable = errors.New("audit: postgres unavailable")
)

// List returns the latest entries, newest first: of concertID, or of every
// concert when concertID is 0; at most limit (1…MaxList) of them.
// Errors: ErrInvalidLimit, ErrUnavailable.
func (l *Log) List(ctx context.Context, concertID int64, limit int) (_ []Entry, err error) {
	defer func() { err = unreachable.Mark(ErrUnavailable, err) }()
	if limit < 1 || limit > MaxList {
		return nil, ErrInvalidLimit
	}
	var rows []entryRow
	const cols = `SELECT audit_id, at, actor, action, concert_id, before::text AS before, after::text AS after FROM admin_audit`
	if concertID == 0 {
		err = l.db.SelectContext(ctx, &rows, cols+` ORDER BY audit_id DESC LIMIT $1`, limit)
	} else {
		err = l.db.SelectContext(ctx, &rows, cols+` WHERE concert_id = $1 ORDER BY audit_id DESC LIMIT $2`, concertID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	out := make([]Entry, len(rows))
	for i, r := range rows {
		out[i] = Entry{ID: r.ID, At: r.At, Actor: r.Actor, Action: r.Action, ConcertID: r.ConcertID.Int64,
			Before: rawOrNull(r.Before), After: rawOrNull(r.After)}
	}
	return out, nil
}

func rawOrNull(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return json.RawMessage("null")
	}
	return json.RawMessage(s.String)
}
