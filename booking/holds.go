package booking

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/booking/bookingdb"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/lua"
)

// Reservation ids (hold ids) do not encode the concert: a concert id may be
// any positive 63-bit integer. Each concert's holds take ids one by one from
// a block kept in Redis under the concert's hash tag (keys.HoldIDs), so that
// a hold touches one Cluster slot; a block is reserved in Postgres (sequence
// reservation_id_blocks), so no id is ever given twice, even after Redis
// loses its data: a lost block is never reinstalled, a fresh one replaces it.

// recordGrace is how long a hold record outlives its seat lock, so that
// paying a lapsed hold answers ErrHoldExpired rather than ErrHoldNotFound.
const recordGrace = time.Hour

// paidRecordTTL is how long Redis remembers that a hold was paid; after that
// (or if Redis lost it) ClaimHold asks Postgres.
const paidRecordTTL = 24 * time.Hour

// holdPrefix is the key of hold record <id> without the id. hold_batch.lua
// appends the id it draws; deriving the prefix from keyspace keeps the key
// format in one place.
func holdPrefix(kc keyspace.Concert) string { return strings.TrimSuffix(kc.Hold(0), "0") }

func ms(t time.Time) int64 { return t.UnixMilli() }

// Gate is a precondition checked in the same atomic step as a hold: Member of
// the Redis sorted set Key must have a score (unix ms) above now. The caller
// gives its own admission, so that checking it and holding the seat cost one
// round trip; booking does not know what the gate means. Key must carry the
// concert's hash tag.
type Gate struct {
	Key, Member string
}

// Hold holds seat of date for user until now + Config.HoldTTL, atomically: of
// any number of concurrent calls for one seat exactly one succeeds. The hold
// lapses by itself when not paid in time. It answers from the in-memory
// catalogue and one Redis script call (plus, rarely, a rebuild of a lost sold
// cache from Postgres, or a new block of ids).
//
// With a gate (at most one), the hold is made only while the gate is open.
//
// Errors: ErrDateNotFound (unknown, malformed or past date, or unknown
// concert),
// ErrSeatNotFound (no such seat on that date, or seat <= 0), ErrGateClosed,
// ErrSeatTaken (held by someone, or sold), ErrHoldLimit (the user has
// MaxHoldsPerUser live unpaid holds in this concert).
func (s *Service) Hold(ctx context.Context, concertID int64, userID, day string, seat int, gate ...Gate) (_ Hold, err error) {
	defer markUnavailable(&err)
	d, err := s.lookupDate(ctx, concertID, day)
	if err != nil {
		return Hold{}, err
	}
	if day < s.today() {
		// Past dates are not listed (AvailableDates starts today), and
		// their seats are not for sale either.
		return Hold{}, ErrDateNotFound
	}
	if seat <= 0 {
		return Hold{}, ErrSeatNotFound
	}
	t, err := s.seatTable(ctx, d)
	if err != nil {
		return Hold{}, err
	}
	price, ok := t.price(seat)
	if !ok {
		return Hold{}, ErrSeatNotFound
	}
	r := holdRequest{user: userID, date: d, seat: seat, price: price}
	if len(gate) > 0 {
		// No one is admitted under an empty member (the script reads an
		// empty member as no gate at all).
		if gate[0].Member == "" {
			return Hold{}, ErrGateClosed
		}
		r.gate = &gate[0]
	}
	var res holdResult
	if s.holds != nil {
		lane := holdLane{concert: concertID}
		if r.gate != nil {
			lane.gate = r.gate.Key
		}
		res, err = s.holds.Do(ctx, lane, r)
	} else {
		res, err = s.holdAlone(ctx, concertID, r)
	}
	if err != nil {
		return Hold{}, fmt.Errorf("booking: hold: %w", err)
	}
	if res.err != nil {
		return Hold{}, res.err
	}
	return Hold{
		ID: res.id, ConcertID: concertID, UserID: userID, Date: day, Seat: seat,
		Price: price, ExpiresAt: time.UnixMilli(res.expires),
	}, nil
}

// record is what Redis keeps of a hold; the fields never change after the
// hold is made, only its state does.
type record struct {
	user, day string
	seat      int
	price     int64
	expires   int64 // unix ms
}

// readRecord reads the record of a hold in its own key; ok is false when
// Redis has none. The record is a string (parseRecord); one made by an older
// version may still be a hash of the same fields, which GET refuses with
// WRONGTYPE. A claimed or paid hold's record is always in its own key.
func (s *Service) readRecord(ctx context.Context, kc keyspace.Concert, holdID int64) (r record, ok bool, err error) {
	val, err := s.rdb.Get(ctx, kc.Hold(holdID)).Result()
	return s.parseOwnKey(ctx, kc, holdID, val, err)
}

