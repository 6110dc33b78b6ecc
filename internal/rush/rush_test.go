package rush_test

import (
	"bytes"
	"context"
	"encoding/json"
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
		// Nobody leaves in this run, and every user is admitted before the
		// last seat sells (the sold-out ones learn it from a reservation, not
		// from the line), so these two rules have nothing to judge here.
		if inv.Name == rush.CheckSilent || inv.Name == rush.CheckUnsold {
			continue
		}
		if inv.Checked == 0 {
			t.Errorf("invariant %s judged nothing", inv.Name)
		}
	}
	if rep.Admission.Admitted != users || rep.Admission.AdminSamples == 0 {
		t.Errorf("admission = %+v", rep.Admission)
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
		c.AbandonAfter = time.Second
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
		Prequeue: prequeue, Abandon: 0.3, Return: 0.1, ReturnAfter: 2 * time.Second,
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
