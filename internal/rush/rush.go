// Package rush simulates a ticket rush against a running rushgate: users
// arrive, enter the line, poll as the gateway asks, and once admitted pick a
// date and a seat, hold it, top up and pay. It measures every route and the
// admission, and checks the invariants a rush must keep (see Verify).
//
// cmd/rushload is its command line; tests run it against an in-process
// gateway.
package rush

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
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

	"github.com/rushgate/rushgate/draw"
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
	maxRetries        = 5            // transport errors, 429 and 5xx
	maxSeatTries      = 8            // seats tried from one listing
	maxRounds         = 6            // listings of dates and seats
	finalReadTimeout  = 30 * time.Second
)

// NewClient returns an HTTP client that keeps up to conns connections to one
// host alive.
func NewClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: 90 * time.Second, DisableCompression: true,
		},
	}
}

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
	roleAbandon = "abandon"
	roleReturn  = "return"
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
	}
	return u
}

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

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ErrGatewayDown is returned by Run and Tokens when the gateway does not
// answer GET /healthz before anything starts.
var ErrGatewayDown = errors.New("rush: gateway does not answer")

// ping checks that the gateway answers before the clock starts.
func (r *runner) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opt.BaseURL+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrGatewayDown, r.opt.BaseURL, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s/healthz answered %d", ErrGatewayDown, r.opt.BaseURL, resp.StatusCode)
	}
	return nil
}

// answer is an HTTP answer with the moments its request was sent and its
// body received, as offsets from the start of the run.
type answer struct {
	status     int
	body       []byte
	sent, recv time.Duration
	retryAfter time.Duration
}

// errorCode is the contract's error code in a, if any.
func (a answer) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(a.body, &e)
	return e.Error.Code
}

// transient reports whether a failed request may be retried as is.
func transient(a answer, err error) bool {
	return err != nil || a.status == http.StatusTooManyRequests || a.status >= 500
}

// do sends one request, waiting first for a free slot among Concurrency.
// The latency recorded runs from sending to the end of the body, without
// the wait for a slot.
func (r *runner) do(ctx context.Context, method, route, path string, body any, headers ...string) (answer, error) {
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return answer{}, ctx.Err()
	}
	defer func() { <-r.sem }()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return answer{}, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.opt.BaseURL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	r.requests.Add(1)
	t0 := time.Now()
	a := answer{sent: t0.Sub(r.start)}
	resp, err := r.client.Do(req)
	if err == nil {
		a.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	t1 := time.Now()
	a.recv = t1.Sub(r.start)
	if err != nil {
		if ctx.Err() == nil {
			r.stats.transportError(route)
		}
		return a, err
	}
	a.status = resp.StatusCode
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			a.retryAfter = time.Duration(n) * time.Second
		}
	}
	r.stats.observe(route, a.status, t1.Sub(t0))
	return a, nil
}

// backoff is the wait before retry number attempt (from 0).
func backoff(a answer, attempt int) time.Duration {
	if a.retryAfter > 0 {
		return a.retryAfter
	}
	return time.Duration(50<<attempt) * time.Millisecond
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *runner) fail(u *UserRecord, outcome, why string) {
	u.Outcome = outcome
	r.mu.Lock()
	r.failures[outcome+": "+why]++
	r.mu.Unlock()
}

// user plays one user from arrival to payment.
func (r *runner) user(ctx context.Context, u *UserRecord, rng *mrand.Rand) {
	tok, ok := r.enter(ctx, u)
	if !ok {
		return
	}
	if u.Admitted() {
		r.active.Add(1)
	} else {
		r.waiting.Add(1)
		if !r.waitActive(ctx, u, tok) {
			r.waiting.Add(-1)
			return
		}
		r.waiting.Add(-1)
		r.active.Add(1)
	}
	defer r.active.Add(-1)
	r.buy(ctx, u, tok, rng)
}

func (r *runner) unfinished(ctx context.Context, u *UserRecord) bool {
	if ctx.Err() != nil {
		u.Outcome = OutcomeUnfinished
		return true
	}
	return false
}

