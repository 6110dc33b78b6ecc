package queue_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/draw"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
)

// stockStub is a concert's stock that a test changes as it goes.
type stockStub struct {
	mu sync.Mutex
	s  queue.Stock
}

func (st *stockStub) set(s queue.Stock) { st.mu.Lock(); st.s = s; st.mu.Unlock() }
func (st *stockStub) get(context.Context, int64) (queue.Stock, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.s, nil
}

// replica is one gateway's queue on a shared miniredis, with its own clock.
func onMiniredis(t *testing.T, mr *miniredis.Miniredis, clk *testenv.Clock, s queue.Settings, tune func(*queue.Config)) *queue.Queue {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	cfg := queue.Config{TokenTTL: 2 * time.Hour, Defaults: s, Now: clk.Now, AbandonAfter: 30 * time.Second}
	if tune != nil {
		tune(&cfg)
	}
	return queue.New(rdb, keyspace.New(""), queue.NewSigner([]byte("test-secret")), cfg)
}

var start = time.Date(2030, 5, 1, 10, 0, 0, 0, time.UTC)

func mustAdmit(t *testing.T, q *queue.Queue) queue.Admission {
	t.Helper()
	a, err := q.Admit(context.Background(), 1)
	if err != nil {
		t.Fatalf("Admit: %v", err)
	}
	return a
}

func mustEnter(t *testing.T, q *queue.Queue, user string) queue.Ticket {
	t.Helper()
	tk, err := q.Enter(context.Background(), 1, user)
	if err != nil {
		t.Fatalf("Enter(%s): %v", user, err)
	}
	return tk
}

func mustPoll(t *testing.T, q *queue.Queue, tk queue.Ticket) queue.Position {
	t.Helper()
	p, err := q.Position(context.Background(), tk.Claims)
	if err != nil {
		t.Fatalf("Position(%s): %v", tk.Claims.UserID, err)
	}
	return p
}

// admissionOrder admits one token a step until every ticket is active or
// the steps run out, and returns the users in the order they became active.
func admissionOrder(t *testing.T, q *queue.Queue, clk *testenv.Clock, tickets []queue.Ticket, steps int) []string {
	t.Helper()
	var order []string
	seen := map[string]bool{}
	for i := 0; i < steps && len(order) < len(tickets); i++ {
		clk.Add(100 * time.Millisecond)
		mustAdmit(t, q)
		for _, tk := range tickets {
			if seen[tk.Claims.UserID] {
				continue
			}
			if _, err := q.Admitted(context.Background(), tk.Claims); err == nil {
				seen[tk.Claims.UserID] = true
				order = append(order, tk.Claims.UserID)
			}
		}
	}
	return order
}

func TestPrequeueIsPlacedInDrawOrderAheadOfLaterArrivals(t *testing.T) {
	for _, batch := range []int{7, 5000} {
		t.Run(fmt.Sprintf("PlaceBatch%d", batch), func(t *testing.T) {
			mr := miniredis.RunT(t)
			clk := testenv.NewClock(start)
			q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 10, MaxActive: 1000, ActiveTTL: time.Hour},
				func(c *queue.Config) { c.PlaceBatch = batch; c.AbandonAfter = 24 * time.Hour })
			ctx := context.Background()
			opens := start.Add(10 * time.Second)
			sch, err := q.Schedule(ctx, 1, &opens)
			if err != nil {
				t.Fatal(err)
			}
			mustAdmit(t, q)
			var pre []queue.Ticket
			var users []string
			for i := 0; i < 30; i++ {
				tk := mustEnter(t, q, fmt.Sprintf("fan%02d", i))
				if tk.Status != queue.StatusPrequeue || tk.Position != 0 || !tk.OpensAt.Equal(opens) {
					t.Fatalf("entry before the open = %+v, want prequeue, no place, opens_at %v", tk, opens)
				}
				pre = append(pre, tk)
				users = append(users, tk.Claims.UserID)
			}
			p := mustPoll(t, q, pre[3])
			if p.Status != queue.StatusPrequeue || !p.OpensAt.Equal(opens) || p.PollAfter < 9*time.Second || p.PollAfter > 11*time.Second {
				t.Errorf("pre-queue poll = %+v, want prequeue with a poll_after near the open (10s)", p)
			}
			d, err := q.Draw(ctx, 1, 0, 100)
			if err != nil || d.Done || d.Seed != "" || d.Entrants != 30 || d.Commitment != sch.Commitment {
				t.Fatalf("draw before the open = %+v, %v; want the commitment and 30 entrants, no seed", d, err)
			}

			clk.Add(10 * time.Second)
			late := mustEnter(t, q, "late") // the open has not been cut yet: still the pre-queue
			if late.Status != queue.StatusPrequeue {
				t.Fatalf("entry before the first admission step at the open: %s, want prequeue", late.Status)
			}
			pre, users = append(pre, late), append(users, "late")
			mustAdmit(t, q) // cuts the open and places the pre-queue
			after := mustEnter(t, q, "after")
			if after.Status != queue.StatusWaiting || after.Position != 32 {
				t.Fatalf("entry after the open = %+v, want waiting at 32", after)
			}

			d, err = q.Draw(ctx, 1, 0, 100)
			if err != nil || !d.Done {
				t.Fatalf("draw after the open = %+v, %v", d, err)
			}
			seed, err := draw.Verify(draw.Published{Commitment: d.Commitment, Seed: d.Seed, KeysDigest: d.KeysDigest, Entrants: d.Entrants, Keys: d.Keys})
			if err != nil {
				t.Fatalf("published draw does not verify: %v", err)
			}
			var want []string
			for _, e := range draw.Order(seed, users) {
				want = append(want, e.UserID)
			}
			want = append(want, "after")
			got := admissionOrder(t, q, clk, append(pre, after), 200)
			if !slices.Equal(got, want) {
				t.Errorf("admission order\n got %v\nwant %v (draw order, then later arrivals)", got, want)
			}
		})
	}
}

