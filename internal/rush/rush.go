// Package rush simulates a ticket rush against a running rushgate: users
// arrive, enter the line, poll as the gateway asks, and once admitted pick a
// date and a seat, hold it, top up and pay. It measures every route and the
// admission, and checks the invariants a rush must keep (see Verify).
//
// cmd/rushload is its command line; tests run it against an in-process
// gateway.
package rush

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a rush.
type Options struct {
	// BaseURL is the gateway, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Users is how many users take part.
	Users int
	// ArrivalRate is users arriving per second; 0 sends them all at once.
	ArrivalRate float64
	// Duration bounds the rush; users not done by then are "unfinished".
	Duration time.Duration
	// Concurrency bounds the HTTP requests in flight.
	Concurrency int
	// AdminToken, when set, lets the rush read /admin/queue each second for
	// the configured admission rate and admitted_total.
	AdminToken string
	// ConcertID is the concert the users queue for.
	ConcertID int64
	// PollScale multiplies every poll_after_ms the gateway asks for (1:
	// honour it; 0.1 polls ten times as often, for short runs). PollCap, when
	// positive, caps the wait between polls.
	PollScale float64
	PollCap   time.Duration
	// UserPrefix starts every user id; empty: "rl" and a random run id.
	UserPrefix string
	// SeatsOffered is how many seats the concert offers, when known, for
	// the seats-within-offer check (0: the seats ever listed stand in).
	SeatsOffered int
	// ReplayFraction of successful payments are sent again with the same
	// Idempotency-Key, to check that they answer the first payment.
	ReplayFraction float64
	// OrderSlack widens the admission-order check for several replicas.
	OrderSlack time.Duration
	// Progress receives a status line every second; nil: none.
	Progress io.Writer
	// Client sends the requests; nil: a client sized to Concurrency.
	Client *http.Client

	// Prequeue users (the first ones) enter before the concert's scheduled
	// open, read from its published draw; the rest arrive from the open on,
	// at ArrivalRate. The admission order is then checked against the draw.
	Prequeue int
	// Abandon is the share of users who stop polling after their first
	// answer and never come back (they closed the tab).
	Abandon float64
	// Return is the share of users who go silent after their first answer
	// for ReturnAfter, then poll again.
	Return      float64
	ReturnAfter time.Duration
	// HoldAndLeave is the share of users who, once admitted, hold a seat and
	// walk away without paying: the hold lapses after HOLD_TTL and the seat
	// must go to someone still waiting.
	HoldAndLeave float64
}

