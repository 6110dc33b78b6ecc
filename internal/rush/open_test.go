package rush_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/rush"
)

// connCounter counts the connections a server accepts, the most open at
// once, and the fewest open when a request came.
type connCounter struct {
	mu                   sync.Mutex
	accepted, open       int
	mostOpen, closed     int
	fewestOpenAtRequest  int
	requestsSinceCounted int
	// Requests are counted from the first one that finds full connections
	// open: a client's connection is open once the kernel accepts it, but
	// the server sees it only when its accept loop gets to it, which on a
	// loaded machine may be after other connections' first requests.
	full    int
	sawFull bool
}

// wrap notes the connections open at every request to h.
func (c *connCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.sawFull = c.sawFull || c.open >= c.full
		if c.sawFull {
			if c.requestsSinceCounted == 0 || c.open < c.fewestOpenAtRequest {
				c.fewestOpenAtRequest = c.open
			}
			c.requestsSinceCounted++
		}
		c.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// startCounting forgets the requests so far, and counts those from the
// first that finds full connections open.
func (c *connCounter) startCounting(full int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requestsSinceCounted, c.full, c.sawFull = 0, full, false
}

// fewestOpen returns the fewest connections open at a counted request, and
// how many requests were counted.
func (c *connCounter) fewestOpen() (fewest, requests int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fewestOpenAtRequest, c.requestsSinceCounted
}

func (c *connCounter) track(_ net.Conn, s http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch s {
	case http.StateNew:
		c.accepted++
		c.open++
		c.mostOpen = max(c.mostOpen, c.open)
	case http.StateClosed, http.StateHijacked:
		c.open--
		c.closed++
	}
}

func (c *connCounter) counts() (accepted, mostOpen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted, c.mostOpen
}

// newCountedGateway serves a whole replica, as newGateway does, and counts
// its connections.
func newCountedGateway(t *testing.T, dates, seats int, change func(*config.Config)) (*httptest.Server, *connCounter) {
	t.Helper()
	r := gatewaytest.New(t, dates, seats, 10000, func(c *config.Config) {
		c.AdminToken = adminToken
		c.DBTimeout = 20 * time.Second
		c.RedisTimeout = 5 * time.Second
		change(c)
	})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(cc.wrap(r.Handler))
	srv.Config.ConnState = cc.track
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		r.StopAdmitting()
	})
	return srv, cc
}