func TestPrequeuePollsAfterTheOpenShowThePlaceFromTheDraw(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Hour}, nil)
	opens := start.Add(time.Second)
	if _, err := q.Schedule(context.Background(), 1, &opens); err != nil {
		t.Fatal(err)
	}
	var tickets []queue.Ticket
	var users []string
	for i := 0; i < 20; i++ {
		tk := mustEnter(t, q, fmt.Sprintf("u%d", i))
		tickets, users = append(tickets, tk), append(users, tk.Claims.UserID)
	}
	clk.Add(time.Second)
	mustAdmit(t, q)
	d, err := q.Draw(context.Background(), 1, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := hex.DecodeString(d.Seed)
	for place, e := range draw.Order(seed, users) {
		for _, tk := range tickets {
			if tk.Claims.UserID != e.UserID {
				continue
			}
			p := mustPoll(t, q, tk)
			if p.Status != queue.StatusWaiting || p.QueuePosition != int64(place+1) {
				t.Errorf("%s polls %s at %d, want waiting at %d (its draw place)", e.UserID, p.Status, p.QueuePosition, place+1)
			}
		}
	}
}

func TestReplicasWithSkewedClocksAgreeOnThePrequeue(t *testing.T) {
	mr := miniredis.RunT(t)
	behind := testenv.NewClock(start)
	ahead := testenv.NewClock(start.Add(5 * time.Second))
	settings := queue.Settings{AdmitPerSecond: 100, MaxActive: 1000, ActiveTTL: time.Hour}
	slow := onMiniredis(t, mr, behind, settings, nil)
	fast := onMiniredis(t, mr, ahead, settings, nil)
	opens := start.Add(3 * time.Second)
	if _, err := slow.Schedule(context.Background(), 1, &opens); err != nil {
		t.Fatal(err)
	}
	early := mustEnter(t, fast, "early") // the fast clock is past opens_at already, but nobody has opened
	mustAdmit(t, slow)                   // before opens_at by its clock: nothing happens
	if got := mustEnter(t, slow, "second"); got.Status != queue.StatusPrequeue {
		t.Fatalf("entry before any replica opened: %s, want prequeue", got.Status)
	}
	mustAdmit(t, fast) // past opens_at by its clock: the open is cut here
	lateSlow := mustEnter(t, slow, "late-slow")
	if early.Status != queue.StatusPrequeue || lateSlow.Status != queue.StatusWaiting {
		t.Errorf("statuses: early %s (want prequeue), late through the slow replica %s (want waiting)", early.Status, lateSlow.Status)
	}
	mustAdmit(t, slow)
	for _, q := range []*queue.Queue{slow, fast} {
		if p := mustPoll(t, q, lateSlow); p.Status != queue.StatusWaiting || p.QueuePosition < 3 {
			t.Errorf("a replica places the late arrival at %+v, want behind both pre-queue entrants", p)
		}
	}
}

