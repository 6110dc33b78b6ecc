// Package admin is what an operator can change: the admission settings of a
// concert's line and the catalogue. Each change is applied and recorded in
// the audit log in one step (see package audit), with the state before and
// after, under the name of the admin key that made it.
package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rushgate/rushgate/audit"
	"github.com/rushgate/rushgate/booking"
	"github.com/rushgate/rushgate/queue"
)

// Actions recorded in the audit log.
const (
	ActionQueueUpdate   = "queue.update"
	ActionConcertCreate = "concert.create"
	ActionConcertUpdate = "concert.update"
)

// Service applies and records operators' changes.
type Service struct {
	queue   *queue.Queue
	booking *booking.Service
	log     *audit.Log
	// OnSchedule, when set, is called inside the transaction of a change
	// that gives a concert an opening time (creation with opens_at, or a new
	// opens_at; nil when it is cleared), so that what a scheduled start needs
	// is prepared in the same step. Its error undoes the change.
	OnSchedule func(ctx context.Context, tx *sqlx.Tx, concertID int64, opensAt *time.Time) error
}

// New returns the service.
func New(q *queue.Queue, b *booking.Service, log *audit.Log) *Service {
	return &Service{queue: q, booking: b, log: log}
}

// Settings is how admission settings appear in the audit log.
type Settings struct {
	AdmitPerSecond   float64 `json:"admit_per_second"`
	MaxActive        int64   `json:"max_active"`
	ActiveTTLSeconds int64   `json:"active_ttl_seconds"`
	Paused           bool    `json:"paused"`
}

func settingsOf(s queue.Settings) Settings {
	return Settings{AdmitPerSecond: s.AdmitPerSecond, MaxActive: s.MaxActive,
		ActiveTTLSeconds: int64(s.ActiveTTL / time.Second), Paused: s.Paused}
}

// UpdateQueue changes the admission settings of a concert's line and records
// the change. If the change cannot be recorded it is undone and the error
// returned: no change goes unrecorded. Errors: queue.ErrInvalidSettings (and
// nothing changes).
func (s *Service) UpdateQueue(ctx context.Context, actor string, concertID int64, p queue.SettingsPatch) (queue.Status, error) {
	if err := p.Validate(); err != nil {
		return queue.Status{}, err
	}
	var after queue.Status
	var undo *queue.Settings
	err := s.log.Apply(ctx, actor, ActionQueueUpdate, concertID, func(ctx context.Context, _ *sqlx.Tx) (audit.Change, error) {
		before, err := s.queue.Status(ctx, concertID)
		if err != nil {
			return audit.Change{}, err
		}
		after, err = s.queue.UpdateSettings(ctx, concertID, p)
		if err != nil {
			return audit.Change{}, err
		}
		undo = &before.Settings
		return audit.Change{ConcertID: concertID, Before: settingsOf(before.Settings), After: settingsOf(after.Settings)}, nil
	})
	if err != nil && undo != nil {
		// Recording failed after Redis took the change: put the settings
		// back, whatever the caller's deadline (best effort; logged by the
		// caller through the returned error).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		b := *undo
		if _, uerr := s.queue.UpdateSettings(ctx, concertID, queue.SettingsPatch{
			AdmitPerSecond: &b.AdmitPerSecond, MaxActive: &b.MaxActive, ActiveTTL: &b.ActiveTTL, Paused: &b.Paused,
		}); uerr != nil {
			err = errors.Join(err, fmt.Errorf("admin: undo unrecorded settings change: %w", uerr))
		}
	}
	if err != nil {
		return queue.Status{}, err
	}
	return after, nil
}

// Concert is how a concert appears in the audit log (and in the catalogue
// API): what the operator wrote.
type Concert struct {
	ConcertID int64       `json:"concert_id"`
	Name      string      `json:"name"`
	OpensAt   *time.Time  `json:"opens_at"`
	Dates     []string    `json:"dates"`
	Seats     []SeatBlock `json:"seats"`
}

// SeatBlock is a block of seats as the API writes it.
type SeatBlock struct {
	From  int   `json:"from"`
	To    int   `json:"to"`
	Price int64 `json:"price"`
}

// ConcertOf renders a catalogue concert.
func ConcertOf(c booking.Concert) Concert {
	out := Concert{ConcertID: c.ID, Name: c.Name, OpensAt: c.OpensAt, Dates: c.Dates, Seats: make([]SeatBlock, len(c.Blocks))}
	for i, b := range c.Blocks {
		out.Seats[i] = SeatBlock(b)
	}
	if out.Dates == nil {
		out.Dates = []string{}
	}
	return out
}

// CreateConcert creates a concert and records it. Errors:
// booking.ErrInvalidConcert (and nothing changes).
func (s *Service) CreateConcert(ctx context.Context, actor string, nc booking.NewConcert) (booking.Concert, error) {
	if err := nc.Validate(); err != nil {
		return booking.Concert{}, err
	}
	var c booking.Concert
	err := s.log.Apply(ctx, actor, ActionConcertCreate, 0, func(ctx context.Context, tx *sqlx.Tx) (audit.Change, error) {
		var err error
		if c, err = s.booking.CreateConcert(ctx, tx, nc); err != nil {
			return audit.Change{}, err
		}
		if c.OpensAt != nil && s.OnSchedule != nil {
			if err := s.OnSchedule(ctx, tx, c.ID, c.OpensAt); err != nil {
				return audit.Change{}, err
			}
		}
		return audit.Change{ConcertID: c.ID, After: ConcertOf(c)}, nil
	})
	if err != nil {
		return booking.Concert{}, err
	}
	s.refresh(ctx)
	return c, nil
}

// PatchConcert changes a concert's name or opening time and records it.
// Errors: booking.ErrConcertNotFound, booking.ErrInvalidConcert,
// booking.ErrSaleOpen (and nothing changes).
func (s *Service) PatchConcert(ctx context.Context, actor string, id int64, p booking.ConcertPatch) (booking.Concert, error) {
	if err := p.Validate(); err != nil {
		return booking.Concert{}, err
	}
	var after booking.Concert
	err := s.log.Apply(ctx, actor, ActionConcertUpdate, id, func(ctx context.Context, tx *sqlx.Tx) (audit.Change, error) {
		before, a, err := s.booking.PatchConcert(ctx, tx, id, p)
		if err != nil {
			return audit.Change{}, err
		}
		after = a
		if !before.SameOpening(after) && s.OnSchedule != nil {
			if err := s.OnSchedule(ctx, tx, id, after.OpensAt); err != nil {
				return audit.Change{}, err
			}
		}
		return audit.Change{ConcertID: id, Before: ConcertOf(before), After: ConcertOf(after)}, nil
	})
	if err != nil {
		return booking.Concert{}, err
	}
	s.refresh(ctx)
	return after, nil
}

// refresh makes this replica's catalogue show a change at once (the others
// reload within their refresh interval). A failure only delays that.
func (s *Service) refresh(ctx context.Context) {
	_ = s.booking.Refresh(ctx)
}

// Log is the audit log the changes go to.
func (s *Service) Log() *audit.Log { return s.log }
