package queue

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/draw"
	"github.com/rushgate/rushgate/lua"
)

// A scheduled sale. Until opens_at, entering puts a user in the pre-queue.
// The first admission step at or after opens_at (by the clock of whichever
// replica runs it) cuts the arrival sequence: arrivals up to the cut are the
// pre-queue, later ones queue behind it. Since the cut is one point in the
// one sequence, replicas agree on who was in the pre-queue whatever their
// clocks say. Then the pre-queue is placed in line, ordered by draw key, in
// bounded batches, and admission starts.

// Schedule is a concert's scheduled open as set.
type Schedule struct {
	OpensAt    time.Time // zero when cleared
	Commitment string    // sha256(seed) hex of the draw; "" without a schedule
}

// Schedule sets (opensAt non-nil) or clears (nil) the scheduled open of
// concertID. The first time it draws a secret seed and publishes its
// commitment; moving the open keeps the seed, so the commitment stays the one
// checked. Clearing it while people wait in the pre-queue opens the sale now,
// with that draw. Returns ErrSaleOpen once the sale has opened (also for a
// line that people joined without a schedule).
func (q *Queue) Schedule(ctx context.Context, concertID int64, opensAt *time.Time) (Schedule, error) {
	seed, err := draw.NewSeed()
	if err != nil {
		return Schedule{}, err
	}
	var at int64
	if opensAt != nil {
		if at = opensAt.UnixMilli(); at <= 0 {
			return Schedule{}, fmt.Errorf("queue: schedule: opens_at before 1970")
		}
	}
	k := q.keys.Concert(concertID)
	res, err := lua.Schedule.Run(ctx, q.rdb, []string{k.Queue(), k.Draw(), k.Seq(), k.Prequeue()},
		at, hex.EncodeToString(seed), draw.Commitment(seed), q.cfg.Now().UnixMilli()).Slice()
	if err != nil {
		return Schedule{}, storeError("schedule", err)
	}
	if len(res) != 3 {
		return Schedule{}, fmt.Errorf("queue: schedule: unexpected reply %v", res)
	}
	code, _ := res[0].(int64)
	ms, _ := res[1].(int64)
	commitment, _ := res[2].(string)
	switch code {
	case -1:
		return Schedule{}, ErrSaleOpen
	case 0:
		return Schedule{}, nil
	}
	return Schedule{OpensAt: time.UnixMilli(ms), Commitment: commitment}, nil
}

// placement is a computed draw order, kept so that a placement spread over
// several admission steps computes it once.
type placement struct {
	users  []string
	digest string
}

// placePrequeue places concertID's pre-queue in line in draw-key order, in
// calls of at most PlaceBatch users. Replicas may run it at once: each
// computes the same order, and a batch is accepted only where the last one
// ended. Interrupted (a deadline), it goes on from there at the next step.
func (q *Queue) placePrequeue(ctx context.Context, concertID int64) error {
	k := q.keys.Concert(concertID)
	p, err := q.drawOrder(ctx, concertID)
	if err != nil {
		return err
	}
	keys := []string{k.Queue(), k.Waiting(), k.Draw(), k.DrawOrder()}
	n := len(p.users)
	start := 0
	for {
		end := min(start+q.cfg.PlaceBatch, n)
		args := make([]any, 0, 3+end-start)
		args = append(args, start, n, p.digest)
		for _, u := range p.users[start:end] {
			args = append(args, u)
		}
		res, err := lua.Place.Run(ctx, q.rdb, keys, args...).Int64Slice()
		if err != nil {
			return storeError("place the pre-queue", err)
		}
		if len(res) != 2 {
			return fmt.Errorf("queue: place the pre-queue: unexpected reply %v", res)
		}
		if res[0] == -1 || res[1] >= int64(n) {
			q.mu.Lock()
			delete(q.placements, concertID)
			q.mu.Unlock()
			return nil
		}
		start = int(res[1])
	}
}

