package rush_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/config"
	"github.com/rushgate/rushgate/internal/gatewaytest"
	"github.com/rushgate/rushgate/internal/rush"
)

const adminToken = "admin-token-for-rush-tests"

// newGateway serves a whole replica on the real Redis (own key prefix) and
// Postgres (own database), with concert 1 seeded and admission running.
func newGateway(t *testing.T, dates, seats int, change func(*config.Config)) *httptest.Server {
	t.Helper()
	return newGatewayWith(t, dates, seats, change, nil)
}

// newGatewayWith is newGateway that also hands the replica to use before it
// serves.
func newGatewayWith(t *testing.T, dates, seats int, change func(*config.Config), use func(*gatewaytest.Replica)) *httptest.Server {
	t.Helper()
	r := gatewaytest.New(t, dates, seats, 10000, func(c *config.Config) {
		c.AdminToken = adminToken
		// These rushes judge the invariants, not latency: on a CI machine
		// running other packages under -race, a payment can wait past the
		// production 3s Postgres deadline and answer 503, which the run
		// counts as an error. The outage tests judge the deadlines.
		c.DBTimeout = 20 * time.Second
		c.RedisTimeout = 5 * time.Second
		if change != nil {
			change(c)
		}
	})
	if use != nil {
		use(r)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r.Handler)
	t.Cleanup(func() {
		srv.Close()
		r.StopAdmitting()
	})
	return srv
}