// readUserRecord reads the record of a hold of user wherever it is: in its
// own key, or as the hold's member of the user's set of holds
// (RecordsInUserSet), both read in one round trip.
func (s *Service) readUserRecord(ctx context.Context, kc keyspace.Concert, holdID int64, user string) (record, bool, error) {
	var own *redis.StringCmd
	var set *redis.StringSliceCmd
	// Each command's own answer is read below (the GET's redis.Nil is no
	// failure), so the pipeline's first error is not needed.
	_, _ = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		own = p.Get(ctx, kc.Hold(holdID))
		set = p.ZRange(ctx, kc.UserHolds(user), 0, -1)
		return nil
	})
	val, ownErr := own.Result()
	if !errors.Is(ownErr, redis.Nil) {
		// (WRONGTYPE is an older version's hash record.)
		return s.parseOwnKey(ctx, kc, holdID, val, ownErr)
	}
	members, err := set.Result()
	if err != nil {
		return record{}, false, fmt.Errorf("booking: read hold %d: %w", holdID, err)
	}
	head := strconv.FormatInt(holdID, 10) + "|"
	for _, m := range members {
		if rest, found := strings.CutPrefix(m, head); found {
			// The member is the record without its user, whose set it is.
			r, err := parseRecord(rest + "|" + user)
			if err != nil {
				return record{}, false, fmt.Errorf("booking: hold %d: %w", holdID, err)
			}
			// Gone when a record of its own would be (see claim.lua).
			if r.expires+recordGrace.Milliseconds() <= ms(s.cfg.Now()) {
				return record{}, false, nil
			}
			return r, true, nil
		}
	}
	return record{}, false, nil
}

// parseOwnKey reads the answer of a GET of a hold's own key.
func (s *Service) parseOwnKey(ctx context.Context, kc keyspace.Concert, holdID int64, val string, err error) (r record, ok bool, _ error) {
	switch {
	case errors.Is(err, redis.Nil):
		return record{}, false, nil
	case redis.HasErrorPrefix(err, "WRONGTYPE"):
		return s.readHashRecord(ctx, kc, holdID)
	case err != nil:
		return record{}, false, fmt.Errorf("booking: read hold %d: %w", holdID, err)
	}
	r, err = parseRecord(val)
	if err != nil {
		return record{}, false, fmt.Errorf("booking: hold %d: %w", holdID, err)
	}
	return r, true, nil
}

// Record states: a hold record is held, then claimed while a payment runs
// (with a lease), then paid; a failed payment makes it held again.
const (
	stateHeld    = "held"
	stateClaimed = "claimed"
	statePaid    = "paid"
)