func TestScheduleCannotChangeOnceTheSaleIsOpen(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	q := onMiniredis(t, mr, clk, fast, nil)
	ctx := context.Background()
	opens := start.Add(time.Minute)
	first, err := q.Schedule(ctx, 1, &opens)
	if err != nil {
		t.Fatal(err)
	}
	later := opens.Add(time.Hour)
	moved, err := q.Schedule(ctx, 1, &later)
	if err != nil || moved.Commitment != first.Commitment || !moved.OpensAt.Equal(later) {
		t.Errorf("moving the open = %+v, %v; want the same commitment at %v", moved, err, later)
	}
	clk.Add(2 * time.Hour)
	mustAdmit(t, q)
	if _, err := q.Schedule(ctx, 1, &later); !errors.Is(err, queue.ErrSaleOpen) {
		t.Errorf("schedule after the open: %v, want ErrSaleOpen", err)
	}
	unscheduled := onMiniredis(t, mr, clk, fast, nil)
	if _, err := unscheduled.Enter(ctx, 2, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := unscheduled.Schedule(ctx, 2, &later); !errors.Is(err, queue.ErrSaleOpen) {
		t.Errorf("schedule of a line people joined: %v, want ErrSaleOpen", err)
	}
	if _, err := q.Draw(ctx, 2, 0, 10); !errors.Is(err, queue.ErrNoDraw) {
		t.Errorf("draw of an unscheduled concert: %v, want ErrNoDraw", err)
	}
}

// poll polls as a live client does: answered, then flushed by the loop.
func poll(t *testing.T, q *queue.Queue, tk queue.Ticket) queue.Position {
	t.Helper()
	p := mustPoll(t, q, tk)
	if err := q.FlushHeartbeats(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSilentTokensAreSkippedAndLiveOnesKeepTheirOrder(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Hour}, nil)
	var tickets []queue.Ticket
	for i := 0; i < 10; i++ {
		tickets = append(tickets, mustEnter(t, q, fmt.Sprintf("w%d", i)))
	}
	silent := map[int]bool{0: true, 4: true, 7: true}
	for s := 0; s < 8; s++ { // 40 s: the live ones poll every 5 s
		clk.Add(5 * time.Second)
		for i, tk := range tickets {
			if !silent[i] {
				poll(t, q, tk)
			}
		}
	}
	rate := 10.0
	if _, err := q.UpdateSettings(context.Background(), 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	mustAdmit(t, q)
	var live []queue.Ticket
	var want []string
	for i, tk := range tickets {
		if !silent[i] {
			live, want = append(live, tk), append(want, tk.Claims.UserID)
		}
	}
	if got := admissionOrder(t, q, clk, tickets, 40); !slices.Equal(got, want) {
		t.Errorf("admitted %v, want only the live ones in arrival order %v", got, want)
	}
	a := mustAdmit(t, q)
	if a.SkippedTotal != 3 || a.AdmittedTotal != 7 {
		t.Errorf("skipped %d admitted %d, want 3 and 7", a.SkippedTotal, a.AdmittedTotal)
	}
	st, err := q.Status(context.Background(), 1)
	if err != nil || st.SkippedTotal != 3 {
		t.Errorf("status skipped_inactive_total = %d (%v), want 3", st.SkippedTotal, err)
	}
	_ = live
}

func TestThreePollIntervalsCountWhenLongerThanAbandonAfter(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 1, MaxActive: 1000, ActiveTTL: time.Hour}, nil)
	for i := 0; i < 300; i++ {
		mustEnter(t, q, fmt.Sprintf("ahead%d", i))
	}
	back := mustEnter(t, q, "back")
	mustAdmit(t, q)
	if p := poll(t, q, back); p.PollAfter != 30*time.Second {
		t.Fatalf("poll at 301 at 1/s told to wait %v, want 30s", p.PollAfter)
	}
	clk.Add(60 * time.Second) // silent 60 s: over ABANDON_AFTER, within 3 × 30 s
	rate := 1000.0
	if _, err := q.UpdateSettings(context.Background(), 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	mustAdmit(t, q)
	clk.Add(time.Second)
	a := mustAdmit(t, q)
	if _, err := q.Admitted(context.Background(), back.Claims); err != nil {
		t.Errorf("back, silent 60 s after being told to wait 30 s: %v, want admitted", err)
	}
	if a.SkippedTotal != 300 {
		t.Errorf("skipped %d, want the 300 who never polled", a.SkippedTotal)
	}
}

func TestASkippedTokenThatComesBackWithinTheGraceGoesFirst(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 0, MaxActive: 1000, ActiveTTL: time.Hour},
		func(c *queue.Config) { c.RejoinGrace = 10 * time.Minute })
	gone := mustEnter(t, q, "gone")
	late := mustEnter(t, q, "forgetful")
	var others []queue.Ticket
	for i := 0; i < 5; i++ {
		others = append(others, mustEnter(t, q, fmt.Sprintf("o%d", i)))
	}
	clk.Add(time.Minute)
	for _, tk := range others {
		poll(t, q, tk)
	}
	rate := 1.0
	if _, err := q.UpdateSettings(context.Background(), 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	mustAdmit(t, q)
	clk.Add(time.Second)
	mustAdmit(t, q) // skips gone and forgetful, admits o0
	if _, err := q.Admitted(context.Background(), others[0].Claims); err != nil {
		t.Fatalf("o0: %v, want admitted after the two silent ones were skipped", err)
	}
	clk.Add(5 * time.Minute)
	p := poll(t, q, late)
	if p.Status != queue.StatusWaiting || p.QueuePosition != 1 {
		t.Errorf("skipped token polling within the grace = %+v, want waiting at 1", p)
	}
	clk.Add(time.Second)
	mustAdmit(t, q)
	if _, err := q.Admitted(context.Background(), late.Claims); err != nil {
		t.Errorf("returned token: %v, want admitted ahead of the line", err)
	}
	if _, err := q.Admitted(context.Background(), others[1].Claims); err == nil {
		t.Errorf("o1 admitted in the step that had room for one: the returner should have gone first")
	}
	clk.Add(6 * time.Minute) // gone's skip is now 11 minutes old
	mustAdmit(t, q)
	if _, err := q.Position(context.Background(), gone.Claims); !errors.Is(err, queue.ErrTokenExpired) {
		t.Errorf("skipped token polling after the grace: %v, want ErrTokenExpired", err)
	}
}