func TestRushKeepsEveryInvariant(t *testing.T) {
	// The line stays rate-bound for about 3s: several of the once-a-second
	// admin readings from which the admission rate is measured.
	const users, dates, seats, rate = 300, 2, 100, 100
	srv := newGateway(t, dates, seats, func(c *config.Config) {
		c.AdmitPerSecond = rate
		c.MaxActive = 10000
	})
	var progress bytes.Buffer
	rep, err := rush.Run(context.Background(), rush.Options{
		BaseURL: srv.URL, Users: users, Duration: 90 * time.Second, Concurrency: 32,
		AdminToken: adminToken, PollScale: 0.1, SeatsOffered: dates * seats, ReplayFraction: 0.2,
		Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Log("\n" + text.String())

	if rep.Violations != 0 {
		t.Errorf("violations = %d, want 0", rep.Violations)
	}
	if got, want := rep.SeatsSold, dates*seats; got != want {
		t.Errorf("seats sold = %d, want %d (more users than seats: all sell)", got, want)
	}
	if got, want := rep.Outcomes[rush.OutcomeBought], dates*seats; got != want {
		t.Errorf("users who bought = %d, want %d", got, want)
	}
	if got, want := rep.Outcomes[rush.OutcomeBought]+rep.Outcomes[rush.OutcomeSoldOut], users; got != want {
		t.Errorf("bought + sold out = %d, want %d; outcomes %v, failures %v", got, want, rep.Outcomes, rep.Failures)
	}
	if rep.Incomplete(0) {
		t.Errorf("incomplete: outcomes %v, error rate %v", rep.Outcomes, rep.ErrorRate)
	}
	for _, inv := range rep.Invariants {
		// Nobody leaves in this run: the share of silent admissions has
		// nothing to judge.
		if inv.Name == rush.CheckSilent {
			continue
		}
		if inv.Checked == 0 {
			t.Errorf("invariant %s judged nothing", inv.Name)
		}
	}
	// Every buyer was admitted; those still waiting when no seat was free
	// any more need not be (admission pauses then, and the line closes at
	// the sell-out: the unsold_while_waiting rule judges that it did not
	// close early). How many get in before the seats run out depends on how
	// fast the first buyers hold: on an idle machine fewer than on a busy one.
	if rep.Admission.Admitted < rep.SeatsSold || rep.Admission.Admitted > users || rep.Admission.AdminSamples == 0 {
		t.Errorf("admission = %+v, want between the %d buyers and the %d users admitted, and admin readings", rep.Admission, rep.SeatsSold, users)
	}
	if rep.Admission.MeasuredRate <= 0 || rep.Admission.ConfiguredRate != rate {
		t.Errorf("admission rate: configured %v measured %v (%s)", rep.Admission.ConfiguredRate, rep.Admission.MeasuredRate, rep.Admission.RateNote)
	}
	if !strings.Contains(progress.String(), "waiting") {
		t.Errorf("no progress line: %q", progress.String())
	}
	raw, err := json.Marshal(rep)
	if err != nil || !bytes.Contains(raw, []byte(`"violations":0`)) {
		t.Errorf("JSON report: %s %v", raw, err)
	}
}

func TestTokensWaitsForAdmission(t *testing.T) {
	srv := newGateway(t, 1, 10, func(c *config.Config) { c.AdmitPerSecond = 1000 })
	got, err := rush.Tokens(context.Background(), rush.TokensOptions{BaseURL: srv.URL, Users: 50, Concurrency: 8, WaitActive: true, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, tk := range got {
		if tk.Token == "" || tk.TokenID == 0 || seen[tk.TokenID] {
			t.Fatalf("bad or repeated token %+v", tk)
		}
		seen[tk.TokenID] = true
	}
}

func TestRushWithAPrequeueLeaversAndReturners(t *testing.T) {
	const users, prequeue, seats = 400, 100, 1000
	var open func(time.Time)
	srv := newGatewayWith(t, 1, seats, func(c *config.Config) {
		c.AdmitPerSecond = 100
		c.MaxActive = 10000
		// Long enough that a live user whose polls a loaded machine delays
		// is never skipped (it would then be let in out of line, by design),
		// short enough that leavers are skipped while the line drains.
		c.AbandonAfter = 3 * time.Second
	}, func(r *gatewaytest.Replica) {
		open = func(at time.Time) {
			if _, err := r.Queue.Schedule(context.Background(), 1, &at); err != nil {
				t.Fatal(err)
			}
		}
	})
	open(time.Now().Add(3 * time.Second))
	rep, err := rush.Run(context.Background(), rush.Options{
		BaseURL: srv.URL, Users: users, Duration: 90 * time.Second, Concurrency: 32, ArrivalRate: 200,
		AdminToken: adminToken, PollScale: 0.1, PollCap: 300 * time.Millisecond, SeatsOffered: seats,
		Prequeue: prequeue, Abandon: 0.3, Return: 0.1, ReturnAfter: 4 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Log("\n" + text.String())
	// A line this short drains within the abandon window, so the share of
	// silent admissions is only reported here; every other rule must hold.
	for _, inv := range rep.Invariants {
		if inv.Name != rush.CheckSilent && !inv.OK() {
			t.Errorf("%s broken: %v", inv.Name, inv.Examples)
		}
	}
	if !strings.HasPrefix(rep.DrawNote, "draw verified") {
		t.Errorf("draw: %s", rep.DrawNote)
	}
	// Every abandoner here is reached within three poll intervals of its
	// last poll, so admission may rightly still let it in: skipping is
	// proven by the queue's tests, this run proves the simulator's roles.
	if rep.Outcomes[rush.OutcomeAbandoned] == 0 {
		t.Errorf("outcomes %v: nobody left", rep.Outcomes)
	}
	for _, inv := range rep.Invariants {
		if inv.Name == rush.CheckSilent && inv.Checked == 0 {
			t.Errorf("silent admissions not judged")
		}
	}
}

// Admitted users who hold a seat and walk away: admission pauses while every
// unsold seat is held, resumes as each hold lapses, and the seat goes to
// someone still waiting, until every seat is sold and the rest are told so.
func TestRushSellsEverySeatThatAHolderAbandoned(t *testing.T) {
	const users, seats = 150, 30
	srv := newGateway(t, 1, seats, func(c *config.Config) {
		c.AdmitPerSecond = 10
		c.MaxActive = 10000
		c.HoldTTL = 2 * time.Second
	})
	// The rush reads the line once a second; a full house can last less
	// than that, so the test also watches it closely while the rush runs.
	watched := make(chan bool, 1)
	stop := make(chan struct{})
	go func() { watched <- watchFullHouse(srv.URL, stop) }()
	rep, err := rush.Run(context.Background(), rush.Options{
		BaseURL: srv.URL, Users: users, Duration: 120 * time.Second, Concurrency: 32,
		AdminToken: adminToken, PollScale: 0.1, PollCap: 300 * time.Millisecond, SeatsOffered: seats,
		HoldAndLeave: 0.3,
	})
	close(stop)
	sawFullHouse := <-watched
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	rep.WriteText(&text)
	t.Log("\n" + text.String())
	for _, inv := range rep.Invariants {
		if !inv.OK() {
			t.Errorf("%s broken: %v", inv.Name, inv.Examples)
		}
	}
	var unsold rush.Invariant
	for _, inv := range rep.Invariants {
		if inv.Name == rush.CheckUnsold {
			unsold = inv
		}
	}
	if unsold.Checked == 0 {
		t.Errorf("%s judged nothing", rush.CheckUnsold)
	}
	if rep.SeatsSold != seats || rep.Outcomes[rush.OutcomeBought] != seats {
		t.Errorf("sold %d seats to %d buyers, want all %d: outcomes %v, failures %v", rep.SeatsSold, rep.Outcomes[rush.OutcomeBought], seats, rep.Outcomes, rep.Failures)
	}
	if rep.Outcomes[rush.OutcomeHeldLeft] == 0 {
		t.Errorf("outcomes %v: no holder walked away", rep.Outcomes)
	}
	// The line paused on a full house at least once: a reading with people
	// waiting and no seat free.
	t.Logf("full house seen by the close watch: %v", sawFullHouse)
	paused := sawFullHouse
	for _, s := range rep.Record.Line {
		if s.Waiting > 0 && s.FreeSeats == 0 && s.State == "open" {
			paused = true
		}
	}
	if !paused {
		t.Errorf("admission never paused on a full house: the run did not exercise the rule")
	}
	if rep.Outcomes[rush.OutcomeSoldOut] == 0 {
		t.Errorf("outcomes %v: nobody learned that the concert sold out", rep.Outcomes)
	}
}

// watchFullHouse reads GET /admin/queue every 20 ms until stop and reports
// whether a reading had people waiting, no seat free and the line open.
func watchFullHouse(base string, stop <-chan struct{}) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return false
		case <-tick.C:
		}
		req, err := http.NewRequest(http.MethodGet, base+"/admin/queue?concert_id=1", nil)
		if err != nil {
			return false
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue
		}
		var q struct {
			Waiting   int64  `json:"waiting"`
			FreeSeats *int64 `json:"free_seats"`
			State     string `json:"state"`
		}
		err = json.NewDecoder(resp.Body).Decode(&q)
		resp.Body.Close()
		if err == nil && q.Waiting > 0 && q.FreeSeats != nil && *q.FreeSeats == 0 && q.State == "open" {
			return true
		}
	}
}