func (o *Options) setDefaults() {
	if o.Users <= 0 {
		o.Users = 1000
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Minute
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 128
	}
	if o.ConcertID <= 0 {
		o.ConcertID = 1
	}
	if o.PollScale <= 0 {
		o.PollScale = 1
	}
	if o.ReturnAfter <= 0 {
		o.ReturnAfter = time.Minute
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
}

// The outcomes of a user.
const (
	OutcomeBought     = "bought"
	OutcomeSoldOut    = "sold_out"   // admitted, but no seat was left
	OutcomeUnfinished = "unfinished" // the run's deadline came first
	OutcomeFailed     = "failed"     // an answer the simulation did not expect
	OutcomeNoToken    = "no_token"   // could not enter the line
	OutcomeTokenLost  = "token_lost" // the token expired or was refused
	OutcomeGaveUp     = "gave_up"    // kept losing seat races
	OutcomeAbandoned  = "abandoned"  // stopped polling on purpose (Options.Abandon)
	OutcomeHeldLeft   = "held_left"  // held a seat and walked away (Options.HoldAndLeave)
	maxSeatTries      = 8            // seats tried from one listing
	maxRounds         = 6            // listings of dates and seats
	finalReadTimeout  = 30 * time.Second
)

type runner struct {
	opt    Options
	client *http.Client
	sem    chan struct{}
	stats  *stats
	start  time.Time
	runID  string

	requests, waiting, active, done atomic.Int64

	mu       sync.Mutex
	offered  map[string][]bool
	sales    []Sale
	replays  []Replay
	samples  []adminSample
	failures map[string]int
}

// Run runs a rush and returns its report. It fails only when the rush cannot
// start (bad options, gateway unreachable); broken invariants are in the
// report.
func Run(ctx context.Context, opt Options) (*Report, error) {
	opt.setDefaults()
	if _, err := url.Parse(opt.BaseURL); err != nil || opt.BaseURL == "" {
		return nil, fmt.Errorf("rush: bad base URL %q", opt.BaseURL)
	}
	r := &runner{opt: opt, client: opt.Client, sem: make(chan struct{}, opt.Concurrency),
		stats: newStats(), runID: randomID(), offered: make(map[string][]bool), failures: make(map[string]int)}
	if r.client == nil {
		r.client = NewClient(opt.Concurrency)
	}
	if r.opt.UserPrefix == "" {
		r.opt.UserPrefix = "rl" + r.runID + "-"
	}
	if err := r.ping(ctx); err != nil {
		return nil, err
	}

	var opensIn time.Duration
	if opt.Prequeue > 0 {
		var err error
		if opensIn, err = r.untilOpen(ctx); err != nil {
			return nil, err
		}
	}
	r.start = time.Now()
	runCtx, cancel := context.WithTimeout(ctx, opt.Duration+opensIn)
	defer cancel()

	users := make([]UserRecord, opt.Users)
	var wg sync.WaitGroup
	allDone := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); r.progress(allDone) }()
	go func() { defer bg.Done(); r.sampleAdmin(runCtx, allDone) }()

	seed := mrand.Uint64()
	for i := range users {
		if at, ok := r.arrival(i, opensIn); ok {
			if !sleepCtx(runCtx, at-time.Since(r.start)) {
				for j := i; j < len(users); j++ {
					users[j] = r.newUser(j)
					users[j].Outcome = OutcomeUnfinished
				}
				break
			}
		}
		users[i] = r.newUser(i)
		wg.Add(1)
		go func(u *UserRecord) {
			defer wg.Done()
			r.user(runCtx, u, mrand.New(mrand.NewPCG(seed, uint64(i))))
			r.done.Add(1)
		}(&users[i])
	}
	wg.Wait()
	elapsed := time.Since(r.start)
	close(allDone)
	bg.Wait()

	finalCtx, cancelFinal := context.WithTimeout(context.WithoutCancel(ctx), finalReadTimeout)
	defer cancelFinal()
	r.readBalances(finalCtx, users)
	drawNote := ""
	if opt.Prequeue > 0 {
		drawNote = r.placeByDraw(finalCtx, users)
	}

	rec := Record{Users: users, Sales: r.sales, Replays: r.replays, Offered: r.offeredSeats(), SeatsOffered: opt.SeatsOffered}
	rep := r.report(rec, elapsed)
	rep.DrawNote = drawNote
	return rep, nil
}

// arrival is when user i arrives, from the start of the run; ok is false
// when the user comes at once.
func (r *runner) arrival(i int, opensIn time.Duration) (time.Duration, bool) {
	if i < r.opt.Prequeue {
		return 0, false
	}
	n := i - r.opt.Prequeue
	if r.opt.ArrivalRate <= 0 {
		return opensIn, opensIn > 0
	}
	return opensIn + time.Duration(float64(n)/r.opt.ArrivalRate*float64(time.Second)), true
}

// Roles of a user in the line.
const (
	roleAbandon   = "abandon"
	roleReturn    = "return"
	roleHoldLeave = "hold_and_leave"
)

func newUser(prefix string, i int) UserRecord {
	return UserRecord{ID: prefix + strconv.Itoa(i), LastWaitingSent: -1, FirstActiveRecv: -1}
}

// newUser is user i of the rush, with their role.
func (r *runner) newUser(i int) UserRecord {
	u := newUser(r.opt.UserPrefix, i)
	u.Prequeue = i < r.opt.Prequeue
	// A spread of i over [0, 1) that mixes the roles evenly through the line.
	share := float64((uint64(i)*2654435761)%10007) / 10007
	switch {
	case share < r.opt.Abandon:
		u.Role = roleAbandon
	case share < r.opt.Abandon+r.opt.Return:
		u.Role = roleReturn
	case share < r.opt.Abandon+r.opt.Return+r.opt.HoldAndLeave:
		u.Role = roleHoldLeave
	}
	return u
}

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
