package rush

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
)

// offer adds seats to the seats ever listed for day.
func (r *runner) offer(day string, seats []int) {
	if len(seats) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.offered[day]
	for _, s := range seats {
		if s < 0 || s > 1<<20 {
			continue
		}
		if s >= len(set) {
			set = append(set, make([]bool, s+1-len(set))...)
		}
		set[s] = true
	}
	r.offered[day] = set
}

func (r *runner) offeredSeats() map[string][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]int, len(r.offered))
	for day, set := range r.offered {
		var seats []int
		for s, ok := range set {
			if ok {
				seats = append(seats, s)
			}
		}
		out[day] = seats
	}
	return out
}

// readBalances reads the final balance of every user who topped up.
func (r *runner) readBalances(ctx context.Context, users []UserRecord) {
	var wg sync.WaitGroup
	for i := range users {
		u := &users[i]
		if u.Charged == 0 && u.Paid == 0 && !u.Uncertain {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := r.get(ctx, "GET /api/pay", "/api/pay?user_id="+url.QueryEscape(u.ID), "")
			if err != nil {
				return
			}
			switch a.status {
			case http.StatusOK:
				var b struct {
					Amount *int64 `json:"amount"`
				}
				if json.Unmarshal(a.body, &b) == nil && b.Amount != nil {
					u.Balance, u.BalanceKnown = *b.Amount, true
				}
			case http.StatusNotFound:
				u.Balance, u.BalanceKnown = 0, true
			}
		}()
	}
	wg.Wait()
}