// drawOrder returns the pre-queue of concertID in draw-key order.
func (q *Queue) drawOrder(ctx context.Context, concertID int64) (*placement, error) {
	q.mu.RLock()
	p := q.placements[concertID]
	q.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	k := q.keys.Concert(concertID)
	seedHex, err := q.rdb.HGet(ctx, k.Draw(), "seed").Result()
	if err != nil {
		return nil, storeError("read the draw's seed", err)
	}
	seed, err := hex.DecodeString(seedHex)
	if err != nil {
		return nil, fmt.Errorf("queue: the draw's seed is not hex: %w", err)
	}
	// The pre-queue no longer changes once the open has cut it, so a scan
	// (bounded calls, each a few thousand entries) sees all of it.
	seen := make(map[string]bool)
	var users []string
	var cursor uint64
	for {
		page, next, err := q.rdb.HScan(ctx, k.Prequeue(), cursor, "*", 5000).Result()
		if err != nil {
			return nil, storeError("read the pre-queue", err)
		}
		for i := 0; i < len(page); i += 2 {
			if !seen[page[i]] {
				seen[page[i]] = true
				users = append(users, page[i])
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	entries := draw.Order(seed, users)
	keys := make([]string, len(entries))
	for i, e := range entries {
		users[i], keys[i] = e.UserID, e.Key
	}
	p = &placement{users: users, digest: draw.Digest(keys)}
	q.mu.Lock()
	q.placements[concertID] = p
	q.mu.Unlock()
	return p, nil
}

type placeKey struct {
	concert int64
	user    string
}

// placeOf returns t's place in line: its arrival sequence, or for a token
// that came through the pre-queue the place the draw gave it (read from Redis
// once per replica, then remembered). 0 when a pre-queue token is no longer
// in line (admitted, skipped or gone).
func (q *Queue) placeOf(ctx context.Context, t Token, v view) (int64, error) {
	if t.Seq > v.openSeq {
		return t.Seq, nil
	}
	pk := placeKey{concert: t.ConcertID, user: t.UserID}
	if p, ok := q.places.Load(pk); ok {
		return p.(int64), nil
	}
	score, err := q.rdb.ZScore(ctx, q.keys.Concert(t.ConcertID).Waiting(), t.UserID).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, storeError("read a place in line", err)
	}
	place := int64(score)
	if place > v.openSeq {
		// The user entered again after the open: that place is another token's.
		return 0, nil
	}
	q.places.Store(pk, place)
	return place, nil
}

// Draw is what anyone may see of a concert's draw.
type Draw struct {
	ConcertID  int64
	OpensAt    time.Time
	Commitment string
	Entrants   int64
	// Done once the pre-queue is placed: then Seed, KeysDigest and Keys are set.
	Done       bool
	Seed       string
	KeysDigest string
	Keys       []string // the page asked for of the sorted keys
}

// MaxDrawPage is the most keys one Draw call returns.
const MaxDrawPage = 10000

// Draw returns concertID's draw: before the open its commitment and the
// number of entrants so far; after it also the seed, the digest and the
// sorted keys from offset, at most limit (≤ MaxDrawPage) of them.
// Returns ErrNoDraw when the concert never had a scheduled open.
func (q *Queue) Draw(ctx context.Context, concertID int64, offset, limit int64) (Draw, error) {
	k := q.keys.Concert(concertID)
	limit = min(max(limit, 0), MaxDrawPage)
	offset = max(offset, 0)
	pipe := q.rdb.Pipeline()
	fields := pipe.HMGet(ctx, k.Draw(), "seed", "commitment", "opens_at_ms", "entrants", "keys_digest")
	pending := pipe.HLen(ctx, k.Prequeue())
	var page *redis.StringSliceCmd
	if limit > 0 {
		page = pipe.LRange(ctx, k.DrawOrder(), offset, offset+limit-1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Draw{}, storeError("read the draw", err)
	}
	f := fields.Val()
	str := func(i int) string { s, _ := f[i].(string); return s }
	if str(1) == "" {
		return Draw{}, ErrNoDraw
	}
	d := Draw{ConcertID: concertID, Commitment: str(1), Entrants: pending.Val()}
	if ms, err := strconv.ParseInt(str(2), 10, 64); err == nil {
		d.OpensAt = time.UnixMilli(ms)
	}
	if str(4) == "" {
		return d, nil
	}
	d.Done, d.Seed, d.KeysDigest = true, str(0), str(4)
	d.Entrants, _ = strconv.ParseInt(str(3), 10, 64)
	seed, err := hex.DecodeString(d.Seed)
	if err != nil {
		return Draw{}, fmt.Errorf("queue: the draw's seed is not hex: %w", err)
	}
	d.Keys = []string{}
	if page != nil {
		keyer := draw.NewKeyer(seed)
		for _, u := range page.Val() {
			d.Keys = append(d.Keys, keyer.Key(u))
		}
	}
	return d, nil
}