// waiting reads the line's length from GET /admin/queue.
func waiting(t *testing.T, base string) int64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/queue?concert_id=1", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var q struct {
		Waiting int64 `json:"waiting"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil {
		t.Fatal(err)
	}
	return q.Waiting
}

// checkRun fails the test unless every scheduled request got an answer of
// the wanted kind over conns distinct connections, opened once each.
func checkRun(t *testing.T, res rush.OpenResult, scheduled int64, conns int, want2xx bool) {
	t.Helper()
	t.Logf("%+v", res)
	if res.Scheduled != scheduled || res.Requests != scheduled {
		t.Errorf("scheduled %d, answered %d; want %d of each", res.Scheduled, res.Requests, scheduled)
	}
	if n := res.ConnectErrors + res.ReadErrors + res.WriteErrors + res.Timeouts; n != 0 {
		t.Errorf("%d transport errors", n)
	}
	var counted int64
	for _, n := range res.Statuses {
		counted += n
	}
	if counted != res.Requests {
		t.Errorf("statuses %v count %d answers, want %d", res.Statuses, counted, res.Requests)
	}
	if want2xx && res.Non2xx != 0 {
		t.Errorf("non-2xx = %d, want 0", res.Non2xx)
	}
	if !want2xx && res.Non2xx != scheduled {
		t.Errorf("non-2xx = %d, want all %d", res.Non2xx, scheduled)
	}
	if res.Conns != conns || res.Dials != int64(conns) {
		t.Errorf("conns %d, dials %d; want %d of each", res.Conns, res.Dials, conns)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || res.RPS <= 0 {
		t.Errorf("latencies or rate out of order: %+v", res)
	}
}

func TestOpenPollsOverDistinctConnections(t *testing.T) {
	srv, cc := newCountedGateway(t, 1, 10, func(c *config.Config) { c.AdmitPerSecond = 0 })
	issued, err := rush.Tokens(context.Background(), rush.TokensOptions{BaseURL: srv.URL, Users: 40, Concurrency: 8, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := cc.counts()
	const conns, rate = 200, 400
	cc.startCounting(conns)
	res, err := rush.Open(context.Background(), rush.OpenOptions{
		BaseURL: srv.URL, Route: rush.OpenPoll, Conns: conns, Rate: rate, Duration: 1500 * time.Millisecond,
		Timeout: 10 * time.Second, Label: "poll", Tokens: issued,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, res, 600, conns, true)
	if res.Label != "poll" || res.OfferedRate != rate {
		t.Errorf("label %q, offered rate %v", res.Label, res.OfferedRate)
	}
	// Every connection was a new one to the server, and all were open at
	// once: the load came from conns phones, not a pool of a few.
	accepted, mostOpen := cc.counts()
	if got := accepted - before; got != conns {
		t.Errorf("server accepted %d connections during the run, want %d", got, conns)
	}
	if mostOpen < conns {
		t.Errorf("at most %d connections open at once, want %d", mostOpen, conns)
	}
	// Each connection sends three times in all: none may close after its
	// last while the others still send. (Most requests come after the
	// server has accepted every connection: the run waits a second for it.)
	fewest, counted := cc.fewestOpen()
	if counted < 300 {
		t.Errorf("only %d of 600 requests came once all %d connections were open", counted, conns)
	}
	if fewest < conns {
		t.Errorf("as few as %d connections open at a request, want all %d throughout", fewest, conns)
	}
}

func TestOpenIssuesATokenPerRequest(t *testing.T) {
	srv, _ := newCountedGateway(t, 1, 10, func(c *config.Config) { c.AdmitPerSecond = 0 })
	const conns = 100
	res, err := rush.Open(context.Background(), rush.OpenOptions{
		BaseURL: srv.URL, Route: rush.OpenTokens, Conns: conns, Rate: 300, Duration: time.Second,
		Timeout: 10 * time.Second, UserPrefix: "open-tokens-", ConcertID: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, res, 300, conns, true)
	if got, want := waiting(t, srv.URL), int64(300); got != want {
		t.Errorf("waiting = %d, want %d (a new user per request)", got, want)
	}
}

func TestOpenHoldsDistinctSeatsFromItsOffset(t *testing.T) {
	const dates, seats, users = 2, 50, 25 // 100 seats, 4 holds per user
	srv, _ := newCountedGateway(t, dates, seats, func(c *config.Config) {
		c.AdmitPerSecond = 1000
		c.MaxActive = 10000
		c.MaxHoldsPerUser = 4
	})
	issued, err := rush.Tokens(context.Background(), rush.TokensOptions{BaseURL: srv.URL, Users: users, Concurrency: 8, WaitActive: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for i := range dates {
		days = append(days, time.Now().AddDate(0, 0, 1+i).Format(time.DateOnly))
	}
	hold := func(offset int) rush.OpenResult {
		t.Helper()
		res, err := rush.Open(context.Background(), rush.OpenOptions{
			BaseURL: srv.URL, Route: rush.OpenHold, Conns: 20, Rate: 100, Duration: 500 * time.Millisecond,
			Timeout: 10 * time.Second, Tokens: issued, Dates: days, Seats: seats, HoldsPerUser: 4, Offset: offset,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Holds 0–49 take the first date, then the same range again finds every
	// seat taken, then 50–99 take the second date: each request its own seat.
	checkRun(t, hold(0), 50, 20, true)
	again := hold(0)
	checkRun(t, again, 50, 20, false)
	if again.Statuses[http.StatusConflict] != 50 {
		t.Errorf("statuses of the same holds again: %v, want 50 × 409", again.Statuses)
	}
	checkRun(t, hold(50), 50, 20, true)
}

func TestOpenRefusesWhatItCannotRun(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    rush.OpenOptions
		want error
	}{
		{"unknown route", rush.OpenOptions{BaseURL: "http://127.0.0.1:1", Route: "pay", Conns: 1, Rate: 1, Duration: time.Second, Timeout: time.Second}, rush.ErrOpenOptions},
		{"poll without tokens", rush.OpenOptions{BaseURL: "http://127.0.0.1:1", Route: rush.OpenPoll, Conns: 1, Rate: 1, Duration: time.Second, Timeout: time.Second}, rush.ErrOpenOptions},
		{"https", rush.OpenOptions{BaseURL: "https://127.0.0.1:1", Route: rush.OpenTokens, Conns: 1, Rate: 1, Duration: time.Second, Timeout: time.Second}, rush.ErrOpenOptions},
		{"a gateway that does not answer", rush.OpenOptions{BaseURL: "http://127.0.0.1:1", Route: rush.OpenTokens, Conns: 2, Rate: 1, Duration: time.Second, Timeout: time.Second}, rush.ErrGatewayDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := rush.Open(context.Background(), tc.o); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// A late answer counts as a timeout and still counts, with its latency:
// the connection waits for it rather than adding a new one to the load.
func TestOpenCountsLateAnswersAsTimeoutsOnTheSameConnection(t *testing.T) {
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(150 * time.Millisecond)
		w.WriteHeader(http.StatusCreated)
	}))
	srv.Config.ConnState = cc.track
	srv.Start()
	defer srv.Close()
	res, err := rush.Open(context.Background(), rush.OpenOptions{
		BaseURL: srv.URL, Route: rush.OpenTokens, Conns: 4, Rate: 20, Duration: time.Second,
		Timeout: 50 * time.Millisecond, UserPrefix: "late-",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Requests != 20 || res.Timeouts != 20 || res.Non2xx != 0 || res.Statuses[http.StatusCreated] != 20 {
		t.Errorf("answered %d, timeouts %d, non-2xx %d; want 20, 20, 0", res.Requests, res.Timeouts, res.Non2xx)
	}
	if res.P50 < 150 {
		t.Errorf("p50 %.1f ms, want at least the server's 150 ms", res.P50)
	}
	if accepted, _ := cc.counts(); accepted != 4 || res.Dials != 4 {
		t.Errorf("server accepted %d connections, %d dials; want 4 of each", accepted, res.Dials)
	}
}

// Warm: each connection sends one GET /healthz before the clock starts, all
// of them before the first scheduled request, and it is not counted.
func TestOpenWarmsEveryConnectionBeforeTheClock(t *testing.T) {
	var mu sync.Mutex
	warmed := map[string]int{}
	var scheduledBeforeWarm, warmAfterScheduled bool
	scheduled := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.URL.Path == "/healthz" {
			warmed[r.RemoteAddr]++
			warmAfterScheduled = warmAfterScheduled || scheduled > 0
		} else {
			scheduled++
			scheduledBeforeWarm = scheduledBeforeWarm || warmed[r.RemoteAddr] == 0
		}
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	const conns = 50
	res, err := rush.Open(context.Background(), rush.OpenOptions{
		BaseURL: srv.URL, Route: rush.OpenPoll, Conns: conns, Rate: 100, Duration: time.Second,
		Timeout: 10 * time.Second, Settle: 10 * time.Millisecond, Warm: true,
		Tokens: []rush.Issued{{Token: "t", UserID: "u"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, res, 100, conns, true)
	mu.Lock()
	defer mu.Unlock()
	if len(warmed) != conns {
		t.Errorf("%d connections warmed, want %d", len(warmed), conns)
	}
	for addr, n := range warmed {
		if n != 1 {
			t.Errorf("connection %s warmed %d times", addr, n)
		}
	}
	if scheduledBeforeWarm || warmAfterScheduled {
		t.Errorf("a scheduled request came before its connection's warm-up (%v) or a warm-up after one (%v)", scheduledBeforeWarm, warmAfterScheduled)
	}
	if scheduled != 100 || res.Requests != 100 {
		t.Errorf("server saw %d scheduled requests, result counts %d: want 100, warm-ups not counted", scheduled, res.Requests)
	}
}