func TestAdmissionPausesWhileNoSeatIsFreeAndResumesWhenOneIs(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	stock := &stockStub{}
	stock.set(queue.Stock{Free: 0})
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 10, MaxActive: 1000, ActiveTTL: time.Hour},
		func(c *queue.Config) { c.Stock = stock.get; c.AbandonAfter = 24 * time.Hour })
	for i := 0; i < 5; i++ {
		mustEnter(t, q, fmt.Sprintf("s%d", i))
	}
	for i := 0; i < 10; i++ {
		clk.Add(time.Second)
		if a := mustAdmit(t, q); a.Admitted != 0 || a.State != queue.StateOpen || a.FreeSeats != 0 {
			t.Fatalf("with no seat free: %+v, want nobody admitted, state open", a)
		}
	}
	stock.set(queue.Stock{Free: 1})
	clk.Add(100 * time.Millisecond)
	if a := mustAdmit(t, q); a.Admitted != 1 {
		t.Errorf("a hold lapsed: admitted %d, want 1 (no credit saved during the pause)", a.Admitted)
	}
	st, err := q.Status(context.Background(), 1)
	if err != nil || st.FreeSeats != 1 || st.State != queue.StateOpen {
		t.Errorf("status = %+v, %v; want free_seats 1, state open", st, err)
	}
}

func TestSoldOutReleasesTheLine(t *testing.T) {
	mr := miniredis.RunT(t)
	clk := testenv.NewClock(start)
	stock := &stockStub{}
	stock.set(queue.Stock{Free: 3})
	q := onMiniredis(t, mr, clk, queue.Settings{AdmitPerSecond: 1, MaxActive: 1000, ActiveTTL: time.Hour},
		func(c *queue.Config) { c.Stock = stock.get; c.Batch = 2 })
	var tickets []queue.Ticket
	for i := 0; i < 5; i++ {
		tickets = append(tickets, mustEnter(t, q, fmt.Sprintf("s%d", i)))
	}
	mustAdmit(t, q)
	clk.Add(time.Second)
	mustAdmit(t, q)
	stock.set(queue.Stock{Free: 0, SoldOut: true})
	for i := 0; i < 3; i++ { // batch 2: the line of 4 goes in two steps
		clk.Add(time.Second)
		if a := mustAdmit(t, q); a.State != queue.StateSoldOut || a.Admitted != 0 {
			t.Fatalf("sold out step = %+v", a)
		}
	}
	for _, tk := range tickets {
		if p := mustPoll(t, q, tk); p.Status != queue.StatusSoldOut || p.PollAfter != 0 {
			t.Errorf("%s polls %+v, want sold_out without a poll interval", tk.Claims.UserID, p)
		}
	}
	if _, err := q.Enter(context.Background(), 1, "newcomer"); !errors.Is(err, queue.ErrSoldOut) {
		t.Errorf("entry after the sell-out: %v, want ErrSoldOut", err)
	}
	st, err := q.Status(context.Background(), 1)
	if err != nil || st.State != queue.StateSoldOut || st.Waiting != 0 {
		t.Errorf("status = %+v, %v; want sold_out with nobody waiting", st, err)
	}
	if _, err := q.Admitted(context.Background(), tickets[4].Claims); !errors.Is(err, queue.ErrTokenExpired) {
		t.Errorf("a released waiting token at the gate: %v, want ErrTokenExpired", err)
	}
}
