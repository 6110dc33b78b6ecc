package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rushgate/rushgate/internal/coalesce"
	"github.com/rushgate/rushgate/lua"
)

// holdRequest is one hold waiting for its concert's batch: what Hold has
// already checked against the catalogue.
type holdRequest struct {
	user  string
	date  *date
	seat  int
	price int64
	gate  *Gate
}

// holdResult is the answer of one batched hold: an id and expiry, or the
// error Hold returns.
type holdResult struct {
	id, expires int64
	err         error
}

// errSoldCacheVanishing answers a hold whose date's sold cache was lost again
// after each of its rebuilds.
var errSoldCacheVanishing = errors.New("booking: hold: the sold cache keeps vanishing")

// holdBatch makes the holds of one concert, in their order, with as few runs
// of hold_batch.lua as it can: usually one. Each hold gets the answer it
// would have had alone at its turn. A run stops at a hold that needs Go
// first (its date's sold cache rebuilt, or a new block of ids): Go settles
// that hold's need and sends it and the rest again, so the holds after it
// still run after it and a block is offered to one run only.
//
// It returns an error (every hold's answer) only when its first run fails,
// which has changed nothing; a later failure is the answer of the holds not
// yet run, the earlier ones keep theirs.
func (s *Service) holdBatch(ctx context.Context, concertID int64, reqs []holdRequest) ([]holdResult, error) {
	out := make([]holdResult, len(reqs))
	checked := make([]bool, len(reqs))
	rebuilds := make([]int, len(reqs))
	first, last := "", ""
	// failRest answers the holds from i on with err.
	failRest := func(i int, err error) {
		for ; i < len(reqs); i++ {
			out[i].err = err
		}
	}
	for done, runs := 0, 0; done < len(reqs); runs++ {
		res, err := s.runHoldBatch(ctx, concertID, reqs[done:], checked[done:], first, last)
		if err != nil {
			if runs == 0 {
				return nil, err
			}
			failRest(done, fmt.Errorf("booking: hold: %w", err))
			return out, nil
		}
		first, last = "", ""
		for _, r := range res {
			i := done
			done++
			switch r.code {
			case 1:
				out[i] = holdResult{id: r.id, expires: r.expires}
			case -1, -2:
				out[i].err = ErrSeatTaken
			case -3:
				out[i].err = ErrHoldLimit
			case -6:
				out[i].err = ErrGateClosed
			case -4:
				if rebuilds[i]++; rebuilds[i] > 2 {
					out[i].err = errSoldCacheVanishing
					continue
				}
				sold, err := s.ensureSold(ctx, concertID, reqs[i].date)
				if err != nil {
					out[i].err = err
					continue
				}
				if _, found := slices.BinarySearch(sold, reqs[i].seat); found {
					out[i].err = ErrSeatTaken
					continue
				}
				// Postgres says unsold; the script still checks the bit
				// for sales recorded since. The hold runs again, first.
				checked[i] = true
				done--
			case -5:
				// The concert's block is used up or was lost, at this
				// hold's turn: it and the rest run again with a new one,
				// which the script installs at most once.
				b, err := s.store.ReserveIDBlock(ctx)
				if err != nil {
					failRest(i, fmt.Errorf("booking: hold: %w", err))
					return out, nil
				}
				first, last = strconv.FormatInt(b.First, 10), strconv.FormatInt(b.Last, 10)
				done--
			case codeRedisError:
				// What this hold alone would have answered.
				out[i].err = fmt.Errorf("booking: hold: %s", r.msg)
			default:
				failRest(i, fmt.Errorf("booking: hold: unexpected script code %d", r.code))
				return out, nil
			}
		}
	}
	return out, nil
}

// holdAlone makes one hold as a batch of its own: the path of every hold
// when holds are not batched, so that a hold has one script and one
// handling of its answers whether batched or not.
func (s *Service) holdAlone(ctx context.Context, concertID int64, r holdRequest) (holdResult, error) {
	start := time.Now()
	res, err := s.holdBatch(ctx, concertID, []holdRequest{r})
	if s.cfg.OnHoldBatch != nil {
		s.cfg.OnHoldBatch(coalesce.BatchStats{Calls: 1, Took: time.Since(start)})
	}
	if err != nil {
		return holdResult{}, err
	}
	return res[0], nil
}

// codeRedisError is hold_batch.lua's answer for a hold whose Redis call
// failed, with the error's text.
const codeRedisError = -7

// batchReply is hold_batch.lua's answer for one hold.
type batchReply struct {
	code, id, expires int64
	msg               string // the Redis error, with codeRedisError
}

// runHoldBatch runs hold_batch.lua once for reqs and returns the answer of
// each hold it ran, in order.
func (s *Service) runHoldBatch(ctx context.Context, concertID int64, reqs []holdRequest, checked []bool, first, last string) ([]batchReply, error) {
	kc := s.keys.Concert(concertID)
	keys := make([]string, 0, 4+2*len(reqs))
	keys = append(keys, kc.HoldIDs(), holdPrefix(kc))
	args := make([]any, 0, 7+6*len(reqs))
	form := "set"
	if s.cfg.HoldRecords == RecordsInOwnKey {
		form = "key"
	}
	args = append(args, ms(s.cfg.Now()), s.cfg.HoldTTL.Milliseconds(), s.cfg.MaxHoldsPerUser,
		recordGrace.Milliseconds(), first, last, form)
	// Each key goes once, at the first hold that needs it (see the script):
	// the holds of a run mostly share their date, gate and user.
	days := make(map[string]bool, 2)
	users := make(map[string]bool, len(reqs))
	gateKey := ""
	for i, r := range reqs {
		day := r.date.day
		keys = append(keys, kc.Seat(day, r.seat))
		if !days[day] {
			days[day] = true
			keys = append(keys, kc.Held(day), kc.SeatLocksLoaded(day))
		}
		if !users[r.user] {
			users[r.user] = true
			keys = append(keys, kc.UserHolds(r.user))
		}
		member := ""
		if r.gate != nil {
			member = r.gate.Member
			switch gateKey {
			case "":
				gateKey = r.gate.Key
				keys = append(keys, gateKey)
			case r.gate.Key:
			default:
				return nil, fmt.Errorf("holds of two gates, %s and %s, in one run", gateKey, r.gate.Key)
			}
		}
		c := "0"
		if checked[i] {
			c = "1"
		}
		args = append(args, r.user, day, r.seat, r.price, c, member)
	}
	keys = append(keys, kc.Stock())
	vals, err := lua.HoldBatch.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 || len(vals)%3 != 0 || len(vals) > 3*len(reqs) {
		return nil, fmt.Errorf("unexpected reply of %d values for %d holds", len(vals), len(reqs))
	}
	res := make([]batchReply, len(vals)/3)
	for i := range res {
		r := &res[i]
		var ok [3]bool
		r.code, ok[0] = vals[3*i].(int64)
		if r.code == codeRedisError {
			r.msg, ok[1] = vals[3*i+1].(string)
		} else {
			r.id, ok[1] = vals[3*i+1].(int64)
		}
		r.expires, ok[2] = vals[3*i+2].(int64)
		if ok != [3]bool{true, true, true} {
			return nil, fmt.Errorf("unexpected reply %v for hold %d", vals[3*i:3*i+3], i)
		}
	}
	if n := len(res); n < len(reqs) && res[n-1].code != -4 && res[n-1].code != -5 {
		return nil, fmt.Errorf("script stopped after %d of %d holds with code %d", n, len(reqs), res[n-1].code)
	}
	return res, nil
}
