package rush

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rushgate/rushgate/draw"
)

// untilOpen reads the concert's scheduled open from its published draw.
func (r *runner) untilOpen(ctx context.Context) (time.Duration, error) {
	first, _, err := draw.Fetch(ctx, r.client, r.opt.BaseURL, r.opt.ConcertID)
	if err == nil {
		return 0, fmt.Errorf("rush: concert %d has opened already: a pre-queue needs a scheduled open", r.opt.ConcertID)
	}
	if !errors.Is(err, draw.ErrNotOpen) {
		return 0, fmt.Errorf("rush: a pre-queue needs a scheduled open: %w", err)
	}
	at, err := time.Parse(time.RFC3339, first.OpensAt)
	if err != nil {
		return 0, fmt.Errorf("rush: unreadable opens_at %q", first.OpensAt)
	}
	return max(time.Until(at), 0), nil
}

// placeByDraw gives every user their place in line from the published draw:
// pre-queue users by draw key, later ones behind them by token id. It
// returns a note when the draw cannot be read or does not verify.
func (r *runner) placeByDraw(ctx context.Context, users []UserRecord) string {
	_, pub, err := draw.Fetch(ctx, r.client, r.opt.BaseURL, r.opt.ConcertID)
	if err != nil {
		return "draw not read: " + err.Error()
	}
	seed, err := draw.Verify(pub)
	if err != nil {
		return "draw does not verify: " + err.Error()
	}
	keyer := draw.NewKeyer(seed)
	for i := range users {
		u := &users[i]
		if u.TokenID == 0 {
			continue
		}
		// Whoever entered before the open's cut is in the draw, whatever
		// the run meant: the cut is the gateway's, by arrival sequence.
		if place := draw.Place(pub.Keys, keyer.Key(u.ID)); place > 0 {
			u.Place = int64(place)
		} else {
			u.Place = pub.Entrants + u.TokenID
		}
	}
	return fmt.Sprintf("draw verified: %d entrants, commitment %s", pub.Entrants, pub.Commitment)
}
