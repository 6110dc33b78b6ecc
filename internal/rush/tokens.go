package rush

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TokensOptions configure Tokens.
type TokensOptions struct {
	BaseURL     string
	Users       int
	Concurrency int
	ConcertID   int64
	// UserPrefix starts every user id (user i is UserPrefix + i).
	UserPrefix string
	// WaitActive polls each token until it is admitted (every PollEvery).
	WaitActive bool
	PollEvery  time.Duration
	// Timeout bounds the whole call.
	Timeout time.Duration
	Client  *http.Client
}

// Issued is a token and its user.
type Issued struct {
	UserID  string
	Token   string
	TokenID int64
}

// Tokens puts Users users in the line (and, with WaitActive, waits until each
// is admitted): the tokens that load tools such as wrk replay.
func Tokens(ctx context.Context, o TokensOptions) ([]Issued, error) {
	opt := Options{BaseURL: o.BaseURL, Users: o.Users, Concurrency: o.Concurrency, ConcertID: o.ConcertID, Client: o.Client}
	opt.setDefaults()
	if o.PollEvery <= 0 {
		o.PollEvery = 100 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.UserPrefix == "" {
		o.UserPrefix = "tk" + randomID() + "-"
	}
	r := newToolRunner(opt)
	if err := r.ping(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	out := make([]Issued, o.Users)
	active := make([]bool, o.Users)
	err := forEach(ctx, o.Users, opt.Concurrency, func(i int) error {
		u := newUser(o.UserPrefix, i)
		tok, ok := r.enter(ctx, &u)
		if !ok {
			return fmt.Errorf("user %s: %s", u.ID, u.Outcome)
		}
		out[i] = Issued{UserID: u.ID, Token: tok, TokenID: u.TokenID}
		active[i] = u.Admitted()
		return nil
	})
	// Everyone is in line before anyone polls: by then most are admitted,
	// and one poll each tells.
	if o.WaitActive && err == nil {
		err = forEach(ctx, o.Users, opt.Concurrency, func(i int) error {
			if active[i] || r.pollUntilActive(ctx, out[i].Token, o.PollEvery) {
				return nil
			}
			return fmt.Errorf("user %s: never admitted", out[i].UserID)
		})
	}
	if err != nil {
		return out, fmt.Errorf("rush: users got no usable token: %w%s", err, r.failureSummary())
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("rush: tokens: %w", err)
	}
	return out, nil
}

// pollUntilActive polls at a fixed pace until the token is active.
func (r *runner) pollUntilActive(ctx context.Context, tok string, every time.Duration) bool {
	for {
		a, err := r.get(ctx, "GET /api/queue/position", "/api/queue/position", "Bearer "+tok)
		if err != nil || ctx.Err() != nil || a.status != http.StatusOK {
			return false
		}
		var p struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(a.body, &p) == nil && p.Status == "active" {
			return true
		}
		if !sleepCtx(ctx, every) {
			return false
		}
	}
}

// newToolRunner is a runner for the tools that prepare users (Tokens,
// Holds) rather than play a rush.
func newToolRunner(opt Options) *runner {
	opt.setDefaults()
	r := &runner{opt: opt, client: opt.Client, sem: make(chan struct{}, opt.Concurrency), stats: newStats(),
		offered: map[string][]bool{}, failures: map[string]int{}, start: time.Now()}
	if r.client == nil {
		r.client = NewClient(opt.Concurrency)
	}
	return r
}

// forEach runs fn(i) for i in [0, n) on conc goroutines, until ctx ends. Its
// error counts the calls that failed and gives the first error.
func forEach(ctx context.Context, n, conc int, fn func(i int) error) error {
	var next, failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if k := failed.Load(); k > 0 {
		return fmt.Errorf("%d of %d failed (first: %w)", k, n, first.Load().(error))
	}
	return nil
}

// failureSummary names the commonest reasons recorded by fail (the gateway's
// answers), to tell why users failed: "; 12× no_token: POST /api/tokens: 503
// unavailable".
func (r *runner) failureSummary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	type reason struct {
		why string
		n   int
	}
	var all []reason
	for why, n := range r.failures {
		all = append(all, reason{why, n})
	}
	slices.SortFunc(all, func(a, b reason) int { return cmp.Or(b.n-a.n, strings.Compare(a.why, b.why)) })
	var b strings.Builder
	for i, x := range all {
		if i == 3 {
			break
		}
		fmt.Fprintf(&b, "; %d× %s", x.n, x.why)
	}
	return b.String()
}
