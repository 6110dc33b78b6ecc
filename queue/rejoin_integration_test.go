package queue_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/queue"
)

// A user whom admission skipped as silent may come back in two ways at once:
// the old tab polls its token, and a reload enters the line again. Whatever
// the order, and through whichever replicas, the user is admitted once.
func TestRaceSkippedUserWhoPollsAndEntersAgainIsAdmittedOnce(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	ctx := context.Background()
	qs, clocks := skewedReplicas(rdb, keys, 3, time.Second,
		queue.Settings{AdmitPerSecond: 0, MaxActive: 100000, ActiveTTL: time.Hour}, nil)
	const n = 300
	tickets := make([]queue.Ticket, n)
	concurrently(t, n, 16, func(i int) error {
		tk, err := qs[i%3].Enter(ctx, 1, fmt.Sprintf("back%d", i))
		tickets[i] = tk
		return err
	})
	// Everybody goes silent for longer than ABANDON_AFTER, then admission
	// reaches the whole line and skips it.
	advance(clocks, time.Minute)
	rate := 100000.0
	if _, err := qs[0].UpdateSettings(ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 3; r++ {
		advance(clocks, 100*time.Millisecond)
		concurrently(t, 3, 3, func(i int) error { _, err := qs[i].Admit(ctx, 1); return err })
	}
	if st, err := qs[0].Status(ctx, 1); err != nil || st.SkippedTotal != n || st.AdmittedTotal != 0 {
		t.Fatalf("status after the silence = %+v, %v; want all %d skipped, none admitted", st, err, n)
	}

	// Each user comes back: the old token polls and the user enters again,
	// in a random order, through random replicas, while every replica
	// flushes heartbeats and admits.
	stop := make(chan struct{})
	loops := make(chan error, 3)
	for i := range qs {
		go func(q *queue.Queue) {
			for {
				select {
				case <-stop:
					loops <- nil
					return
				default:
				}
				if err := q.FlushHeartbeats(ctx); err != nil {
					loops <- err
					return
				}
				if _, err := q.Admit(ctx, 1); err != nil {
					loops <- err
					return
				}
			}
		}(qs[i])
	}
	again := make([]queue.Ticket, n)
	concurrently(t, n, 16, func(i int) error {
		poll := func() error {
			r := rand.IntN(3)
			_, err := qs[r].Position(ctx, tickets[i].Claims)
			if err != nil {
				k := keys.Concert(1)
				m := fmt.Sprintf("%d:%s", tickets[i].Claims.Seq, tickets[i].Claims.UserID)
				a, _ := rdb.ZScore(ctx, k.Active(), m).Result()
				s, _ := rdb.ZScore(ctx, k.Skipped(), m).Result()
				j, _ := rdb.ZScore(ctx, k.Rejoined(), m).Result()
				u, _ := rdb.HGet(ctx, k.SkippedUsers(), tickets[i].Claims.UserID).Result()
				err = fmt.Errorf("poll via %d at %v: %w (active %v skipped %v rejoined %v index %q)", r, clocks[r].Now(), err, a, s, j, u)
			}
			return err
		}
		enter := func() error {
			tk, err := qs[rand.IntN(3)].Enter(ctx, 1, tickets[i].Claims.UserID)
			again[i] = tk
			return err
		}
		steps := []func() error{poll, enter}
		if rand.IntN(2) == 0 {
			steps[0], steps[1] = enter, poll
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return fmt.Errorf("%s: %w", tickets[i].Claims.UserID, err)
			}
		}
		return nil
	})
	// Let admission settle: flush the last heartbeats, then step a while.
	time.Sleep(200 * time.Millisecond)
	close(stop)
	for range qs {
		if err := <-loops; err != nil {
			t.Fatal(err)
		}
	}
	for r := 0; r < 5; r++ {
		advance(clocks, 100*time.Millisecond)
		for _, q := range qs {
			if err := q.FlushHeartbeats(ctx); err != nil {
				t.Fatal(err)
			}
		}
		concurrently(t, 3, 3, func(i int) error { _, err := qs[i].Admit(ctx, 1); return err })
	}

	members, err := rdb.ZRange(ctx, keys.Concert(1).Active(), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slots := map[string]int{}
	for _, m := range members {
		slots[m[strings.IndexByte(m, ':')+1:]]++
	}
	for _, tk := range tickets {
		if c := slots[tk.Claims.UserID]; c != 1 {
			t.Errorf("%s holds %d active slots, want exactly 1", tk.Claims.UserID, c)
		}
	}
	st, err := qs[0].Status(ctx, 1)
	if err != nil || st.AdmittedTotal != n || st.Active != n || st.Waiting != 0 {
		t.Errorf("status = %+v, %v; want %d admitted and active, none waiting", st, err, n)
	}
	// The user's two tokens are one: the entry returned the skipped token.
	for i, tk := range again {
		if tk.Claims.Seq != tickets[i].Claims.Seq {
			t.Errorf("%s entered again within the grace and got seq %d, want its token (seq %d) back",
				tk.Claims.UserID, tk.Claims.Seq, tickets[i].Claims.Seq)
			break
		}
	}
}