// parseRecord reads a record in the form hold_batch.lua writes:
// "state|lease|exp|price|seat|date|user". Only the user id, last, may hold a
// '|', so the first six separators split the fields whatever the user id.
// The lease is set exactly while the hold is claimed.
func parseRecord(s string) (record, error) {
	f := strings.SplitN(s, "|", 7)
	if len(f) != 7 {
		return record{}, fmt.Errorf("bad record %q: %d fields, want 7", s, len(f))
	}
	state, lease, exp, price, seat, day, user := f[0], f[1], f[2], f[3], f[4], f[5], f[6]
	var errs []error
	switch state {
	case stateHeld, statePaid:
		if lease != "" {
			errs = append(errs, fmt.Errorf("lease %q while %s", lease, state))
		}
	case stateClaimed:
		if _, err := strconv.ParseInt(lease, 10, 64); err != nil {
			errs = append(errs, fmt.Errorf("lease: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown state %q", state))
	}
	r := record{user: user, day: day}
	var err error
	if r.expires, err = strconv.ParseInt(exp, 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("exp: %w", err))
	}
	if r.price, err = strconv.ParseInt(price, 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("price: %w", err))
	}
	if r.seat, err = strconv.Atoi(seat); err != nil {
		errs = append(errs, fmt.Errorf("seat: %w", err))
	}
	if _, err := time.Parse(DateLayout, day); err != nil {
		errs = append(errs, fmt.Errorf("date: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return record{}, fmt.Errorf("bad record %q: %w", s, err)
	}
	return r, nil
}

// readHashRecord reads a record in the hash form of older versions; ok is
// false when Redis has none (or lacks a field).
func (s *Service) readHashRecord(ctx context.Context, kc keyspace.Concert, holdID int64) (r record, ok bool, err error) {
	vals, err := s.rdb.HMGet(ctx, kc.Hold(holdID), "user", "date", "seat", "price", "exp").Result()
	if err != nil {
		return record{}, false, fmt.Errorf("booking: read hold %d: %w", holdID, err)
	}
	str := make([]string, len(vals))
	for i, v := range vals {
		if v == nil {
			return record{}, false, nil
		}
		str[i], _ = v.(string)
	}
	r = record{user: str[0], day: str[1]}
	var errs [3]error
	r.seat, errs[0] = strconv.Atoi(str[2])
	r.price, errs[1] = strconv.ParseInt(str[3], 10, 64)
	r.expires, errs[2] = strconv.ParseInt(str[4], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return record{}, false, fmt.Errorf("booking: hold %d: bad record: %w", holdID, err)
	}
	return r, true, nil
}

// ClaimHold marks the user's hold as being paid and returns it. While claimed
// the hold neither lapses nor can be claimed again, until UnclaimHold or
// MarkSold, or until the claim's lease ends: the later of the hold's expiry
// and now + Config.ClaimLease.
//
// Errors: ErrHoldNotFound (no such hold in this concert, or another user's),
// ErrHoldExpired (it lapsed, or a previous claim's lease ran out),
// ErrAlreadyPaid, ErrHoldBusy (claimed by a payment still running).
func (s *Service) ClaimHold(ctx context.Context, concertID, holdID int64, userID string) (_ Hold, err error) {
	defer markUnavailable(&err)
	kc := s.keys.Concert(concertID)
	r, ok, err := s.readUserRecord(ctx, kc, holdID, userID)
	if err != nil {
		return Hold{}, err
	}
	if !ok {
		// Redis forgot the hold (record ttl, or lost data): Postgres still
		// knows whether it was sold.
		res, err := s.store.Reservation(ctx, concertID, holdID)
		if errors.Is(err, bookingdb.ErrNotFound) || (err == nil && res.UserID != userID) {
			return Hold{}, ErrHoldNotFound
		}
		if err != nil {
			return Hold{}, fmt.Errorf("booking: claim: %w", err)
		}
		return Hold{}, ErrAlreadyPaid
	}
	if r.user != userID {
		return Hold{}, ErrHoldNotFound
	}
	keys := []string{kc.Hold(holdID), kc.Seat(r.day, r.seat), kc.Held(r.day), kc.UserHolds(r.user)}
	res, err := lua.Claim.Run(ctx, s.rdb, keys, holdID, userID, ms(s.cfg.Now()),
		s.cfg.ClaimLease.Milliseconds(), recordGrace.Milliseconds()).Int64Slice()
	if err != nil {
		return Hold{}, fmt.Errorf("booking: claim: %w", err)
	}
	switch res[0] {
	case 1:
		return Hold{
			ID: holdID, ConcertID: concertID, UserID: r.user, Date: r.day, Seat: r.seat,
			Price: r.price, ExpiresAt: time.UnixMilli(r.expires),
		}, nil
	case -1:
		return Hold{}, ErrHoldNotFound
	case -2:
		return Hold{}, ErrHoldExpired
	case -3:
		return Hold{}, ErrAlreadyPaid
	case -4:
		return Hold{}, ErrHoldBusy
	}
	return Hold{}, fmt.Errorf("booking: claim: unexpected script code %d", res[0])
}

// UnclaimHold undoes ClaimHold after a payment failed before it committed
// (a claimed record is in a key of its own):
// the hold is live again until its original expiry, or lapses at once if that
// has passed. Unclaiming a hold that is not claimed (or is paid) changes
// nothing. Errors: ErrHoldNotFound when Redis has no such hold.
func (s *Service) UnclaimHold(ctx context.Context, concertID, holdID int64) (err error) {
	defer markUnavailable(&err)
	kc := s.keys.Concert(concertID)
	r, ok, err := s.readRecord(ctx, kc, holdID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrHoldNotFound
	}
	keys := []string{kc.Hold(holdID), kc.Seat(r.day, r.seat), kc.Held(r.day), kc.UserHolds(r.user)}
	code, err := lua.Unclaim.Run(ctx, s.rdb, keys, holdID, ms(s.cfg.Now())).Int64()
	if err != nil {
		return fmt.Errorf("booking: unclaim: %w", err)
	}
	if code == -1 {
		return ErrHoldNotFound
	}
	return nil
}

// MarkSold records in Redis that the hold was paid, once the payment has
// committed in Postgres (after ClaimHold, which copies a record kept in the
// user's set to a key of its own, where MarkSold finds it): the seat enters
// the sold cache (never listed or holdable again), the seat lock and the
// user's hold slot are freed, and ClaimHold answers ErrAlreadyPaid from then
// on. It is safe to repeat. When Redis has lost the hold record the seat is
// taken from Postgres.
// Errors: ErrHoldNotFound when neither Redis nor Postgres knows the hold.
func (s *Service) MarkSold(ctx context.Context, concertID, holdID int64) (err error) {
	defer markUnavailable(&err)
	kc := s.keys.Concert(concertID)
	r, ok, err := s.readRecord(ctx, kc, holdID)
	if err != nil {
		return err
	}
	if !ok {
		res, err := s.store.Reservation(ctx, concertID, holdID)
		if errors.Is(err, bookingdb.ErrNotFound) {
			return ErrHoldNotFound
		}
		if err != nil {
			return fmt.Errorf("booking: mark sold: %w", err)
		}
		r = record{user: res.UserID, day: res.Day, seat: res.Seat}
	}
	keys := []string{kc.Hold(holdID), kc.Seat(r.day, r.seat), kc.Held(r.day), kc.UserHolds(r.user), kc.Sold(r.day), kc.Stock()}
	if err := lua.Sell.Run(ctx, s.rdb, keys, holdID, r.seat, paidRecordTTL.Milliseconds(), s.soldLockTTL(r.day).Milliseconds()).Err(); err != nil {
		return fmt.Errorf("booking: mark sold: %w", err)
	}
	return nil
}