func (r *runner) enter(ctx context.Context, u *UserRecord) (string, bool) {
	body := map[string]any{"user_id": u.ID, "concert_id": r.opt.ConcertID}
	for attempt := 0; ; attempt++ {
		a, err := r.do(ctx, http.MethodPost, "POST /api/tokens", "/api/tokens", body)
		if r.unfinished(ctx, u) {
			return "", false
		}
		if err == nil && (a.status == http.StatusCreated || a.status == http.StatusOK) {
			var t struct {
				Token   string `json:"token"`
				TokenID int64  `json:"token_id"`
				Status  string `json:"status"`
			}
			if err := json.Unmarshal(a.body, &t); err != nil || t.Token == "" {
				r.fail(u, OutcomeNoToken, "POST /api/tokens: unreadable body")
				return "", false
			}
			u.TokenID, u.EnteredAt = t.TokenID, a.recv
			if t.Status == "active" {
				u.FirstActiveRecv = a.recv
			} else {
				u.LastWaitingSent = a.sent
			}
			return t.Token, true
		}
		if transient(a, err) && attempt < maxRetries {
			if !sleepCtx(ctx, backoff(a, attempt)) {
				u.Outcome = OutcomeUnfinished
				return "", false
			}
			continue
		}
		if err == nil && a.status == http.StatusConflict && a.errorCode() == "sold_out" {
			u.Outcome, u.SoldOutSeen = OutcomeSoldOut, a.recv
			return "", false
		}
		r.fail(u, OutcomeNoToken, fmt.Sprintf("POST /api/tokens: %d %s%s", a.status, a.errorCode(), errText(err)))
		return "", false
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return " transport error"
}

// waitActive polls until the token is active, waiting between polls as long
// as the gateway asks (times PollScale, within PollCap).
func (r *runner) waitActive(ctx context.Context, u *UserRecord, tok string) bool {
	auth := "Bearer " + tok
	errs := 0
	for {
		a, err := r.do(ctx, http.MethodGet, "GET /api/queue/position", "/api/queue/position", nil, "Authorization", auth)
		if r.unfinished(ctx, u) {
			return false
		}
		if transient(a, err) {
			if errs++; errs > maxRetries {
				r.fail(u, OutcomeFailed, fmt.Sprintf("GET /api/queue/position: %d%s", a.status, errText(err)))
				return false
			}
			sleepCtx(ctx, backoff(a, errs))
			continue
		}
		if a.status != http.StatusOK {
			r.fail(u, OutcomeTokenLost, fmt.Sprintf("GET /api/queue/position: %d %s", a.status, a.errorCode()))
			return false
		}
		var p struct {
			Status      string `json:"status"`
			PollAfterMS int64  `json:"poll_after_ms"`
		}
		if err := json.Unmarshal(a.body, &p); err != nil {
			r.fail(u, OutcomeFailed, "GET /api/queue/position: unreadable body")
			return false
		}
		if p.Status == "active" {
			u.FirstActiveRecv = a.recv
			return true
		}
		if p.Status == "sold_out" {
			// Nothing left: the gateway released the token; stop polling.
			u.Outcome, u.SoldOutSeen = OutcomeSoldOut, a.recv
			return false
		}
		u.LastWaitingSent = a.sent
		switch {
		case u.Role == roleAbandon:
			u.Outcome, u.Left = OutcomeAbandoned, true
			return false
		case u.Role == roleReturn && !u.Left:
			u.Left = true
			if !sleepCtx(ctx, r.opt.ReturnAfter) {
				u.Outcome = OutcomeUnfinished
				return false
			}
			continue
		}
		wait := time.Duration(float64(p.PollAfterMS) * r.opt.PollScale * float64(time.Millisecond))
		if r.opt.PollCap > 0 {
			wait = min(wait, r.opt.PollCap)
		}
		if !sleepCtx(ctx, wait) {
			u.Outcome = OutcomeUnfinished
			return false
		}
	}
}

// get sends a request, retrying transient failures.
func (r *runner) get(ctx context.Context, route, path, auth string) (answer, error) {
	for attempt := 0; ; attempt++ {
		var hdr []string
		if auth != "" {
			hdr = []string{"Authorization", auth}
		}
		a, err := r.do(ctx, http.MethodGet, route, path, nil, hdr...)
		if ctx.Err() != nil || !transient(a, err) || attempt >= maxRetries {
			return a, err
		}
		if !sleepCtx(ctx, backoff(a, attempt)) {
			return a, ctx.Err()
		}
	}
}

type hold struct {
	id    int64
	date  string
	seat  int
	price int64
}

// buy lists dates and seats, holds a free seat, tops up and pays.
func (r *runner) buy(ctx context.Context, u *UserRecord, tok string, rng *mrand.Rand) {
	auth := "Bearer " + tok
	for round := 0; round < maxRounds; round++ {
		a, err := r.get(ctx, "GET /api/reservationData/available", "/api/reservationData/available", auth)
		if r.unfinished(ctx, u) {
			return
		}
		if err != nil || a.status != http.StatusOK {
			r.fail(u, outcomeOf(a), fmt.Sprintf("GET /api/reservationData/available: %d %s%s", a.status, a.errorCode(), errText(err)))
			return
		}
		var d struct {
			AvailableDates []string `json:"available_dates"`
		}
		json.Unmarshal(a.body, &d)
		if len(d.AvailableDates) == 0 {
			u.Outcome = OutcomeSoldOut
			return
		}
		day := d.AvailableDates[rng.IntN(len(d.AvailableDates))]

		a, err = r.get(ctx, "GET /api/reservationSeat/available", "/api/reservationSeat/available?reservation_date="+url.QueryEscape(day), auth)
		if r.unfinished(ctx, u) {
			return
		}
		if err != nil || a.status != http.StatusOK {
			r.fail(u, outcomeOf(a), fmt.Sprintf("GET /api/reservationSeat/available: %d %s%s", a.status, a.errorCode(), errText(err)))
			return
		}
		var s struct {
			AvailableSeats []int `json:"available_seats"`
		}
		json.Unmarshal(a.body, &s)
		r.offer(day, s.AvailableSeats)
		if len(s.AvailableSeats) == 0 {
			continue
		}
		h, ok, stop := r.hold(ctx, u, auth, day, s.AvailableSeats, rng)
		if stop {
			return
		}
		if !ok {
			continue
		}
		if !r.topUp(ctx, u, h.price, rng) {
			return
		}
		if again := r.pay(ctx, u, auth, h, rng); !again {
			return
		}
	}
	if u.Outcome == "" {
		r.fail(u, OutcomeGaveUp, fmt.Sprintf("no seat after %d listings", maxRounds))
	}
}

func outcomeOf(a answer) string {
	if a.status == http.StatusUnauthorized || a.status == http.StatusForbidden {
		return OutcomeTokenLost
	}
	return OutcomeFailed
}

// hold tries up to maxSeatTries seats of the listing, at random. ok: a seat
// is held; stop: the user is done (outcome set).
func (r *runner) hold(ctx context.Context, u *UserRecord, auth, day string, seats []int, rng *mrand.Rand) (h hold, ok, stop bool) {
	free := append([]int(nil), seats...)
	for try := 0; try < maxSeatTries && len(free) > 0; try++ {
		i := rng.IntN(len(free))
		seat := free[i]
		free[i] = free[len(free)-1]
		free = free[:len(free)-1]
		body := map[string]any{"user_id": u.ID, "reservation_date": day, "reservation_seat": seat}
		var a answer
		var err error
		for attempt := 0; ; attempt++ {
			a, err = r.do(ctx, http.MethodPost, "POST /api/reservation", "/api/reservation", body, "Authorization", auth)
			if ctx.Err() != nil || !transient(a, err) || attempt >= maxRetries || !sleepCtx(ctx, backoff(a, attempt)) {
				break
			}
		}
		if r.unfinished(ctx, u) {
			return h, false, true
		}
		switch {
		case err == nil && a.status == http.StatusCreated:
			var b struct {
				ReservationID   int64  `json:"reservation_id"`
				ReservationDate string `json:"reservation_date"`
				ReservationSeat int    `json:"reservation_seat"`
				Price           int64  `json:"price"`
			}
			if json.Unmarshal(a.body, &b) != nil || b.ReservationID == 0 || b.Price <= 0 {
				r.fail(u, OutcomeFailed, "POST /api/reservation: unreadable body")
				return h, false, true
			}
			return hold{id: b.ReservationID, date: b.ReservationDate, seat: b.ReservationSeat, price: b.Price}, true, false
		case err == nil && a.status == http.StatusConflict && a.errorCode() == "seat_taken":
			continue
		case err == nil && a.status == http.StatusNotFound:
			return h, false, false // the listing is stale: list again
		default:
			r.fail(u, outcomeOf(a), fmt.Sprintf("POST /api/reservation: %d %s%s", a.status, a.errorCode(), errText(err)))
			return h, false, true
		}
	}
	return h, false, false
}

// topUp charges the user when its balance is short of price; half the users
// put in more than needed, so that balances end above zero.
func (r *runner) topUp(ctx context.Context, u *UserRecord, price int64, rng *mrand.Rand) bool {
	balance := u.Charged - u.Paid
	if balance >= price {
		return true
	}
	amount := price - balance
	if rng.IntN(2) == 0 {
		amount += rng.Int64N(price/2 + 1)
	}
	body := map[string]any{"user_id": u.ID, "amount": amount}
	for attempt := 0; ; attempt++ {
		a, err := r.do(ctx, http.MethodPost, "POST /api/chargePay", "/api/chargePay", body)
		if err == nil && a.status == http.StatusOK {
			u.Charged += amount
			return true
		}
		if err != nil || a.status >= 500 {
			// Top-ups are not idempotent: whether this one counted is unknown.
			u.Uncertain = true
		}
		if r.unfinished(ctx, u) {
			return false
		}
		if !transient(a, err) || attempt >= maxRetries {
			r.fail(u, OutcomeFailed, fmt.Sprintf("POST /api/chargePay: %d %s%s", a.status, a.errorCode(), errText(err)))
			return false
		}
		if !sleepCtx(ctx, backoff(a, attempt)) {
			u.Outcome = OutcomeUnfinished
			return false
		}
	}
}

// pay pays for h with an Idempotency-Key, retrying with the same key when
// the answer is lost. again: the hold lapsed, try another seat.
func (r *runner) pay(ctx context.Context, u *UserRecord, auth string, h hold, rng *mrand.Rand) (again bool) {
	key := fmt.Sprintf("rl-%s-%s-%d", r.runID, u.ID, h.id)
	body := map[string]any{"user_id": u.ID, "reservation_id": h.id, "amount": h.price}
	for attempt := 0; ; attempt++ {
		a, err := r.do(ctx, http.MethodPost, "POST /api/payment", "/api/payment", body, "Authorization", auth, "Idempotency-Key", key)
		if err == nil && a.status == http.StatusCreated {
			var p struct {
				PaymentID       int64  `json:"payment_id"`
				ReservationID   int64  `json:"reservation_id"`
				ReservationDate string `json:"reservation_date"`
				ReservationSeat int    `json:"reservation_seat"`
				Amount          int64  `json:"amount"`
			}
			if json.Unmarshal(a.body, &p) != nil || p.PaymentID == 0 {
				u.Uncertain = true
				r.fail(u, OutcomeFailed, "POST /api/payment: unreadable body")
				return false
			}
			u.Paid += p.Amount
			u.Outcome = OutcomeBought
			r.mu.Lock()
			r.sales = append(r.sales, Sale{At: a.recv, User: u.ID, ReservationID: p.ReservationID, PaymentID: p.PaymentID,
				Date: p.ReservationDate, Seat: p.ReservationSeat, Amount: p.Amount})
			r.mu.Unlock()
			if r.opt.ReplayFraction > 0 && rng.Float64() < r.opt.ReplayFraction {
				r.replay(ctx, u, auth, key, body, p.ReservationID, p.PaymentID)
			}
			return false
		}
		// 409 payment_in_progress: an earlier attempt with this key (one whose
		// answer was lost) is still running; the retry will get its answer.
		if transient(a, err) || (a.status == http.StatusConflict && a.errorCode() == "payment_in_progress") {
			// Whether the lost attempt paid is unknown until a retry with the
			// same key tells.
			u.Uncertain = true
			if ctx.Err() != nil {
				u.Outcome = OutcomeUnfinished
				return false
			}
			if attempt >= maxRetries {
				r.fail(u, OutcomeFailed, fmt.Sprintf("POST /api/payment: %d %s%s", a.status, a.errorCode(), errText(err)))
				return false
			}
			if !sleepCtx(ctx, backoff(a, attempt)) {
				u.Outcome = OutcomeUnfinished
				return false
			}
			continue
		}
		u.Uncertain = false // a definite answer settles an earlier lost one
		code := a.errorCode()
		if a.status == http.StatusConflict && code == "hold_expired" {
			return true
		}
		r.fail(u, outcomeOf(a), fmt.Sprintf("POST /api/payment: %d %s", a.status, code))
		return false
	}
}

func (r *runner) replay(ctx context.Context, u *UserRecord, auth, key string, body map[string]any, rid, pid int64) {
	a, err := r.do(ctx, http.MethodPost, "POST /api/payment", "/api/payment", body, "Authorization", auth, "Idempotency-Key", key)
	if err != nil {
		return // no answer: nothing to judge
	}
	var p struct {
		PaymentID int64 `json:"payment_id"`
	}
	json.Unmarshal(a.body, &p)
	r.mu.Lock()
	r.replays = append(r.replays, Replay{User: u.ID, ReservationID: rid, FirstPaymentID: pid, Status: a.status, PaymentID: p.PaymentID})
	r.mu.Unlock()
}

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

// adminSample is one reading of GET /admin/queue.
type adminSample struct {
	at            time.Duration
	waiting       int64
	active        int64
	rate          float64
	maxActive     int64
	paused        bool
	admittedTotal int64
	skipped       int64 // skipped_inactive_total; 0 from gateways without it
}

// sampleAdmin reads the admission state each second until the users are done.
func (r *runner) sampleAdmin(ctx context.Context, done <-chan struct{}) {
	if r.opt.AdminToken == "" {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.readAdmin(ctx)
		select {
		case <-done:
			r.readAdmin(context.WithoutCancel(ctx))
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *runner) readAdmin(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	path := "/admin/queue?concert_id=" + strconv.FormatInt(r.opt.ConcertID, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.opt.BaseURL+path, nil)
	if err != nil {
		return
	}
	req.Header.Set("Authorization", "Bearer "+r.opt.AdminToken)
	t0 := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t1 := time.Now()
	r.stats.observe("GET /admin/queue", resp.StatusCode, t1.Sub(t0))
	if resp.StatusCode != http.StatusOK {
		return
	}
	var q struct {
		Waiting        int64   `json:"waiting"`
		Active         int64   `json:"active"`
		AdmitPerSecond float64 `json:"admit_per_second"`
		MaxActive      int64   `json:"max_active"`
		Paused         bool    `json:"paused"`
		AdmittedTotal  int64   `json:"admitted_total"`
		Skipped        int64   `json:"skipped_inactive_total"`
	}
	if json.Unmarshal(raw, &q) != nil {
		return
	}
	// The reading is of the moment half-way through the request.
	at := t0.Add(t1.Sub(t0) / 2).Sub(r.start)
	r.mu.Lock()
	r.samples = append(r.samples, adminSample{at: at, waiting: q.Waiting, active: q.Active, rate: q.AdmitPerSecond,
		maxActive: q.MaxActive, paused: q.Paused, admittedTotal: q.AdmittedTotal, skipped: q.Skipped})
	r.mu.Unlock()
}

func (r *runner) lastSample() (adminSample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) == 0 {
		return adminSample{}, false
	}
	return r.samples[len(r.samples)-1], true
}

// progress writes a status line every second.
func (r *runner) progress(done <-chan struct{}) {
	if r.opt.Progress == nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastReq int64
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			n := r.requests.Load()
			rps := float64(n-lastReq) / now.Sub(last).Seconds()
			lastReq, last = n, now
			line := fmt.Sprintf("rushload %5.0fs  waiting %6d  active %6d  done %6d/%d  %7.0f req/s",
				now.Sub(r.start).Seconds(), r.waiting.Load(), r.active.Load(), r.done.Load(), r.opt.Users, rps)
			if s, ok := r.lastSample(); ok {
				line += fmt.Sprintf("  | gateway: waiting %d active %d admitted_total %d", s.waiting, s.active, s.admittedTotal)
			}
			fmt.Fprintln(r.opt.Progress, line)
		}
	}
}

var errNoWindow = errors.New("the line was never rate-bound while sampled")
