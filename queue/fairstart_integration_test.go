package queue_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/draw"
	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
)

// skewedReplicas are n replicas of one gateway on the real Redis whose
// clocks disagree by skew each (the first is behind, the last ahead).
func skewedReplicas(rdb redis.UniversalClient, keys keyspace.Space, n int, skew time.Duration, s queue.Settings, tune func(*queue.Config)) ([]*queue.Queue, []*testenv.Clock) {
	var qs []*queue.Queue
	var clocks []*testenv.Clock
	for i := 0; i < n; i++ {
		clk := testenv.NewClock(start.Add(time.Duration(i-n/2) * skew))
		cfg := queue.Config{TokenTTL: 2 * time.Hour, Defaults: s, Now: clk.Now, AbandonAfter: 30 * time.Second}
		if tune != nil {
			tune(&cfg)
		}
		qs = append(qs, queue.New(rdb, keys, queue.NewSigner([]byte("shared-secret")), cfg))
		clocks = append(clocks, clk)
	}
	return qs, clocks
}

func advance(clocks []*testenv.Clock, d time.Duration) {
	for _, c := range clocks {
		c.Add(d)
	}
}

// concurrently runs fn(i) for i in [0, n) on workers goroutines and fails on
// the first error.
func concurrently(t *testing.T, n, workers int, fn func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestRacePrequeueOfSkewedReplicasIsPlacedOnceInDrawOrder(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	ctx := context.Background()
	qs, clocks := skewedReplicas(rdb, keys, 3, 2*time.Second, queue.Settings{AdmitPerSecond: 0, MaxActive: 100000, ActiveTTL: time.Hour},
		func(c *queue.Config) { c.PlaceBatch = 97 })
	opens := start.Add(5 * time.Second)
	if _, err := qs[0].Schedule(ctx, 1, &opens); err != nil {
		t.Fatal(err)
	}
	const pre, post = 600, 150
	tickets := make([]queue.Ticket, pre+post)
	concurrently(t, pre, 16, func(i int) error {
		tk, err := qs[i%3].Enter(ctx, 1, fmt.Sprintf("pre%d", i))
		if err == nil && tk.Status != queue.StatusPrequeue {
			err = fmt.Errorf("pre%d entered as %s before any replica opened", i, tk.Status)
		}
		tickets[i] = tk
		return err
	})
	advance(clocks, 4*time.Second) // the last replica is past opens_at, the others not yet
	// Every replica runs admission steps while the late crowd enters.
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, q := range qs {
		wg.Add(1)
		go func(q *queue.Queue) {
			defer wg.Done()
			for !stop.Load() {
				if _, err := q.Admit(ctx, 1); err != nil {
					t.Error(err)
					return
				}
			}
		}(q)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if d, err := qs[1].Draw(ctx, 1, 0, 1); err == nil && d.Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pre-queue was not placed within 30 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	concurrently(t, post, 16, func(i int) error {
		tk, err := qs[i%3].Enter(ctx, 1, fmt.Sprintf("post%d", i))
		if err == nil && tk.Status != queue.StatusWaiting {
			err = fmt.Errorf("post%d entered as %s after the open", i, tk.Status)
		}
		tickets[pre+i] = tk
		return err
	})
	advance(clocks, 2*time.Second)
	stop.Store(true)
	wg.Wait()

	k := keys.Concert(1)
	line, err := rdb.ZRangeWithScores(ctx, k.Waiting(), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(line) != pre+post {
		t.Fatalf("%d in line, want %d: the pre-queue was placed more or less than once", len(line), pre+post)
	}
	if n, _ := rdb.LLen(ctx, k.DrawOrder()).Result(); n != pre {
		t.Errorf("draw order holds %d users, want %d", n, pre)
	}
	d, err := qs[2].Draw(ctx, 1, 0, queue.MaxDrawPage)
	if err != nil {
		t.Fatal(err)
	}
	seed, err := draw.Verify(draw.Published{Commitment: d.Commitment, Seed: d.Seed, KeysDigest: d.KeysDigest, Entrants: d.Entrants, Keys: d.Keys})
	if err != nil {
		t.Fatal(err)
	}
	keyer := draw.NewKeyer(seed)
	for i, z := range line[:pre] {
		if got, want := keyer.Key(z.Member.(string)), d.Keys[i]; got != want {
			t.Fatalf("place %d of the line holds key %s, the draw says %s", i+1, got, want)
		}
	}
	var lateOrder []string
	for _, z := range line[pre:] {
		lateOrder = append(lateOrder, z.Member.(string))
	}
	var wantLate []string
	byseq := slices.Clone(tickets[pre:])
	slices.SortFunc(byseq, func(a, b queue.Ticket) int { return int(a.Claims.Seq - b.Claims.Seq) })
	for _, tk := range byseq {
		wantLate = append(wantLate, tk.Claims.UserID)
	}
	if !slices.Equal(lateOrder, wantLate) {
		t.Errorf("later arrivals are not behind the pre-queue in arrival order")
	}
	// Every replica answers the same place for a pre-queue token.
	for _, i := range []int{0, pre / 2, pre - 1} {
		var places []int64
		for _, q := range qs {
			places = append(places, mustPoll(t, q, tickets[i]).QueuePosition)
		}
		if places[0] != places[1] || places[1] != places[2] {
			t.Errorf("replicas place pre%d at %v", i, places)
		}
	}
}

func TestRaceHeartbeatsThroughManyReplicasSkipOnlyTheSilent(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	ctx := context.Background()
	qs, clocks := skewedReplicas(rdb, keys, 3, time.Second, queue.Settings{AdmitPerSecond: 0, MaxActive: 100000, ActiveTTL: time.Hour}, nil)
	const n = 600
	tickets := make([]queue.Ticket, n)
	concurrently(t, n, 16, func(i int) error {
		tk, err := qs[i%3].Enter(ctx, 1, fmt.Sprintf("hb%d", i))
		tickets[i] = tk
		return err
	})
	silent := func(i int) bool { return i%10 < 3 } // 30% leave
	for round := 0; round < 8; round++ {           // 40 s, a poll every 5 s through any replica
		advance(clocks, 5*time.Second)
		concurrently(t, n, 16, func(i int) error {
			if silent(i) {
				return nil
			}
			_, err := qs[rand.IntN(3)].Position(ctx, tickets[i].Claims)
			return err
		})
		for _, q := range qs {
			if err := q.FlushHeartbeats(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	rate := 200.0
	if _, err := qs[0].UpdateSettings(ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	// Admission from all replicas at once, step by step; record who became
	// active after each round of steps, until the line is empty: silent
	// tokens behind the last live one are skipped only when admission
	// reaches them, which may be a step after that live one's.
	admittedAt := map[string]int{}
	for round := 0; round < 200; round++ {
		if len(admittedAt) >= n*7/10 {
			st, err := qs[0].Status(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if st.Waiting == 0 {
				break
			}
		}
		advance(clocks, 100*time.Millisecond)
		concurrently(t, 3, 3, func(i int) error { _, err := qs[i].Admit(ctx, 1); return err })
		members, err := rdb.HGetAll(ctx, keys.Concert(1).ActiveUsers()).Result()
		if err != nil {
			t.Fatal(err)
		}
		for u := range members {
			if _, ok := admittedAt[u]; !ok {
				admittedAt[u] = round
			}
		}
	}
	byseq := make([]int, n)
	for i := range byseq {
		byseq[i] = i
	}
	slices.SortFunc(byseq, func(a, b int) int { return int(tickets[a].Claims.Seq - tickets[b].Claims.Seq) })
	last := -1
	for _, i := range byseq {
		tk := tickets[i]
		r, ok := admittedAt[tk.Claims.UserID]
		switch {
		case silent(i) && ok:
			t.Errorf("silent %s was admitted", tk.Claims.UserID)
		case !silent(i) && !ok:
			t.Errorf("live %s was never admitted", tk.Claims.UserID)
		case ok && r < last:
			t.Errorf("FIFO broken among live tokens: %s (seq %d) admitted in round %d, after round %d", tk.Claims.UserID, tk.Claims.Seq, r, last)
		case ok:
			last = r
		}
	}
	st, err := qs[1].Status(ctx, 1)
	if err != nil || st.SkippedTotal != n*3/10 {
		t.Errorf("skipped_inactive_total = %d (%v), want %d", st.SkippedTotal, err, n*3/10)
	}
}

func TestRaceSoldOutStopsEveryEntryAndEveryPoll(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	ctx := context.Background()
	stock := &stockStub{}
	stock.set(queue.Stock{Free: 10})
	qs, clocks := skewedReplicas(rdb, keys, 3, time.Second, queue.Settings{AdmitPerSecond: 5, MaxActive: 100000, ActiveTTL: time.Hour},
		func(c *queue.Config) { c.Stock = stock.get })
	const n = 400
	tickets := make([]queue.Ticket, n)
	concurrently(t, n, 16, func(i int) error {
		tk, err := qs[i%3].Enter(ctx, 1, fmt.Sprintf("so%d", i))
		tickets[i] = tk
		return err
	})
	stock.set(queue.Stock{SoldOut: true})
	// Sell-out declared by whichever replica steps first, while others
	// still let people in and answer polls.
	var entered, refused atomic.Int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for r := 0; r < 3; r++ {
			advance(clocks, time.Second)
			concurrently(t, 3, 3, func(i int) error { _, err := qs[i].Admit(ctx, 1); return err })
		}
	}()
	go func() {
		defer wg.Done()
		concurrently(t, 200, 8, func(i int) error {
			_, err := qs[i%3].Enter(ctx, 1, fmt.Sprintf("racer%d", i))
			switch {
			case err == nil:
				entered.Add(1)
			case err == queue.ErrSoldOut:
				refused.Add(1)
			default:
				return err
			}
			return nil
		})
	}()
	wg.Wait()
	advance(clocks, time.Second)
	concurrently(t, 3, 3, func(i int) error { _, err := qs[i].Admit(ctx, 1); return err })
	for _, q := range qs {
		if _, err := q.Enter(ctx, 1, "after"); err != queue.ErrSoldOut {
			t.Errorf("entry after the sell-out: %v, want ErrSoldOut", err)
		}
	}
	concurrently(t, n, 16, func(i int) error {
		p, err := qs[rand.IntN(3)].Position(ctx, tickets[i].Claims)
		if err == nil && p.Status != queue.StatusSoldOut {
			err = fmt.Errorf("%s polls %s after the sell-out", tickets[i].Claims.UserID, p.Status)
		}
		return err
	})
	if w, _ := rdb.ZCard(ctx, keys.Concert(1).Waiting()).Result(); w != 0 {
		t.Errorf("%d tokens still waiting after the sell-out, want 0 (released)", w)
	}
	t.Logf("during the sell-out %d entries got in, %d were refused", entered.Load(), refused.Load())
}
