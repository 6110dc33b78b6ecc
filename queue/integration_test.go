package queue_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rushgate/rushgate/internal/testenv"
	"github.com/rushgate/rushgate/keyspace"
	"github.com/rushgate/rushgate/queue"
)

// replica is one gateway's Queue on the real Redis, sharing keys with others.
func replica(rdb redis.UniversalClient, keys keyspace.Space, s queue.Settings) *queue.Queue {
	return queue.New(rdb, keys, queue.NewSigner([]byte("shared-secret")), queue.Config{TokenTTL: 2 * time.Hour, Defaults: s})
}

func TestThousandConcurrentEntriesGetPositionsOneToThousand(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	q := replica(rdb, keys, queue.Settings{AdmitPerSecond: 100, MaxActive: 1000, ActiveTTL: time.Minute})
	const n = 1000
	positions := make([]int64, n)
	seqs := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			tk, err := q.Enter(context.Background(), 1, fmt.Sprintf("user%d", i))
			if err != nil {
				errs <- err
				return
			}
			positions[i], seqs[i] = tk.Position, tk.Claims.Seq
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Slice(positions, func(i, j int) bool { return positions[i] < positions[j] })
	for i, p := range positions {
		if p != int64(i+1) {
			t.Fatalf("sorted positions[%d] = %d, want %d (gap or repeat)", i, p, i+1)
		}
	}
	// The place in line is the arrival sequence: position == seq on a fresh line.
	for i := range seqs {
		if got := seqs[i]; got < 1 || got > n {
			t.Fatalf("seq %d out of range", got)
		}
	}
}

func TestFiftyConcurrentEntriesOfOneUserGetOneToken(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	q := replica(rdb, keys, queue.Settings{AdmitPerSecond: 100, MaxActive: 1000, ActiveTTL: time.Minute})
	const n = 50
	tokens := make([]queue.Ticket, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tk, err := q.Enter(context.Background(), 1, "same-user")
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tk
		}(i)
	}
	wg.Wait()
	created := 0
	for _, tk := range tokens {
		if tk.Created {
			created++
		}
		if tk.Token != tokens[0].Token {
			t.Fatalf("two tokens for one user: %d and %d", tk.Claims.Seq, tokens[0].Claims.Seq)
		}
	}
	if created != 1 {
		t.Errorf("created %d tokens, want 1", created)
	}
	if n, _ := rdb.ZCard(context.Background(), keys.Concert(1).Waiting()).Result(); n != 1 {
		t.Errorf("waiting = %d, want 1", n)
	}
}

// threeReplicas runs three admission loops (as three gateway replicas) for d.
func threeReplicas(t *testing.T, rdb redis.UniversalClient, keys keyspace.Space, s queue.Settings, d time.Duration) []*queue.Queue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	reps := []*queue.Queue{replica(rdb, keys, s), replica(rdb, keys, s), replica(rdb, keys, s)}
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Add(1)
		go func(r *queue.Queue) {
			defer wg.Done()
			r.Run(ctx, 50*time.Millisecond, func() []int64 { return []int64{1} }, func(_ int64, err error) { t.Error(err) })
		}(r)
	}
	wg.Wait()
	return reps
}

func TestThreeReplicasAdmitAtTheRateAndInOrder(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	s := queue.Settings{AdmitPerSecond: 200, MaxActive: 100_000, ActiveTTL: time.Minute}
	q := replica(rdb, keys, s)
	ctx := context.Background()
	for i := 0; i < 1500; i++ {
		if _, err := q.Enter(ctx, 1, fmt.Sprintf("u%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	threeReplicas(t, rdb, keys, s, 3*time.Second)
	st, err := q.Status(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if st.AdmittedTotal < 540 || st.AdmittedTotal > 660 {
		t.Errorf("admitted %d in 3s at 200/s across three replicas, want 600 ± 10%%", st.AdmittedTotal)
	}
	// Exactly the first ones in line: the active seqs are 1..admitted.
	members, err := rdb.ZRange(ctx, keys.Concert(1).Active(), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]int, 0, len(members))
	for _, m := range members {
		seq, _, _ := strings.Cut(m, ":")
		n, _ := strconv.Atoi(seq)
		seqs = append(seqs, n)
	}
	sort.Ints(seqs)
	if int64(len(seqs)) != st.AdmittedTotal {
		t.Fatalf("%d active, %d admitted", len(seqs), st.AdmittedTotal)
	}
	for i, seq := range seqs {
		if seq != i+1 {
			t.Fatalf("admitted seq %d at rank %d: not the first in line", seq, i+1)
		}
	}
}

func TestPausedLineAdmitsNobodyAcrossReplicas(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	s := queue.Settings{AdmitPerSecond: 500, MaxActive: 1000, ActiveTTL: time.Minute}
	q := replica(rdb, keys, s)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		q.Enter(ctx, 1, fmt.Sprintf("u%d", i))
	}
	paused := true
	if _, err := q.UpdateSettings(ctx, 1, queue.SettingsPatch{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	threeReplicas(t, rdb, keys, s, time.Second)
	st, _ := q.Status(ctx, 1)
	if st.AdmittedTotal != 0 || st.Waiting != 100 {
		t.Errorf("paused line: admitted %d, waiting %d; want 0 and 100", st.AdmittedTotal, st.Waiting)
	}
}

func TestSettingsChangeReachesEveryReplicaWithinASecond(t *testing.T) {
	rdb, keys := testenv.Redis(t)
	// max_active 0: nobody is admitted, so estimates come from the set rate.
	s := queue.Settings{AdmitPerSecond: 10, MaxActive: 0, ActiveTTL: time.Minute}
	reps := []*queue.Queue{replica(rdb, keys, s), replica(rdb, keys, s), replica(rdb, keys, s)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var last queue.Ticket
	for i := 0; i < 1000; i++ {
		var err error
		if last, err = reps[0].Enter(ctx, 1, fmt.Sprintf("u%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range reps {
		wg.Add(1)
		go func(r *queue.Queue) {
			defer wg.Done()
			r.Run(ctx, 50*time.Millisecond, func() []int64 { return []int64{1} }, nil)
		}(r)
	}
	estimate := func(r *queue.Queue) time.Duration {
		p, err := r.Position(ctx, last.Claims)
		if err != nil || p.EstimatedWait == nil {
			t.Fatalf("poll: %+v, %v", p, err)
		}
		return *p.EstimatedWait
	}
	for i, r := range reps {
		if got, want := estimate(r), 100*time.Second; got != want { // 999 ahead at 10/s
			t.Fatalf("replica %d estimate = %v before the change, want %v", i, got, want)
		}
	}
	rate := 999.0
	if _, err := reps[0].UpdateSettings(ctx, 1, queue.SettingsPatch{AdmitPerSecond: &rate}); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	for i, r := range reps {
		for estimate(r) != time.Second {
			if time.Since(changed) > time.Second {
				t.Fatalf("replica %d did not apply the new rate within 1s", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
