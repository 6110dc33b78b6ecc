// Package keyspace builds every Redis key rushgate uses, in one place.
//
// Each key of a concert carries the hash tag {c:<concert>} so that every
// multi-key Lua script touches a single Redis Cluster slot and a cluster can
// shard by concert. A Space adds an optional prefix in front of the tag so that
// tests (and several deployments sharing one Redis) never see each other's keys.
package keyspace

import "strconv"

// Space is a key namespace. The zero value uses the production prefix "rg:".
type Space struct {
	prefix string
}

// New returns a Space whose keys start with prefix. An empty prefix means "rg:".
func New(prefix string) Space {
	if prefix == "" {
		prefix = "rg:"
	}
	return Space{prefix: prefix}
}

// Prefix is the string every key of this space starts with.
func (s Space) Prefix() string {
	if s.prefix == "" {
		return "rg:"
	}
	return s.prefix
}

// Concert returns the key builder of one concert.
func (s Space) Concert(id int64) Concert {
	return Concert{base: s.Prefix() + "{c:" + strconv.FormatInt(id, 10) + "}:"}
}

// Concert builds the keys of one concert; they all share one hash slot.
type Concert struct {
	base string
}

// Queue keys.

// Seq is the arrival counter: INCR gives each new token its place in line.
func (c Concert) Seq() string { return c.base + "seq" }

// Waiting is the sorted set of waiting users, scored by arrival sequence.
func (c Concert) Waiting() string { return c.base + "waiting" }

// Active is the sorted set of admitted tokens ("<seq>:<user>") scored by the
// millisecond time their admission lapses.
func (c Concert) Active() string { return c.base + "active" }

// ActiveUsers maps an admitted user to the sequence of their active token, so
// that entering again while active returns the same token.
func (c Concert) ActiveUsers() string { return c.base + "active_users" }

// Timeline maps the second of issue (member) to the first sequence issued in
// that second (score): one entry a second, from which the issue time of any
// sequence is recovered without storing it per waiting user.
func (c Concert) Timeline() string { return c.base + "timeline" }

// Queue is the hash of admission settings and state (bucket, head, totals,
// schedule, stock).
func (c Concert) Queue() string { return c.base + "queue" }

// Prequeue maps each user who entered before a scheduled open to
// "<arrival seq>:<issue second>".
func (c Concert) Prequeue() string { return c.base + "prequeue" }

// Draw is the hash of a scheduled open's draw: seed, commitment, opens_at,
// entrants, keys_digest.
func (c Concert) Draw() string { return c.base + "draw" }

// DrawOrder is the list of pre-queue users in draw-key order, written by the
// placement at the open; the published keys are recomputed from it.
func (c Concert) DrawOrder() string { return c.base + "draw_order" }

// Heartbeats maps a waiting user to the millisecond time after which, without
// a new poll, admission treats them as gone.
func (c Concert) Heartbeats() string { return c.base + "heartbeats" }

// Skipped is the sorted set of tokens ("<seq>:<user>") that admission skipped
// as silent, scored by the millisecond time of the skip.
func (c Concert) Skipped() string { return c.base + "skipped" }

// Rejoined is the sorted set of skipped tokens ("<seq>:<user>") that polled
// again within the grace, scored by when they came back: admitted first.
func (c Concert) Rejoined() string { return c.base + "rejoined" }

// SkippedUsers maps a user to their token in Skipped or Rejoined
// ("<seq>:<issue second>:<expiry ms>"), so that a skipped user who enters
// again gets that token back instead of a second place in line.
func (c Concert) SkippedUsers() string { return c.base + "skipped_users" }

// Booking keys.

// HoldIDs is the concert's block of reservation ids (hold ids), a hash:
// "id" the last id handed out, "last" the last id of the block.
func (c Concert) HoldIDs() string { return c.base + "hold_ids" }

// Seat is the lock of one seat of one date: the hold id while the seat is
// held, "sold" once it is sold.
func (c Concert) Seat(date string, seat int) string {
	return c.SeatLocks(date) + strconv.Itoa(seat)
}

// SeatLocks is what the locks of a date's seats start with: the lock of seat
// n is SeatLocks(date) followed by n. Scripts that set many locks take it.
func (c Concert) SeatLocks(date string) string { return c.base + "seat:" + date + ":" }

// SeatLocksLoaded is the lock of seat 0, which no seat has: it reads
// "loaded" once every sold seat of the date has its lock set to "sold", so
// that a hold can trust a free lock to be an unsold seat.
func (c Concert) SeatLocksLoaded(date string) string { return c.Seat(date, 0) }

// Held is the sorted set of held seat numbers of a date scored by the
// millisecond time the hold lapses, so listings skip expired holds by score.
func (c Concert) Held(date string) string { return c.base + "held:" + date }

// Sold is the cache of sold seats of a date (rebuilt from Postgres when missing).
func (c Concert) Sold(date string) string { return c.base + "sold:" + date }

// Stock is the count of the concert's sold and held seats over all its dates
// (a hash: "sold", "held"), kept a moment so that every replica's admission
// reads it instead of counting (see booking.Service.Stock).
func (c Concert) Stock() string { return c.base + "stock" }

// Hold is the record of one hold (reservation) by id, when it has a key of
// its own: written so by HOLD_RECORDS=own-key, by a claim, and by a sale.
func (c Concert) Hold(id int64) string { return c.base + "hold:" + strconv.FormatInt(id, 10) }

// UserHolds is the sorted set of a user's unpaid holds scored by expiry: each
// a hold id, or the hold's record itself (see lua/hold_batch.lua).
func (c Concert) UserHolds(user string) string { return c.base + "user_holds:" + user }

// Live stats keys.

// Stats is the hash of the per-second counts and levels of one minute (unix
// seconds / 60) of the concert's line; it expires after the retention of
// the live view.
func (c Concert) Stats(minute int64) string {
	return c.base + "stats:" + strconv.FormatInt(minute, 10)
}
